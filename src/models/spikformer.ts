/**
 * Spikformer V1 (CIFAR, ImageNet, DVS) and V2 (Spiking Convolutional Stem),
 * with the official state-dict names and shapes. Activations are time-first
 * [T, B, ...]; Conv / Linear / BN run on the merged T*B batch. Every neuron
 * output stays `Spikes` and the next layer consumes it with a bit kernel
 * (see `compute.ts`); the residual stream holds small integers (sums of
 * spikes), or spikes when the IAND residual is chosen.
 */
import { inferenceScope, releaseDead, releaseUnlessShared } from "../nn/scope.js";
import { isGradEnabled } from "../autograd/tape.js";
import { fail, fmtShape } from "../tensor/errors.js";
import { Rng } from "../tensor/random.js";
import { Spikes } from "../tensor/spikes.js";
import { Tensor } from "../tensor/tensor.js";
import { mean } from "../ops/reduce.js";
import { reshape, transpose } from "../ops/shape.js";
import { linear } from "../ops/linear.js";
import { addSpikes, floatToSpikes, spikesToFloat } from "../ops/spike/cast.js";
import { iand } from "../ops/spike/iand.js";
import { attentionVariant } from "../ops/spike/attention-variants.js";
import { reshapeSpikes, splitHeads } from "../ops/spike/spike-layout.js";
import { Module, ModuleList } from "../nn/module.js";
import { Conv1d, Conv2d, Linear } from "../nn/layers.js";
import { BatchNorm1d, BatchNorm2d, LayerNorm } from "../nn/norm.js";
import { constant_, truncNormal_ } from "../nn/init.js";
import { SpikingNeuron, normFire, normFireRepeated, runningNormFire, spikformerLIF } from "../nn/neuron.js";
import { stemStages, validateConfig, type SpikformerConfig } from "./config.js";
import { SpikeCompute, type Activation } from "./compute.js";
import { headsOf, mergeHeads } from "./heads.js";

/** Linear (CIFAR) or 1x1 convolution (ImageNet, DVS, V2) under its official name; used as a token projection. */
class TokenProjection {
  readonly layer: Linear | Conv1d | Conv2d;
  constructor(owner: Module, name: string, layer: Linear | Conv1d | Conv2d) {
    this.layer = owner.registerModule(name, layer);
  }
  /** The weight as [out, in] (a view for the conv layouts). */
  weight2d(): Tensor {
    const w = this.layer.weight;
    return w.rank === 2 ? w : reshape(w, [w.shape[0]!, w.shape[1]!]);
  }
  get bias(): Tensor | null {
    return this.layer.bias;
  }
}

function projection(owner: Module, prefix: string, cfg: SpikformerConfig, inF: number, outF: number, bias: boolean, kind: "qkv" | "proj" | "mlp", rng: Rng): TokenProjection {
  if (cfg.variant === "cifar") {
    const lin = new Linear(inF, outF, { rng, bias });
    // official _init_weights: trunc-normal(0.02) Linear weights, zero biases
    truncNormal_(lin.weight, rng, 0.02);
    if (lin.bias) constant_(lin.bias, 0);
    return new TokenProjection(owner, `${prefix}_linear`, lin);
  }
  // ImageNet and V2 use Conv2d 1x1 in the MLP; every other projection is a Conv1d k=1.
  const conv = kind === "mlp" && cfg.variant !== "dvs" ? new Conv2d(inF, outF, 1, { rng, bias }) : new Conv1d(inF, outF, 1, { rng, bias });
  return new TokenProjection(owner, `${prefix}_conv`, conv);
}

/** Shared helpers of the layers: BN over merged time and batch, neurons over time. */
abstract class SpikformerPart extends Module {
  constructor(readonly compute: SpikeCompute) {
    super();
  }

  /** Linear-or-1x1 on tokens [T, B, N, C] (flattened to rows), BN1d over all rows, neuron over time (BN and neuron fused). */
  protected projectFire(name: string, x: Activation, proj: TokenProjection, bn: BatchNorm1d, lif: SpikingNeuron): Spikes {
    return this.projectFires([name], x, [proj], [bn], [lif])[0]!;
  }

  /**
   * {@link projectFire} of several projections of the same x. At inference (running statistics, no PLIF)
   * they run as one op that never writes the linears' outputs and reads x's events once for all of them.
   */
  protected projectFires(names: readonly string[], x: Activation, projs: readonly TokenProjection[], bns: readonly BatchNorm1d[], lifs: readonly SpikingNeuron[]): Spikes[] {
    return inferenceScope(() => {
      const [T, B, N, C] = x.shape as [number, number, number, number];
      const running = bns.map((bn, j) => runningNormFire(bn, lifs[j]!));
      if (running.every((r) => r !== null)) {
        const rows = x instanceof Spikes ? reshapeSpikes(x, [T * B * N, C]) : reshape(x, [T * B * N, C]);
        const layers = projs.map((p, j) => ({ weight: p.weight2d(), bias: p.bias, bn: running[j]!.bn, neuron: running[j]!.neuron }));
        return this.compute.linearNormFire(names, rows, T, layers).map((s) => reshapeSpikes(s, [T, B, N, s.shape[2]!]));
      }
      return projs.map((p, j) => {
        const y = this.project(names[j]!, x, p);
        return normFire(bns[j]!, lifs[j]!, y, [T, B, N, y.shape[1]!]);
      });
    }, this);
  }

  /** The float BN output of a projection, [T, B, N, C_out] (for the attention ablations, which read it). */
  protected projectNorm(name: string, x: Activation, proj: TokenProjection, bn: BatchNorm1d): Tensor {
    const [T, B, N] = x.shape as [number, number, number, number];
    const y = bn.forward(this.project(name, x, proj));
    return reshape(y, [T, B, N, y.shape[1]!]);
  }

  /** The linear-or-1x1 of tokens [T, B, N, C] as rows [T*B*N, C_out]. */
  private project(name: string, x: Activation, proj: TokenProjection): Tensor {
    const [T, B, N, C] = x.shape as [number, number, number, number];
    const rows = x instanceof Spikes ? reshapeSpikes(x, [T * B * N, C]) : reshape(x, [T * B * N, C]);
    return this.compute.linear(name, rows, proj.weight2d(), proj.bias);
  }

  /** conv - BN2d - neuron on spikes or floats [T*B, C, H, W] -> spikes [T, B, C', H', W'] (BN and neuron fused). */
  convFire(name: string, x: Activation, T: number, conv: Conv2d, bn: BatchNorm2d, lif: SpikingNeuron): Spikes {
    return inferenceScope(() => {
      // At inference on spikes the conv output need never be written (the BN's running statistics known).
      const running = x instanceof Spikes ? runningNormFire(bn, lif) : null;
      if (running !== null) return this.compute.convNormFire(name, x as Spikes, conv.weight, conv.stride[0], conv.padding[0], T, running.bn, running.neuron);
      const y = this.compute.conv2d(name, x, conv.weight, conv.stride[0], conv.padding[0]);
      return normFire(bn, lif, y, [T, y.shape[0]! / T, ...y.shape.slice(1)]);
    }, this);
  }
}

/** Spikes or counts [T, B, ...] merged to [T*B, ...]. */
function mergeTB(x: Activation): Activation {
  const shape = [x.shape[0]! * x.shape[1]!, ...x.shape.slice(2)];
  return x instanceof Spikes ? reshapeSpikes(x, shape) : reshape(x, shape);
}

/** The residual join: ADD gives counts (floats), IAND keeps spikes. */
function residual(kind: "add" | "iand", shortcut: Activation, branch: Spikes): Activation {
  if (kind === "iand") {
    if (!(shortcut instanceof Spikes)) fail("residual", "the IAND residual needs a spike shortcut");
    return iand(branch, shortcut);
  }
  // One pass, no float copies of the spikes (nothing for releaseDead to free here).
  return addSpikes(shortcut, branch);
}

/** Spiking Patch Splitting (V1): 4 x conv3x3-BN-LIF (D/8, D/4, D/2, D), max-pools, then the RPE conv. */
export class SPS extends SpikformerPart {
  private readonly convs: Conv2d[] = [];
  private readonly bns: BatchNorm2d[] = [];
  private readonly lifs: SpikingNeuron[] = [];
  private readonly poolAfter: boolean[];
  readonly rpe_conv: Conv2d;
  readonly rpe_bn: BatchNorm2d;
  readonly rpe_lif: SpikingNeuron;

  constructor(private readonly cfg: SpikformerConfig, compute: SpikeCompute, rng: Rng) {
    super(compute);
    const D = cfg.embedDims;
    const widths = [cfg.inChannels, D / 8, D / 4, D / 2, D];
    const stages = stemStages(cfg);
    // CIFAR pools after the last log2(patch) stages; ImageNet and DVS after all four (patch 16).
    this.poolAfter = [0, 1, 2, 3].map((i) => i >= 4 - stages);
    const sfx = ["", "1", "2", "3"];
    for (let i = 0; i < 4; i++) {
      this.convs.push(this.registerModule(`proj_conv${sfx[i]}`, new Conv2d(widths[i]!, widths[i + 1]!, 3, { rng, padding: 1, bias: false })));
      this.bns.push(this.registerModule(`proj_bn${sfx[i]}`, new BatchNorm2d(widths[i + 1]!)));
      this.lifs.push(this.registerModule(`proj_lif${sfx[i]}`, spikformerLIF()));
    }
    this.rpe_conv = this.registerModule("rpe_conv", new Conv2d(D, D, 3, { rng, padding: 1, bias: false }));
    this.rpe_bn = this.registerModule("rpe_bn", new BatchNorm2d(D));
    this.rpe_lif = this.registerModule("rpe_lif", spikformerLIF());
  }

  /** images [B, C, H, W] (repeated over T) or frames [T, B, C, H, W] -> tokens [T, B, N, D]. */
  forward(input: Tensor): Activation {
    const T = this.cfg.T;
    let s = firstConvFire(this, input, T, this.convs[0]!, this.bns[0]!, this.lifs[0]!);
    for (let i = 0; i < 4; i++) {
      if (i > 0) s = this.convFire(`patch_embed.proj_conv${i}`, mergeTB(s), T, this.convs[i]!, this.bns[i]!, this.lifs[i]!);
      if (this.poolAfter[i]) {
        const pooled = this.compute.maxPool(mergeTB(s) as Spikes, 3, 2, 1);
        s = reshapeSpikes(pooled, [T, pooled.shape[0]! / T, ...pooled.shape.slice(1)]);
      }
    }
    const rpe = this.convFire("patch_embed.rpe_conv", mergeTB(s), T, this.rpe_conv, this.rpe_bn, this.rpe_lif);
    const joined = residual(this.cfg.residual, s, rpe);
    const t = tokens(joined);
    if (joined instanceof Tensor) releaseDead(t, joined); // a float join is only transposed into tokens
    return t;
  }
}

/**
 * The first conv on real values. A static image is the same at every time
 * step, so the conv runs once on [B, ...] and its output is repeated over T
 * before BN (whose statistics then match the repeated input's exactly; at
 * inference the neuron reads the one copy at every step: normFireRepeated).
 */
function firstConvFire(part: SPS | SCS, input: Tensor, T: number, conv: Conv2d, bn: BatchNorm2d, lif: SpikingNeuron): Spikes {
  const name = part instanceof SPS ? "patch_embed.proj_conv" : "patch_embed.stages.0.down_conv";
  if (input.rank === 5) {
    if (input.shape[0] !== T) fail("Spikformer", `frames ${fmtShape(input.shape)} have T = ${input.shape[0]}, the model was built with T = ${T}`);
    return part.convFire(name, reshape(input, [T * input.shape[1]!, ...input.shape.slice(2)]), T, conv, bn, lif);
  }
  return inferenceScope(() => normFireRepeated(bn, lif, part.compute.conv2d(name, input, conv.weight, conv.stride[0], conv.padding[0]), T), part);
}

/** [T, B, D, H, W] -> tokens [T, B, H*W, D] (spikes stay spikes). */
function tokens(x: Activation): Activation {
  const [T, B, D, H, W] = x.shape as [number, number, number, number, number];
  // Merging H, W changes the packed axis, so IAND spikes take the float path and are packed again.
  if (x instanceof Spikes) return floatToSpikes(transpose(reshape(spikesToFloat(x), [T, B, D, H * W]), 2, 3));
  return transpose(reshape(x, [T, B, D, H * W]), 2, 3);
}

/** One stage of the V2 Spiking Convolutional Stem. */
class SCSStage extends SpikformerPart {
  readonly down_conv: Conv2d;
  readonly down_bn: BatchNorm2d;
  readonly down_lif: SpikingNeuron;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly lif1: SpikingNeuron;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly lif2: SpikingNeuron;

  constructor(private readonly cfg: SpikformerConfig, compute: SpikeCompute, cin: number, cout: number, rng: Rng) {
    super(compute);
    const r = cfg.mlpRatio;
    this.down_conv = this.registerModule("down_conv", new Conv2d(cin, cout, 2, { rng, stride: 2, bias: false }));
    this.down_bn = this.registerModule("down_bn", new BatchNorm2d(cout));
    this.down_lif = this.registerModule("down_lif", spikformerLIF());
    this.conv1 = this.registerModule("conv1", new Conv2d(cout, cout * r, 3, { rng, padding: 1, bias: false }));
    this.bn1 = this.registerModule("bn1", new BatchNorm2d(cout * r));
    this.lif1 = this.registerModule("lif1", spikformerLIF());
    this.conv2 = this.registerModule("conv2", new Conv2d(cout * r, cout, 3, { rng, padding: 1, bias: false }));
    this.bn2 = this.registerModule("bn2", new BatchNorm2d(cout));
    this.lif2 = this.registerModule("lif2", spikformerLIF());
  }

  /** Downsampled spikes and the conv-MLP branch joined by the residual. */
  forwardFrom(down: Spikes, prefix: string): Activation {
    const T = this.cfg.T;
    const y = this.convFire(`${prefix}.conv1`, mergeTB(down), T, this.conv1, this.bn1, this.lif1);
    const z = this.convFire(`${prefix}.conv2`, mergeTB(y), T, this.conv2, this.bn2, this.lif2);
    return residual(this.cfg.residual, down, z);
  }

  down(x: Activation, prefix: string): Spikes {
    return this.convFire(`${prefix}.down_conv`, mergeTB(x), this.cfg.T, this.down_conv, this.down_bn, this.down_lif);
  }
}

/** Spiking Convolutional Stem (V2): log2(patch) stages whose widths double up to D; no pool, no RPE. */
export class SCS extends SpikformerPart {
  readonly stages: ModuleList<SCSStage>;

  constructor(private readonly cfg: SpikformerConfig, compute: SpikeCompute, rng: Rng) {
    super(compute);
    const S = stemStages(cfg);
    const widths = Array.from({ length: S }, (_, i) => cfg.embedDims / 2 ** (S - 1 - i));
    const cins = [cfg.inChannels, ...widths.slice(0, -1)];
    this.stages = this.registerModule("stages", new ModuleList(widths.map((w, i) => new SCSStage(cfg, compute, cins[i]!, w, rng))));
  }

  forward(input: Tensor): Activation {
    const T = this.cfg.T;
    let x: Activation | null = null;
    for (let i = 0; i < this.stages.length; i++) {
      const st = this.stages.at(i);
      const prefix = `patch_embed.stages.${i}`;
      const down: Spikes = i === 0 ? firstConvFire(this, input, T, st.down_conv, st.down_bn, st.down_lif) : st.down(x!, prefix);
      x = st.forwardFrom(down, prefix);
    }
    return tokens(x!);
  }
}

/** Spiking self-attention with q/k/v projections, SSA (or an ablation map), attention LIF and output projection. */
export class SSA extends SpikformerPart {
  private readonly projs: Record<"q" | "k" | "v" | "proj", TokenProjection>;
  private readonly bns: Record<"q" | "k" | "v" | "proj", BatchNorm1d>;
  private readonly lifs: Record<"q" | "k" | "v" | "proj", SpikingNeuron>;
  readonly attn_lif: SpikingNeuron;

  constructor(private readonly cfg: SpikformerConfig, compute: SpikeCompute, private readonly prefix: string, rng: Rng) {
    super(compute);
    const D = cfg.embedDims;
    const qkvBias = cfg.variant === "cifar";
    const p = {} as Record<"q" | "k" | "v" | "proj", TokenProjection>;
    const b = {} as Record<"q" | "k" | "v" | "proj", BatchNorm1d>;
    const l = {} as Record<"q" | "k" | "v" | "proj", SpikingNeuron>;
    for (const n of ["q", "k", "v"] as const) {
      p[n] = projection(this, n, cfg, D, D, qkvBias, "qkv", rng);
      b[n] = this.registerModule(`${n}_bn`, new BatchNorm1d(D));
      l[n] = this.registerModule(`${n}_lif`, spikformerLIF());
    }
    this.attn_lif = this.registerModule("attn_lif", spikformerLIF(0.5));
    p.proj = projection(this, "proj", cfg, D, D, true, "proj", rng);
    b.proj = this.registerModule("proj_bn", new BatchNorm1d(D));
    l.proj = this.registerModule("proj_lif", spikformerLIF());
    this.projs = p;
    this.bns = b;
    this.lifs = l;
  }

  forward(x: Activation): Spikes {
    const h = this.cfg.numHeads;
    const pre = `${this.prefix}.attn`;
    const fire = (n: "q" | "k" | "v"): Spikes => this.projectFire(`${pre}.${n}`, x, this.projs[n], this.bns[n], this.lifs[n]);
    // The attention's output in the tokens' layout [T, B, N, D] (its heads merged).
    let merged: Tensor;
    if (this.cfg.attention === "ssa") {
      const qkv = ["q", "k", "v"] as const;
      const [q, k, v] = this.projectFires(qkv.map((n) => `${pre}.${n}`), x, qkv.map((n) => this.projs[n]), qkv.map((n) => this.bns[n]), qkv.map((n) => this.lifs[n])) as [Spikes, Spikes, Spikes];
      merged = this.compute.attention(`${pre}.ssa`, q, k, v, this.cfg.scale, h);
    } else {
      // Their q / k neurons' spikes are not used, so not made.
      const qf = this.projectNorm(`${pre}.q`, x, this.projs.q, this.bns.q);
      const kf = this.projectNorm(`${pre}.k`, x, this.projs.k, this.bns.k);
      const v = fire("v");
      // Table I ablation: the map is built from the float Q, K (BN outputs before the neuron), V stays spikes.
      const a = this.cfg.attention;
      const y = attentionVariant(a, headsOf(qf, h), headsOf(kf, h), splitHeads(v, h), a === "softmax" ? {} : { scale: this.cfg.scale });
      merged = mergeHeads(y);
      releaseDead(merged, y); // the permute's backward reads only its gradient
    }
    const a = this.attn_lif.forward(merged);
    if (this.attn_lif.w === null) releaseDead(a, merged); // a LIF's backward reads its saved H, not its input
    return this.projectFire(`${pre}.proj`, a, this.projs.proj, this.bns.proj, this.lifs.proj);
  }
}

/** The spiking MLP: 1x1 C -> rC - BN - LIF - 1x1 rC -> C - BN - LIF. */
export class MLP extends SpikformerPart {
  private readonly fc1: TokenProjection;
  readonly fc1_bn: BatchNorm1d;
  readonly fc1_lif: SpikingNeuron;
  private readonly fc2: TokenProjection;
  readonly fc2_bn: BatchNorm1d;
  readonly fc2_lif: SpikingNeuron;

  constructor(cfg: SpikformerConfig, compute: SpikeCompute, private readonly prefix: string, rng: Rng) {
    super(compute);
    const D = cfg.embedDims;
    const H = D * cfg.mlpRatio;
    this.fc1 = projection(this, "fc1", cfg, D, H, true, "mlp", rng);
    this.fc1_bn = this.registerModule("fc1_bn", new BatchNorm1d(H));
    this.fc1_lif = this.registerModule("fc1_lif", spikformerLIF());
    this.fc2 = projection(this, "fc2", cfg, H, D, true, "mlp", rng);
    this.fc2_bn = this.registerModule("fc2_bn", new BatchNorm1d(D));
    this.fc2_lif = this.registerModule("fc2_lif", spikformerLIF());
  }

  forward(x: Activation): Spikes {
    const h = this.projectFire(`${this.prefix}.mlp.fc1`, x, this.fc1, this.fc1_bn, this.fc1_lif);
    return this.projectFire(`${this.prefix}.mlp.fc2`, h, this.fc2, this.fc2_bn, this.fc2_lif);
  }
}

/** x = x + SSA(x); x = x + MLP(x) (or IAND joins). */
export class Block extends Module {
  readonly attn: SSA;
  readonly mlp: MLP;

  constructor(private readonly cfg: SpikformerConfig, compute: SpikeCompute, index: number, rng: Rng) {
    super();
    const prefix = `block.${index}`;
    // V1 constructs LayerNorms it never uses; they are in official checkpoints, so they are here too.
    const eps = cfg.variant === "cifar" ? 1e-5 : 1e-6;
    if (cfg.variant !== "v2") this.registerModule("norm1", new LayerNorm(cfg.embedDims, { eps }));
    this.attn = this.registerModule("attn", new SSA(cfg, compute, prefix, rng));
    if (cfg.variant !== "v2") this.registerModule("norm2", new LayerNorm(cfg.embedDims, { eps }));
    this.mlp = this.registerModule("mlp", new MLP(cfg, compute, prefix, rng));
  }

  forward(x: Activation): Activation {
    x = residual(this.cfg.residual, x, this.attn.forward(x));
    return residual(this.cfg.residual, x, this.mlp.forward(x));
  }
}

/**
 * A Spikformer classifier. `forward(images [B, C, H, W])` (or DVS frames
 * [T, B, C, H, W]) returns logits [B, classes]: stem -> blocks -> mean over
 * tokens and time -> head.
 */
export class Spikformer extends Module {
  readonly config: SpikformerConfig;
  /** Kernel choice ("bits" or "float") and the layer probe, shared by every layer. */
  readonly compute = new SpikeCompute();
  readonly patch_embed: SPS | SCS;
  readonly block: ModuleList<Block>;
  readonly head: Linear;

  constructor(config: SpikformerConfig) {
    super();
    validateConfig(config);
    this.config = { ...config };
    const rng = new Rng(config.seed);
    if (config.variant === "dvs") {
      // The official DVS model owns a position embedding it never uses; kept so checkpoints round-trip.
      const n = (config.imgSize / config.patchSize) ** 2;
      this.registerParameter("pos_embed", truncNormal_(Tensor.zeros([1, n, config.embedDims]), rng, 0.02));
    }
    this.patch_embed = this.registerModule("patch_embed", config.variant === "v2" ? new SCS(config, this.compute, rng) : new SPS(config, this.compute, rng));
    this.block = this.registerModule("block", new ModuleList(Array.from({ length: config.depths }, (_, i) => new Block(config, this.compute, i, rng))));
    if (config.variant === "dvs") this.registerModule("norm", new LayerNorm(config.embedDims, { eps: 1e-6 })); // unused, as officially
    this.head = this.registerModule("head", new Linear(config.embedDims, config.numClasses, { rng }));
    truncNormal_(this.head.weight, rng, 0.02);
    constant_(this.head.bias!, 0);
  }

  /** Token features [T, B, N, D] after the blocks. */
  forwardFeatures(input: Tensor): Activation {
    this.checkInput(input);
    let x = inferenceScope(() => this.patch_embed.forward(input), this.patch_embed);
    for (const blk of this.block) {
      const xin = x;
      x = inferenceScope(() => blk.forward(xin), blk);
      // Inference: the previous features were made here and nothing else saw them.
      if (!isGradEnabled()) releaseUnlessShared(xin, x, "released after the next block in an inference pass");
    }
    return x;
  }

  /** What the head sees: the token features averaged over time steps and tokens, [B, D]. */
  pooledFeatures(input: Tensor): Tensor {
    const x = this.forwardFeatures(input);
    return mean(x instanceof Spikes ? spikesToFloat(x) : x, [0, 2]);
  }

  forward(input: Tensor): Tensor {
    return linear(this.pooledFeatures(input), this.head.weight, this.head.bias);
  }

  /** Refuses an input of the wrong shape; `source` (a file) is named in the error when given. */
  checkInput(x: Tensor, source?: string): void {
    const c = this.config;
    const img = x.rank === 5 ? x.shape.slice(2) : x.shape.slice(1);
    const ok = (x.rank === 4 || (x.rank === 5 && x.shape[0] === c.T)) && img[0] === c.inChannels && img[1] === c.imgSize && img[2] === c.imgSize;
    if (!ok) {
      fail("Spikformer", `input ${fmtShape(x.shape)}${source ? ` from ${source}` : ""} does not fit the model: expected images [B, ${c.inChannels}, ${c.imgSize}, ${c.imgSize}] or frames [${c.T}, B, ${c.inChannels}, ${c.imgSize}, ${c.imgSize}]`);
    }
  }
}
