/**
 * The MAE decoder (an ordinary ANN transformer, discarded after pre-training):
 * Linear from the encoder width, a shared learnable mask token at every masked
 * position, fixed 2-D sin-cos position embeddings on all tokens, pre-norm
 * blocks (LayerNorm, softmax multi-head attention, GELU MLP), a final
 * LayerNorm and a Linear to the patch pixels. Initialised as MAE does
 * (xavier-uniform Linear weights, zero biases, mask token N(0, 0.02)).
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { Rng } from "../../tensor/random.js";
import { Tensor, type DType } from "../../tensor/tensor.js";
import { softmax } from "../../ops/activation.js";
import { add, gelu, mul } from "../../ops/elementwise.js";
import { linear } from "../../ops/linear.js";
import { matmul } from "../../ops/matmul.js";
import { concat, expand, gather, indices, permute, reshape, slice, transpose } from "../../ops/shape.js";
import { Module, ModuleList } from "../../nn/module.js";
import { Linear } from "../../nn/layers.js";
import { LayerNorm } from "../../nn/norm.js";
import { constant_, normal_, uniform_ } from "../../nn/init.js";
import { restoreIndices, type GridMask } from "./masking.js";

/**
 * MAE's get_2d_sincos_pos_embed for a gridH x gridW grid (no class token):
 * `[N * dim]`, token n = h * gridW + w. The first dim/2 values encode the
 * column w, the second dim/2 the row h (MAE's meshgrid order); each half is
 * [sin(pos * omega_i), cos(pos * omega_i)], omega_i = 10000^(-i / (dim/4)).
 */
export function sincosPosEmbed2d(dim: number, gridH: number, gridW: number): Float64Array {
  if (!Number.isInteger(dim) || dim < 4 || dim % 4 !== 0) fail("sincosPosEmbed2d", `dim must be a positive multiple of 4, got ${dim}`);
  const q = dim / 4;
  const out = new Float64Array(gridH * gridW * dim);
  for (let h = 0; h < gridH; h++) {
    for (let w = 0; w < gridW; w++) {
      const o = (h * gridW + w) * dim;
      for (let i = 0; i < q; i++) {
        const omega = 1 / Math.pow(10000, i / q);
        out[o + i] = Math.sin(w * omega);
        out[o + q + i] = Math.cos(w * omega);
        out[o + 2 * q + i] = Math.sin(h * omega);
        out[o + 3 * q + i] = Math.cos(h * omega);
      }
    }
  }
  return out;
}

function xavierLinear(inF: number, outF: number, rng: Rng, dtype: DType, bias = true): Linear {
  const lin = new Linear(inF, outF, { rng, dtype, bias });
  const a = Math.sqrt(6 / (inF + outF));
  uniform_(lin.weight, rng, -a, a);
  if (lin.bias) constant_(lin.bias, 0);
  return lin;
}

/** Softmax multi-head self-attention with a fused qkv projection (timm's Attention). */
export class DecoderAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  /** `qkvBias` false: the qkv projection has no bias (Spikeformer's Attention). */
  constructor(readonly dim: number, readonly heads: number, rng: Rng, dtype: DType, qkvBias = true) {
    super();
    if (dim % heads !== 0) fail("DecoderAttention", `dim ${dim} is not divisible by ${heads} heads`);
    this.qkv = this.registerModule("qkv", xavierLinear(dim, 3 * dim, rng, dtype, qkvBias));
    this.proj = this.registerModule("proj", xavierLinear(dim, dim, rng, dtype));
  }

  /** x [B, N, dim] -> [B, N, dim]. */
  forward(x: Tensor): Tensor {
    const [B, N, D] = x.shape as [number, number, number];
    const h = this.heads;
    const d = D / h;
    // [B, N, 3, h, d] -> [3, B, h, N, d]
    const qkv = permute(reshape(this.qkv.forward(x), [B, N, 3, h, d]), [2, 0, 3, 1, 4]);
    const part = (i: number): Tensor => reshape(slice(qkv, 0, i, i + 1), [B, h, N, d]);
    const attn = softmax(mul(matmul(part(0), transpose(part(1), -1, -2)), 1 / Math.sqrt(d)), -1);
    const y = reshape(permute(matmul(attn, part(2)), [0, 2, 1, 3]), [B, N, D]);
    return this.proj.forward(y);
  }
}

/** fc1 - GELU - fc2. */
export class DecoderMlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(dim: number, hidden: number, rng: Rng, dtype: DType) {
    super();
    this.fc1 = this.registerModule("fc1", xavierLinear(dim, hidden, rng, dtype));
    this.fc2 = this.registerModule("fc2", xavierLinear(hidden, dim, rng, dtype));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(gelu(this.fc1.forward(x)));
  }
}

/** Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)). LayerNorm eps 1e-6 (MAE). */
export class DecoderBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: DecoderAttention;
  readonly norm2: LayerNorm;
  readonly mlp: DecoderMlp;
  constructor(dim: number, heads: number, mlpRatio: number, rng: Rng, dtype: DType = "float32") {
    super();
    this.norm1 = this.registerModule("norm1", new LayerNorm(dim, { eps: 1e-6, dtype }));
    this.attn = this.registerModule("attn", new DecoderAttention(dim, heads, rng, dtype));
    this.norm2 = this.registerModule("norm2", new LayerNorm(dim, { eps: 1e-6, dtype }));
    this.mlp = this.registerModule("mlp", new DecoderMlp(dim, Math.round(dim * mlpRatio), rng, dtype));
  }
  forward(x: Tensor): Tensor {
    x = add(x, this.attn.forward(this.norm1.forward(x)));
    return add(x, this.mlp.forward(this.norm2.forward(x)));
  }
}

/** What defines a decoder. */
export interface DecoderConfig {
  /** Encoder width (input features). */
  inDim: number;
  /** Decoder width (256 in the paper). */
  dim: number;
  /** Number of blocks (4). */
  depth: number;
  /** Attention heads (4). */
  heads: number;
  mlpRatio: number;
  gridH: number;
  gridW: number;
  /** Pixels per patch, P*P*C. */
  patchPixels: number;
  seed: number;
}

/** Defaults of the paper's decoder (4 layers, 256 dims, 4 heads, MLP ratio 4). */
export const DECODER_DEFAULTS = { dim: 256, depth: 4, heads: 4, mlpRatio: 4 } as const;

/** The MAE decoder; state-dict keys embed.*, mask_token, pos_embed (fixed), blocks.i.*, norm.*, pred.*. */
export class MAEDecoder extends Module {
  readonly config: DecoderConfig;
  readonly embed: Linear;
  readonly mask_token: Tensor;
  /** Fixed sin-cos embeddings [1, N, dim] (a parameter without gradient, as MAE stores it). */
  readonly pos_embed: Tensor;
  readonly blocks: ModuleList<DecoderBlock>;
  readonly norm: LayerNorm;
  readonly pred: Linear;

  constructor(config: DecoderConfig, dtype: DType = "float32") {
    super();
    const c = (this.config = { ...config });
    for (const k of ["inDim", "dim", "depth", "heads", "gridH", "gridW", "patchPixels"] as const) {
      if (!Number.isInteger(c[k]) || c[k] < 1) fail("MAEDecoder", `${k} must be a positive integer, got ${c[k]}`);
    }
    const rng = new Rng(c.seed);
    const N = c.gridH * c.gridW;
    this.embed = this.registerModule("embed", xavierLinear(c.inDim, c.dim, rng, dtype));
    this.mask_token = this.registerParameter("mask_token", normal_(Tensor.zeros([1, 1, c.dim], dtype), rng, 0, 0.02));
    const pe = Tensor.zeros([1, N, c.dim], dtype);
    pe.data.set(sincosPosEmbed2d(c.dim, c.gridH, c.gridW));
    this.pos_embed = this.registerParameter("pos_embed", pe, false);
    this.blocks = this.registerModule("blocks", new ModuleList(Array.from({ length: c.depth }, () => new DecoderBlock(c.dim, c.heads, c.mlpRatio, rng, dtype))));
    this.norm = this.registerModule("norm", new LayerNorm(c.dim, { eps: 1e-6, dtype }));
    this.pred = this.registerModule("pred", xavierLinear(c.dim, c.patchPixels, rng, dtype));
  }

  /**
   * latent [B, K, inDim] (the encoder's visible tokens, ascending grid order)
   * -> predicted patches [B, N, patchPixels] for every grid position.
   */
  forward(latent: Tensor, mask: GridMask): Tensor {
    const c = this.config;
    const N = c.gridH * c.gridW;
    const [B, K] = latent.shape as [number, number];
    if (latent.rank !== 3 || latent.shape[2] !== c.inDim || mask.batch !== B || mask.height !== c.gridH || mask.width !== c.gridW) {
      fail("MAEDecoder", `latent ${fmtShape(latent.shape)} and a ${mask.batch} x ${mask.height}x${mask.width} mask do not fit the decoder (inDim ${c.inDim}, grid ${c.gridH}x${c.gridW})`);
    }
    const x = this.embed.forward(latent);
    const parts = K < N ? [x, expand(this.mask_token, [B, N - K, c.dim])] : [x];
    const seq = gather(parts.length > 1 ? concat(parts, 1) : x, 1, indices(restoreIndices(mask), [B, N]));
    let h = add(seq, this.pos_embed);
    for (const blk of this.blocks) h = blk.forward(h);
    return this.pred.forward(this.norm.forward(h));
  }
}
