/**
 * Spikeformer (Li, Lei, Yang, arXiv 2211.10686; REFERENCE.md section 5):
 * a spiking Convolutional Tokenizer of SEW blocks, then transformer blocks
 * with real-valued softmax attention over time (per token) and over space
 * (per time step), and an MLP whose hidden layer is PLIF spikes; sequence
 * pooling and a linear head. State-dict keys are the public code's
 * (`model.` prefix; SpikingJelly 0.0.0.0.10's `SeqToANNContainer` is an
 * nn.Sequential, so its children are `.0`, `.1`: no `.module.` level).
 *
 * Layouts: the tokenizer runs time-first on the merged batch [T*B, C, H, W]
 * (BN statistics over T, B and space); the transformer holds x as
 * [B, N, T, E], the public code's b (n t) m token order, so a temporal
 * sequence is a reshape and a spatial one a permute.
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { Rng } from "../../tensor/random.js";
import { Spikes } from "../../tensor/spikes.js";
import { Tensor } from "../../tensor/tensor.js";
import { add } from "../../ops/elementwise.js";
import { expand, permute, reshape, transpose } from "../../ops/shape.js";
import { linear } from "../../ops/linear.js";
import { matmul } from "../../ops/matmul.js";
import { softmax } from "../../ops/activation.js";
import { avgPool2d } from "../../ops/pool.js";
import { dropPath } from "../../ops/dropout.js";
import { addSpikes, spikesToFloat } from "../../ops/spike/cast.js";
import { reshapeSpikes } from "../../ops/spike/spike-layout.js";
import { Module, ModuleList } from "../../nn/module.js";
import { Conv2d, Linear } from "../../nn/layers.js";
import { BatchNorm2d, LayerNorm } from "../../nn/norm.js";
import { constant_, kaimingNormal_, truncNormal_ } from "../../nn/init.js";
import { SpikingNeuron, normFire, spikeformerPLIF } from "../../nn/neuron.js";
import { DecoderAttention } from "../mae/decoder.js";
import { SpikeCompute, type Activation } from "../compute.js";
import { tokenGrid, tokenizerStride, tokenizerWidths, validateSpikeformerConfig, type SpikeformerConfig } from "./config.js";

/**
 * nn.Sequential, and SpikingJelly 0.0.0.0.10's SeqToANNContainer (a subclass
 * of it, as the public training logs print it): children "0", "1", ...
 */
class Seq extends Module {
  constructor(children: readonly (Module | null)[]) {
    super();
    // A stateless child (AvgPool, Dropout) still takes its index.
    children.forEach((m, i) => { if (m) this.registerModule(String(i), m); });
  }
}

/**
 * The input of a tokenizer stage: a static image batch [B, C, H, W] (the same at every step), or merged
 * steps [T*B, C, H, W]; `counts` marks a float tensor of spike counts (a SEW ADD of spikes: 0, 1, 2, or
 * more after an identity shortcut), which the next convolutions take event-driven.
 */
type StageInput = { image: Tensor } | { merged: Activation; counts?: boolean };

/** conv (no bias) - BN2d - PLIF / PLIAF, the public `conv(...)` helper: keys `0.0` (conv), `0.1` (BN), `1.w`. */
class ConvBnNeuron extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  readonly neuron: SpikingNeuron;
  constructor(private readonly cfg: SpikeformerConfig, private readonly compute: SpikeCompute, cin: number, cout: number, k: number, stride: number, rng: Rng) {
    super();
    this.conv = new Conv2d(cin, cout, k, { rng, stride, padding: Math.floor(k / 2), bias: false });
    kaimingNormal_(this.conv.weight, rng);
    this.bn = new BatchNorm2d(cout);
    this.registerModule("0", new Seq([this.conv, this.bn]));
    this.neuron = this.registerModule("1", spikeformerPLIF());
  }

  /** -> spikes (PLIF) or ReLU(H) (PLIAF), merged [T*B, C', H', W']. */
  forward(name: string, x: StageInput): Activation {
    const T = this.cfg.T;
    const { stride, padding } = { stride: this.conv.stride[0], padding: this.conv.padding[0] };
    let y: Tensor;
    if ("image" in x) {
      // The image is the same at every step: one convolution, repeated over T before BN.
      const once = this.compute.conv2d(name, x.image, this.conv.weight, stride, padding);
      y = reshape(expand(reshape(once, [1, ...once.shape]), [T, ...once.shape]), [T * once.shape[0]!, ...once.shape.slice(1)]);
    } else {
      y = this.compute.conv2d(name, x.merged, this.conv.weight, stride, padding, x.counts === true);
    }
    const steps = [T, y.shape[0]! / T, ...y.shape.slice(1)];
    const out = this.cfg.neuron === "plif" ? normFire(this.bn, this.neuron, y, steps) : this.neuron.forwardAnalog(reshape(this.bn.forward(y), steps));
    return out instanceof Spikes ? reshapeSpikes(out, y.shape) : reshape(out, y.shape);
  }
}

/** SEW block: residual = two conv-BN-neuron layers; shortcut = identity, or AvgPool(stride) + 1x1 conv-BN-neuron; ADD. */
class SEWBlock extends Module {
  readonly residual_function: Seq;
  private readonly convs: [ConvBnNeuron, ConvBnNeuron];
  private readonly short: ConvBnNeuron | null;

  constructor(cfg: SpikeformerConfig, compute: SpikeCompute, cin: number, cout: number, private readonly stride: number, rng: Rng) {
    super();
    this.convs = [new ConvBnNeuron(cfg, compute, cin, cout, cfg.kernel, stride, rng), new ConvBnNeuron(cfg, compute, cout, cout, cfg.kernel, 1, rng)];
    this.residual_function = this.registerModule("residual_function", new Seq(this.convs));
    this.short = stride !== 1 || cin !== cout ? new ConvBnNeuron(cfg, compute, cin, cout, 1, 1, rng) : null;
    // nn.Sequential() (no keys) for the identity; else [SeqToANNContainer(AvgPool) (stateless), conv-BN-neuron].
    this.registerModule("shortcut", new Seq(this.short ? [null, this.short] : []));
  }

  forward(prefix: string, x: StageInput): { merged: Activation; counts: boolean } {
    const r = this.convs[1].forward(`${prefix}.residual_function.1`, { merged: this.convs[0].forward(`${prefix}.residual_function.0`, x) });
    let s: Activation;
    if (this.short) {
      const pool = (v: Activation): Tensor => {
        const f = v instanceof Spikes ? spikesToFloat(v) : v;
        return this.stride === 1 ? f : avgPool2d(f, { kernel: this.stride, stride: this.stride });
      };
      // Counts stay counts without a pool (stride 1); an average pool makes them real values.
      const pooled: StageInput = "image" in x ? { image: pool(x.image) } : { merged: pool(x.merged), counts: this.stride === 1 && x.counts === true };
      s = this.short.forward(`${prefix}.shortcut.1`, pooled);
    } else {
      s = "image" in x ? imageSteps(x.image, r.shape[0]! / x.image.shape[0]!) : x.merged;
    }
    // Spikes + spikes (or + the block's own counts, through an identity shortcut): counts in one pass, which the
    // next block's convolutions take event-driven.
    const sCounts = s instanceof Spikes || ("merged" in x && x.counts === true && s === x.merged);
    if (r instanceof Spikes) return { merged: addSpikes(s, r), counts: sCounts };
    return { merged: add(s instanceof Spikes ? spikesToFloat(s) : s, r), counts: false };
  }
}

/** A static image batch repeated over T, merged [T*B, ...]. */
function imageSteps(image: Tensor, T: number): Tensor {
  return reshape(expand(reshape(image, [1, ...image.shape]), [T, ...image.shape]), [T * image.shape[0]!, ...image.shape.slice(1)]);
}

/** The Convolutional Tokenizer: SEW blocks; keys `conv_layers.i.*`. */
export class Tokenizer extends Module {
  readonly conv_layers: ModuleList<SEWBlock>;
  constructor(cfg: SpikeformerConfig, compute: SpikeCompute, rng: Rng) {
    super();
    const w = tokenizerWidths(cfg);
    this.conv_layers = this.registerModule("conv_layers", new ModuleList(Array.from({ length: cfg.layers }, (_, i) => new SEWBlock(cfg, compute, w[i]!, w[i + 1]!, tokenizerStride(cfg, i), rng))));
  }

  /** images [B, C, H, W] or frames [T, B, C, H, W] -> features merged [T*B, E, h, w]. */
  forward(input: Tensor, T: number): Tensor {
    let x: StageInput = input.rank === 4 ? { image: input } : { merged: reshape(input, [T * input.shape[1]!, ...input.shape.slice(2)]) };
    let i = 0;
    for (const blk of this.conv_layers) {
      x = blk.forward(`model.patch_embed.conv_layers.${i++}`, x);
    }
    const out = (x as { merged: Activation }).merged;
    return out instanceof Spikes ? spikesToFloat(out) : out;
  }
}

/** Real-valued multi-head softmax attention (the public Attention: qkv without bias, scale head_dim^-1/2, proj). */
class Attention extends DecoderAttention {
  constructor(private readonly compute: SpikeCompute, dim: number, heads: number, rng: Rng) {
    super(dim, heads, rng, "float32", false);
    truncNormal_(this.qkv.weight, rng, 0.02);
    truncNormal_(this.proj.weight, rng, 0.02);
    constant_(this.proj.bias!, 0);
  }

  /** x [S, L, E] (S sequences of L tokens) -> [S, L, E]; tells the probe its real-valued MACs (qkv, q kᵀ and a v, proj). */
  forwardNamed(name: string, x: Tensor): Tensor {
    const [S, L, E] = x.shape as [number, number, number];
    this.compute.dense(`${name}.qkv`, "linear", S * L * E, S * L * E * 3 * E);
    this.compute.dense(`${name}.softmax`, "attention", 3 * S * L * E, 2 * S * L * L * E); // per head L x L x d, twice
    this.compute.dense(`${name}.proj`, "linear", S * L * E, S * L * E * E);
    return this.forward(x);
  }
}

/** fc1 - PLIF (over T) - fc2: keys `mlp.0.0` (fc1), `mlp.1.w`, `mlp.2.0` (fc2; `.1` is a stateless Dropout). */
class Mlp extends Module {
  readonly fc1: Linear;
  readonly neuron: SpikingNeuron;
  readonly fc2: Linear;
  constructor(private readonly cfg: SpikeformerConfig, private readonly compute: SpikeCompute, dim: number, hidden: number, rng: Rng) {
    super();
    this.fc1 = truncLinear(dim, hidden, rng);
    this.neuron = spikeformerPLIF();
    this.fc2 = truncLinear(hidden, dim, rng);
    this.registerModule("mlp", new Seq([new Seq([this.fc1]), this.neuron, new Seq([this.fc2])]));
  }

  /** x [T, B, N, E] (real) -> [T, B, N, E]; the hidden layer is spikes (PLIF) or ReLU(H) (PLIAF). */
  forward(name: string, x: Tensor): Tensor {
    const h = this.compute.linear(`${name}.mlp.0`, x, this.fc1.weight, this.fc1.bias);
    const a = this.cfg.neuron === "plif" ? this.neuron.forward(h) : this.neuron.forwardAnalog(h);
    return this.compute.linear(`${name}.mlp.2`, a, this.fc2.weight, this.fc2.bias);
  }
}

/** Linear with the public `_init_weights`: trunc-normal(0.02) weight, zero bias. */
function truncLinear(inF: number, outF: number, rng: Rng): Linear {
  const lin = new Linear(inF, outF, { rng });
  truncNormal_(lin.weight, rng, 0.02);
  constant_(lin.bias!, 0);
  return lin;
}

/** [B, N, T, E] -> [B*N, T, E]: one temporal sequence per (b, n) (the public `b (h w t) m -> (b h w) t m`). */
export function temporalSequences(x: Tensor): Tensor {
  const [B, N, T, E] = x.shape as [number, number, number, number];
  return reshape(x, [B * N, T, E]);
}

/** [B, N, T, E] -> [B*T, N, E]: one spatial sequence per (b, t) (the public `b (h w t) m -> (b t) (h w) m`). */
export function spatialSequences(x: Tensor): Tensor {
  const [B, N, T, E] = x.shape as [number, number, number, number];
  return reshape(permute(x, [0, 2, 1, 3]), [B * T, N, E]);
}

/** The inverse of {@link spatialSequences}: [B*T, N, E] -> [B, N, T, E]. */
export function fromSpatialSequences(y: Tensor, B: number): Tensor {
  const [BT, N, E] = y.shape as [number, number, number];
  return permute(reshape(y, [B, BT / B, N, E]), [0, 2, 1, 3]);
}

/** [B, N, T, E] -> [T, B, N, E] (the public `b (h w t) m -> t b (h w) m`, where the MLP's neuron runs over T). */
export function timeMajor(x: Tensor): Tensor {
  return permute(x, [2, 0, 1, 3]);
}

/** The inverse of {@link timeMajor}. */
export function fromTimeMajor(y: Tensor): Tensor {
  return permute(y, [1, 2, 0, 3]);
}

/**
 * Sequence pooling of tokens x [B, L, E]: weights softmax over the L tokens
 * of x w^T + b (w [1, E], b [1]), then the weighted sum of tokens -> [B, E].
 */
export function sequencePool(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const [B, , E] = x.shape as [number, number, number];
  const w = softmax(linear(x, weight, bias), 1); // [B, L, 1]
  return reshape(matmul(transpose(w, 1, 2), x), [B, E]);
}

/** One STA block on x [B, N, T, E]: temporal attention (+ temporal_fc), spatial attention, MLP; pre-norm, each behind DropPath. */
export class STABlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly temporal_norm1: LayerNorm;
  readonly temporal_attn: Attention;
  readonly temporal_fc: Linear;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(private readonly cfg: SpikeformerConfig, private readonly compute: SpikeCompute, readonly dropPathRate: number, rng: Rng) {
    super();
    const E = cfg.embedDims;
    this.norm1 = this.registerModule("norm1", new LayerNorm(E, { eps: 1e-6 }));
    this.attn = this.registerModule("attn", new Attention(compute, E, cfg.numHeads, rng));
    this.temporal_norm1 = this.registerModule("temporal_norm1", new LayerNorm(E, { eps: 1e-6 }));
    this.temporal_attn = this.registerModule("temporal_attn", new Attention(compute, E, cfg.numHeads, rng));
    // Zero-initialised in every block (the public init loop's counter skips only the ModuleList itself).
    this.temporal_fc = this.registerModule("temporal_fc", new Linear(E, E, { rng }));
    constant_(this.temporal_fc.weight, 0);
    constant_(this.temporal_fc.bias!, 0);
    this.norm2 = this.registerModule("norm2", new LayerNorm(E, { eps: 1e-6 }));
    this.mlp = this.registerModule("mlp", new Mlp(cfg, compute, E, Math.round(E * cfg.mlpRatio), rng));
  }

  forward(x: Tensor, name: string, rng: Rng): Tensor {
    const [B, N, T, E] = x.shape as [number, number, number, number];
    const drop = (v: Tensor): Tensor => dropPath(v, this.dropPathRate, rng, this.training);
    // Temporal: one sequence of T tokens per (b, n); DropPath per sequence.
    const rt = drop(this.temporal_attn.forwardNamed(`${name}.temporal_attn`, temporalSequences(this.temporal_norm1.forward(x))));
    this.compute.dense(`${name}.temporal_fc`, "linear", B * N * T * E, B * N * T * E * E);
    const xt = add(x, this.temporal_fc.forward(reshape(rt, [B, N, T, E])));
    // Spatial: one sequence of N tokens per (b, t).
    const rs = drop(this.attn.forwardNamed(`${name}.attn`, spatialSequences(this.norm1.forward(xt))));
    const x2 = add(xt, fromSpatialSequences(rs, B));
    // MLP over [T, B, N, E] (the neuron runs over T); DropPath per time step, as the public code's layout makes it.
    const rm = drop(this.mlp.forward(name, timeMajor(this.norm2.forward(x2))));
    return add(x2, fromTimeMajor(rm));
  }
}

/** The inner `spikeformer` module of the public code (registered as `model`). */
export class SpikeformerCore extends Module {
  readonly pos_embed: Tensor;
  readonly time_embed: Tensor;
  readonly patch_embed: Tokenizer;
  readonly blocks: ModuleList<STABlock>;
  readonly norm: LayerNorm;
  readonly attention_pool: Linear;
  readonly head: Linear;
  readonly grid: number;

  constructor(private readonly cfg: SpikeformerConfig, readonly compute: SpikeCompute, rng: Rng) {
    super();
    const E = cfg.embedDims;
    this.grid = tokenGrid(cfg);
    this.pos_embed = this.registerParameter("pos_embed", Tensor.zeros([1, this.grid * this.grid, E]));
    this.time_embed = this.registerParameter("time_embed", Tensor.zeros([1, cfg.T, E]));
    this.patch_embed = this.registerModule("patch_embed", new Tokenizer(cfg, compute, rng));
    const rates = Array.from({ length: cfg.depths }, (_, i) => (cfg.depths === 1 ? 0 : (cfg.dropPathRate * i) / (cfg.depths - 1)));
    this.blocks = this.registerModule("blocks", new ModuleList(rates.map((r) => new STABlock(cfg, compute, r, rng))));
    this.norm = this.registerModule("norm", new LayerNorm(E, { eps: 1e-6 }));
    this.attention_pool = this.registerModule("attention_pool", truncLinear(E, 1, rng));
    this.head = this.registerModule("head", truncLinear(E, cfg.numClasses, rng));
    truncNormal_(this.pos_embed, rng, 0.02);
  }

  /** Tokens [B, N, T, E] after the tokenizer and the position and time embeddings. */
  embed(input: Tensor): Tensor {
    const { T, embedDims: E } = this.cfg;
    const f = this.patch_embed.forward(input, T); // [T*B, E, h, w]
    const B = f.shape[0]! / T;
    const N = f.shape[2]! * f.shape[3]!;
    const tok = permute(reshape(f, [T, B, E, N]), [1, 3, 0, 2]); // [B, N, T, E]
    return add(add(tok, reshape(this.pos_embed, [1, N, 1, E])), reshape(this.time_embed, [1, 1, T, E]));
  }

  forward(input: Tensor, rng: Rng): Tensor {
    let x = this.embed(input);
    let i = 0;
    for (const blk of this.blocks) x = blk.forward(x, `model.blocks.${i++}`, rng);
    const [B, N, T, E] = x.shape as [number, number, number, number];
    // Sequence pooling: the Linear(E, 1) scores and the weighted sum of tokens, E MACs a token each.
    this.compute.dense("model.attention_pool", "linear", B * N * T * E, 2 * B * N * T * E);
    this.compute.dense("model.head", "linear", B * E, B * E * this.cfg.numClasses);
    const pooled = sequencePool(reshape(this.norm.forward(x), [B, N * T, E]), this.attention_pool.weight, this.attention_pool.bias);
    return linear(pooled, this.head.weight, this.head.bias);
  }
}

/**
 * A Spikeformer classifier: `forward(images [B, C, H, W])` (repeated over T)
 * or event frames [T, B, C, H, W] -> logits [B, classes].
 */
export class Spikeformer extends Module {
  readonly config: SpikeformerConfig;
  /** Kernel choice and layer probe shared by every layer. */
  readonly compute = new SpikeCompute();
  readonly model: SpikeformerCore;
  /**
   * The generator DropPath draws from in training. The trainer sets one per
   * step (from seed, epoch and batch) so a resumed run draws the same; if
   * none is set, a generator seeded by the config's seed is used.
   */
  dropPathRng: Rng | null = null;
  private readonly ownRng: Rng;

  constructor(config: SpikeformerConfig) {
    super();
    validateSpikeformerConfig(config);
    this.config = { ...config, strides: Array.isArray(config.strides) ? [...config.strides] : config.strides };
    const rng = new Rng(config.seed);
    this.model = this.registerModule("model", new SpikeformerCore(this.config, this.compute, rng));
    this.ownRng = new Rng(config.seed ^ 0x6a09e667);
  }

  forward(input: Tensor): Tensor {
    this.checkInput(input);
    return this.model.forward(input, this.dropPathRng ?? this.ownRng);
  }

  /** Refuses an input of the wrong shape; `source` (a file) is named in the error when given. */
  checkInput(x: Tensor, source?: string): void {
    const c = this.config;
    const img = x.rank === 5 ? x.shape.slice(2) : x.shape.slice(1);
    const ok = (x.rank === 4 || (x.rank === 5 && x.shape[0] === c.T)) && img[0] === c.inChannels && img[1] === c.imgSize && img[2] === c.imgSize;
    if (!ok) {
      fail("Spikeformer", `input ${fmtShape(x.shape)}${source ? ` from ${source}` : ""} does not fit the model: expected images [B, ${c.inChannels}, ${c.imgSize}, ${c.imgSize}] or frames [${c.T}, B, ${c.inChannels}, ${c.imgSize}, ${c.imgSize}]`);
    }
  }
}
