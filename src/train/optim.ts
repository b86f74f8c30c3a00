/**
 * Optimizers over parameter groups, with PyTorch's update rules (SGD with
 * momentum / Nesterov / coupled weight decay, AdamW with decoupled decay and
 * bias-corrected moments). Updates write `param.data` in place, in a fixed
 * order (groups, then params in group order), so runs are deterministic.
 *
 * State is exported as JSON plus named moment buffers, so a checkpoint can keep
 * the buffers in a safetensors file and the rest in its metadata.
 */
import { checkArray, checkInt, checkNumber, checkObject, preview } from "../io/validate.js";
import { fail } from "../tensor/errors.js";
import { allocFloat, type FloatArray, type Tensor } from "../tensor/tensor.js";
import { noGrad } from "../autograd/tape.js";
import { releaseGrad } from "../nn/module.js";
import { adamwThreads } from "../kernels/optim/threads.js";

/** A set of parameters sharing a learning rate and a weight decay. */
export interface ParamGroup {
  params: Tensor[];
  /** Base learning rate; the effective rate is `lr * (lrScale ?? 1)`. */
  lr: number;
  weightDecay: number;
  /** Multiplier on the base lr (layer-wise lr decay); 1 when absent. */
  lrScale?: number;
  name?: string;
  /** Parameter names, parallel to `params` (informational, kept in the exported state). */
  paramNames?: string[];
}

/** A group as given to a constructor: lr and weight decay default to the optimizer's options. */
export type ParamGroupInput = Omit<ParamGroup, "lr" | "weightDecay"> & { lr?: number; weightDecay?: number };

/** Exported optimizer state: JSON-able scalars and named moment buffers (one per param and kind). */
export interface OptimizerState {
  json: {
    type: string;
    hyper: Record<string, number | boolean | number[]>;
    groups: { lr: number; weightDecay: number; lrScale: number; name: string | null; numParams: number; paramNames: string[] | null }[];
    /** Per parameter (flat index over groups): the step count and which buffers exist. */
    params: { step: number; buffers: string[] }[];
  };
  /** Keys `"{flatIndex}.{buffer}"`, e.g. `"3.exp_avg"`; arrays have the param's dtype. */
  tensors: Map<string, FloatArray>;
}

interface ParamState {
  step: number;
  buffers: Map<string, FloatArray>;
}

function checkHyper(op: string, name: string, v: number, lo: number, hiExclusive = Infinity): void {
  if (!Number.isFinite(v) || v < lo || v >= hiExclusive) {
    fail(op, `${name} must be a finite number in [${lo}, ${hiExclusive}), got ${v}`);
  }
}

/** Checks the structure of a stored optimizer state's JSON part (types and ranges, not yet the fit). */
function checkStateJson(op: string, json: unknown): asserts json is OptimizerState["json"] {
  const o = checkObject(op, "optimizer state", json);
  if (typeof o["type"] !== "string") fail(op, `optimizer state field type must be a string, got ${preview(o["type"])}`);
  checkArray(op, "optimizer state field groups", o["groups"]).forEach((g, i) => {
    const group = checkObject(op, `optimizer group ${i}`, g);
    checkNumber(op, `optimizer group ${i} lr`, group["lr"], { min: 0 });
    checkNumber(op, `optimizer group ${i} weightDecay`, group["weightDecay"], { min: 0 });
    checkInt(op, `optimizer group ${i} numParams`, group["numParams"], { min: 0 });
  });
  checkArray(op, "optimizer state field params", o["params"]).forEach((p, i) => {
    const param = checkObject(op, `optimizer param ${i}`, p);
    checkInt(op, `optimizer param ${i} step`, param["step"], { min: 0 });
    for (const b of checkArray(op, `optimizer param ${i} buffers`, param["buffers"])) {
      if (typeof b !== "string") fail(op, `optimizer param ${i} buffers must be names, got ${preview(b)}`);
    }
  });
}

/** The common part of SGD and AdamW: groups, per-param state, lr setting, state export. */
export abstract class Optimizer {
  readonly groups: ParamGroup[];
  protected readonly state: ParamState[];
  protected abstract readonly type: string;

  protected constructor(op: string, groups: readonly ParamGroupInput[] | readonly Tensor[], lr: number, weightDecay: number) {
    checkHyper(op, "lr", lr, 0);
    checkHyper(op, "weightDecay", weightDecay, 0);
    const list: ParamGroupInput[] =
      groups.length > 0 && !("params" in (groups[0] as object))
        ? [{ params: [...(groups as readonly Tensor[])] }]
        : [...(groups as readonly ParamGroupInput[])];
    const seen = new Set<Tensor>();
    this.groups = list.map((g, gi) => {
      const group: ParamGroup = { ...g, params: [...g.params], lr: g.lr ?? lr, weightDecay: g.weightDecay ?? weightDecay };
      checkHyper(op, `group ${gi} lr`, group.lr, 0);
      checkHyper(op, `group ${gi} weightDecay`, group.weightDecay, 0);
      if (group.lrScale !== undefined) checkHyper(op, `group ${gi} lrScale`, group.lrScale, 0);
      if (group.paramNames && group.paramNames.length !== group.params.length) {
        fail(op, `group ${gi} has ${group.params.length} params but ${group.paramNames.length} paramNames`);
      }
      for (const p of group.params) {
        if (seen.has(p)) fail(op, `a parameter appears in more than one group (group ${gi})`);
        seen.add(p);
      }
      return group;
    });
    this.state = [...seen].map(() => ({ step: 0, buffers: new Map<string, FloatArray>() }));
  }

  /** Sets every group's base lr; each group then runs at `lr * lrScale`. */
  setLr(lr: number): void {
    checkHyper(`${this.type}.setLr`, "lr", lr, 0);
    for (const g of this.groups) g.lr = lr;
  }

  /** The effective learning rate of group `i`. */
  groupLr(i: number): number {
    const g = this.groups[i];
    if (!g) fail(`${this.type}.groupLr`, `group ${i} does not exist (there are ${this.groups.length})`);
    return g.lr * (g.lrScale ?? 1);
  }

  /** Clears every parameter's gradient (sets it to null, like `set_to_none=True`) and frees its memory, as Module.zeroGrad does. */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) releaseGrad(p);
  }

  /** One update of every parameter that has a gradient, in group order. */
  step(): void {
    noGrad(() => {
      let flat = 0;
      for (const g of this.groups) {
        const lr = g.lr * (g.lrScale ?? 1);
        for (const p of g.params) {
          const st = this.state[flat++]!;
          if (p.grad === null) continue; // PyTorch skips params without grad; their step count stays
          if (p.grad.data.length !== p.data.length) {
            fail(`${this.type}.step`, `gradient has ${p.grad.data.length} elements but the parameter has ${p.data.length}`);
          }
          st.step++;
          this.update(p.data, p.grad.data, st, lr, g.weightDecay);
        }
      }
    });
  }

  /** Updates one parameter in place. */
  protected abstract update(p: FloatArray, g: FloatArray, st: ParamState, lr: number, wd: number): void;

  /** Hyper-parameters to save (and to check on load). */
  protected abstract hyper(): Record<string, number | boolean | number[]>;

  /** A buffer of the parameter's dtype and length, created zeroed on first use. */
  protected buffer(st: ParamState, name: string, like: FloatArray): { buf: FloatArray; fresh: boolean } {
    let buf = st.buffers.get(name);
    if (buf) return { buf, fresh: false };
    buf = allocFloat(like instanceof Float64Array ? "float64" : "float32", like.length);
    st.buffers.set(name, buf);
    return { buf, fresh: true };
  }

  /** The state as JSON plus moment buffers (copies). */
  stateDict(): OptimizerState {
    const tensors = new Map<string, FloatArray>();
    const params = this.state.map((st, i) => {
      const names = [...st.buffers.keys()].sort();
      for (const n of names) tensors.set(`${i}.${n}`, st.buffers.get(n)!.slice());
      return { step: st.step, buffers: names };
    });
    return {
      json: {
        type: this.type,
        hyper: this.hyper(),
        groups: this.groups.map((g) => ({
          lr: g.lr,
          weightDecay: g.weightDecay,
          lrScale: g.lrScale ?? 1,
          name: g.name ?? null,
          numParams: g.params.length,
          paramNames: g.paramNames ? [...g.paramNames] : null,
        })),
        params,
      },
      tensors,
    };
  }

  /**
   * Restores a state from {@link stateDict}. The group layout (number of groups,
   * params per group, buffer lengths) must match; group lr and weight decay are
   * restored. Hyper-parameters (momentum, betas, ...) stay those of this optimizer.
   * The JSON part is checked field by field first (it may come from a file);
   * `source` names that file in errors.
   */
  loadStateDict(state: OptimizerState, source?: string): void {
    const op = source === undefined ? `${this.type}.loadStateDict` : `${this.type}.loadStateDict(${source})`;
    const { json, tensors } = state;
    checkStateJson(op, json);
    if (json.type !== this.type) fail(op, `state is for ${json.type}, this optimizer is ${this.type}`);
    if (json.groups.length !== this.groups.length) fail(op, `state has ${json.groups.length} groups, optimizer has ${this.groups.length}`);
    json.groups.forEach((sg, i) => {
      const n = this.groups[i]!.params.length;
      if (sg.numParams !== n) fail(op, `group ${i}: state has ${sg.numParams} params, optimizer has ${n}`);
    });
    if (json.params.length !== this.state.length) fail(op, `state has ${json.params.length} params, optimizer has ${this.state.length}`);
    const lengths = this.groups.flatMap((g) => g.params.map((p) => p.data));
    const restored: ParamState[] = json.params.map((sp, i) => {
      if (!Number.isInteger(sp.step) || sp.step < 0) fail(op, `param ${i}: invalid step ${sp.step}`);
      const buffers = new Map<string, FloatArray>();
      for (const name of sp.buffers) {
        const key = `${i}.${name}`;
        const src = tensors.get(key);
        if (!src) fail(op, `missing buffer '${key}'`);
        const like = lengths[i]!;
        if (src.length !== like.length) fail(op, `buffer '${key}' has ${src.length} elements, the parameter has ${like.length}`);
        const buf = allocFloat(like instanceof Float64Array ? "float64" : "float32", like.length);
        buf.set(src);
        buffers.set(name, buf);
      }
      return { step: sp.step, buffers };
    });
    // Only mutate once everything validated.
    json.groups.forEach((sg, i) => {
      const g = this.groups[i]!;
      g.lr = sg.lr;
      g.weightDecay = sg.weightDecay;
    });
    restored.forEach((st, i) => (this.state[i] = st));
  }
}

/** Options of {@link SGD}. */
export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/**
 * Stochastic gradient descent, PyTorch's `torch.optim.SGD`:
 * d = g + wd p; buf = d (first step) or momentum buf + (1 - dampening) d;
 * d = d + momentum buf (Nesterov) or buf; p -= lr d.
 */
export class SGD extends Optimizer {
  protected readonly type = "SGD";
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;

  constructor(groups: readonly ParamGroupInput[] | readonly Tensor[], opts: SGDOptions) {
    super("SGD", groups, opts.lr, opts.weightDecay ?? 0);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    checkHyper("SGD", "momentum", this.momentum, 0);
    checkHyper("SGD", "dampening", this.dampening, 0);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      fail("SGD", `Nesterov momentum needs momentum > 0 and dampening 0, got momentum ${this.momentum}, dampening ${this.dampening}`);
    }
  }

  protected update(p: FloatArray, g: FloatArray, st: ParamState, lr: number, wd: number): void {
    const n = p.length;
    const mom = this.momentum;
    if (mom === 0) {
      for (let i = 0; i < n; i++) p[i] = p[i]! - lr * (g[i]! + wd * p[i]!);
      return;
    }
    const { buf, fresh } = this.buffer(st, "momentum_buffer", p);
    const damp = fresh ? 1 : 1 - this.dampening; // PyTorch initialises the buffer to d without dampening
    const nest = this.nesterov;
    for (let i = 0; i < n; i++) {
      const d = g[i]! + wd * p[i]!;
      const b = fresh ? d : mom * buf[i]! + damp * d;
      buf[i] = b;
      p[i] = p[i]! - lr * (nest ? d + mom * b : b);
    }
  }

  protected hyper(): Record<string, number | boolean | number[]> {
    return { momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov };
  }
}

/** Options of {@link AdamW}. */
export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  /** Default 0.01, as PyTorch. */
  weightDecay?: number;
}

/**
 * AdamW, PyTorch's `torch.optim.AdamW` (amsgrad off): p *= 1 - lr wd;
 * m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps), t counted per parameter.
 */
export class AdamW extends Optimizer {
  protected readonly type = "AdamW";
  readonly betas: [number, number];
  readonly eps: number;

  constructor(groups: readonly ParamGroupInput[] | readonly Tensor[], opts: AdamWOptions) {
    super("AdamW", groups, opts.lr, opts.weightDecay ?? 0.01);
    this.betas = [...(opts.betas ?? [0.9, 0.999])] as [number, number];
    this.eps = opts.eps ?? 1e-8;
    checkHyper("AdamW", "betas[0]", this.betas[0], 0, 1);
    checkHyper("AdamW", "betas[1]", this.betas[1], 0, 1);
    checkHyper("AdamW", "eps", this.eps, 0);
  }

  protected update(p: FloatArray, g: FloatArray, st: ParamState, lr: number, wd: number): void {
    const [b1, b2] = this.betas;
    const m = this.buffer(st, "exp_avg", p).buf;
    const v = this.buffer(st, "exp_avg_sq", p).buf;
    // The moments are rounded to the buffer's precision before use, as PyTorch does (src/kernels/optim/adamw.ts).
    adamwThreads(p, g, m, v, {
      b1, b2, decay: 1 - lr * wd, stepSize: lr / (1 - Math.pow(b1, st.step)), sqrtBc2: Math.sqrt(1 - Math.pow(b2, st.step)), eps: this.eps,
    });
  }

  protected hyper(): Record<string, number | boolean | number[]> {
    return { beta1: this.betas[0], beta2: this.betas[1], eps: this.eps };
  }
}

/** Options of {@link paramGroupsWithDecayExclusions}. */
export interface DecayGroupOptions {
  lr: number;
  weightDecay: number;
  /** lr multiplier by parameter name (layer-wise decay, see `layerDecayScales`); 1 when absent. */
  layerScale?: (name: string) => number;
  /** Extra names that get no weight decay (timm's `no_weight_decay()`, e.g. position embeddings). */
  noWeightDecay?: Iterable<string>;
}

/**
 * timm's parameter grouping: no weight decay for parameters of rank <= 1
 * (biases, norm weights, scalars such as a PLIF `w`), names ending in `.bias`
 * and names listed in `noWeightDecay`; parameters that do not require a
 * gradient are left out. Groups are keyed by (decay?, lrScale) and appear in
 * first-seen order, params in input order.
 */
export function paramGroupsWithDecayExclusions(named: Iterable<readonly [string, Tensor]>, opts: DecayGroupOptions): ParamGroup[] {
  const op = "paramGroupsWithDecayExclusions";
  checkHyper(op, "lr", opts.lr, 0);
  checkHyper(op, "weightDecay", opts.weightDecay, 0);
  const skip = new Set(opts.noWeightDecay ?? []);
  const groups = new Map<string, ParamGroup>();
  for (const [name, p] of named) {
    if (!p.requiresGrad) continue;
    const noDecay = p.rank <= 1 || name.endsWith(".bias") || skip.has(name);
    const scale = opts.layerScale ? opts.layerScale(name) : 1;
    if (!Number.isFinite(scale) || scale < 0) fail(op, `layerScale('${name}') returned ${scale}, expected a finite number >= 0`);
    const key = `${noDecay ? "no_decay" : "decay"}@${scale}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        params: [],
        paramNames: [],
        lr: opts.lr,
        weightDecay: noDecay ? 0 : opts.weightDecay,
        lrScale: scale,
        name: opts.layerScale ? `${noDecay ? "no_decay" : "decay"}_x${scale}` : noDecay ? "no_decay" : "decay",
      };
      groups.set(key, g);
    }
    g.params.push(p);
    g.paramNames!.push(name);
  }
  return [...groups.values()];
}
