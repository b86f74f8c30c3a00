import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { Rng } from "../../src/tensor/random.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { backward, noGrad } from "../../src/autograd/tape.js";
import { batchNorm } from "../../src/ops/norm.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { applyPositionMask, maskedBatchNorm, maskedBatchNorm2d } from "../../src/ops/masked-norm.js";
import { spikformerConfig, type SpikformerOverrides } from "../../src/models/config.js";
import { Spikformer } from "../../src/models/spikformer.js";
import { keptIndices, randomTokenMask, restoreIndices, stageMasks, upsampleMask, type GridMask } from "../../src/models/mae/masking.js";
import { sparseStemForward } from "../../src/models/mae/sparse-stem.js";
import { DecoderBlock, MAEDecoder, sincosPosEmbed2d } from "../../src/models/mae/decoder.js";
import { maskedPatchLoss, patchify, patchTargets, unpatchify } from "../../src/models/mae/loss.js";
import { HEAD_KEYS, loadEncoderInto, MaskedAutoencoder } from "../../src/models/mae/mae.js";
import { reconstructImages } from "../../src/models/mae/reconstruct.js";
import { crc32, encodePng, reconstructionGrid, writePng } from "../../src/io/png.js";
import { readSafetensorsFile } from "../../src/io/safetensors-file.js";
import type { DataSplit } from "../../src/train/data/spec.js";
import { ENCODER_FILE, finetune, loadMaskedAutoencoder, pretrain, saveEncoder, type PretrainOptions } from "../../src/train/pretrain.js";
import type { TrainOptions } from "../../src/train/trainer.js";
import { serializeSafetensors } from "../../src/io/safetensors.js";
import { runFinetune, runPretrain, runReconstruct } from "../../src/cli/pretrain.js";
import { GRAD_RUNS, gradcheck, rand64 } from "../helpers/gradcheck.js";

/** Tiny V2: 16x16 gray images, patch 4 (two SCS stages, 8x8 then 4x4), 16 tokens. */
function tinyConfig(o: SpikformerOverrides = {}) {
  return spikformerConfig("spikformer-v2-1-32", { T: 1, imgSize: 16, patchSize: 4, inChannels: 1, numClasses: 3, numHeads: 2, ...o });
}

function tinyMae(o: SpikformerOverrides = {}): MaskedAutoencoder {
  return new MaskedAutoencoder(tinyConfig(o), { decoderDim: 16, decoderDepth: 1, decoderHeads: 2 });
}

function rowCount(mask: GridMask, b: number): number {
  const N = mask.height * mask.width;
  let k = 0;
  for (let i = 0; i < N; i++) k += mask.data[b * N + i]!;
  return k;
}

describe("token masks", () => {
  it("every sample keeps exactly round(N (1 - ratio)) tokens; the same seed gives the same mask", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.double({ min: 0, max: 0.95, noNaN: true }), fc.integer(), (B, h, w, ratio, seed) => {
        const N = h * w;
        const K = Math.round(N * (1 - ratio));
        fc.pre(K >= 1);
        const m = randomTokenMask(B, h, w, ratio, new Rng(seed));
        for (let b = 0; b < B; b++) expect(rowCount(m, b)).toBe(K);
        expect(m.data.every((v) => v === 0 || v === 1)).toBe(true);
        expect(randomTokenMask(B, h, w, ratio, new Rng(seed)).data).toEqual(m.data);
      }),
    );
  });

  it("samples get independent masks (not all the same over a batch)", () => {
    const m = randomTokenMask(8, 7, 7, 0.75, new Rng(3));
    const rows = new Set(Array.from({ length: 8 }, (_, b) => m.data.subarray(b * 49, (b + 1) * 49).join("")));
    expect(rows.size).toBeGreaterThan(1);
  });

  it("kept and restore indices: ascending kept tokens; restore maps [kept, masked] back to the grid", () => {
    const m = randomTokenMask(3, 3, 4, 0.5, new Rng(9));
    const kept = keptIndices(m);
    const restore = restoreIndices(m);
    for (let b = 0; b < 3; b++) {
      const k = Array.from(kept.subarray(b * 6, b * 6 + 6));
      expect(k).toEqual([...k].sort((x, y) => x - y));
      for (const i of k) expect(m.data[b * 12 + i]).toBe(1);
      const masked = Array.from({ length: 12 }, (_, i) => i).filter((i) => m.data[b * 12 + i] === 0);
      const seq = [...k, ...masked];
      for (let i = 0; i < 12; i++) expect(seq[restore[b * 12 + i]!]).toBe(i);
    }
  });

  it("upsampling is nearest; stage i of S gets the token mask upsampled by 2^(S-1-i)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer(), (B, g, S, seed) => {
        const m = randomTokenMask(B, g, g, 0.5, new Rng(seed));
        const stages = stageMasks(m, S);
        expect(stages.length).toBe(S);
        for (let i = 0; i < S; i++) {
          const f = 2 ** (S - 1 - i);
          const st = stages[i]!;
          expect([st.height, st.width]).toEqual([g * f, g * f]);
          for (let b = 0; b < B; b++) for (let y = 0; y < g * f; y++) for (let x = 0; x < g * f; x++) {
            expect(st.data[(b * g * f + y) * g * f + x]).toBe(m.data[(b * g + Math.floor(y / f)) * g + Math.floor(x / f)]);
          }
        }
        expect(stages[S - 1]!.data).toEqual(m.data);
      }),
      { numRuns: 30 },
    );
  });

  it("errors name the op and the values", () => {
    expect(() => randomTokenMask(2, 2, 2, 1, new Rng(0))).toThrow(/randomTokenMask: ratio must be in \[0, 1\), got 1/);
    expect(() => randomTokenMask(2, 2, 2, 0.9, new Rng(0))).toThrow(/randomTokenMask: ratio 0.9 keeps no token of 4 \(2x2\)/);
    expect(() => randomTokenMask(0, 2, 2, 0.5, new Rng(0))).toThrow(BitspikeError);
    expect(() => upsampleMask(randomTokenMask(1, 2, 2, 0.5, new Rng(0)), 1.5)).toThrow(/upsampleMask: factor must be a positive integer, got 1.5/);
    const uneven: GridMask = { batch: 2, height: 1, width: 2, data: Uint8Array.from([1, 0, 1, 1]) };
    expect(() => keptIndices(uneven)).toThrow(/sample 1 keeps 2 tokens, sample 0 keeps 1/);
  });
});

/** x [N, C, H, W] and a mask of N*H*W: the visible values as [M, C] rows (position-major). */
function visibleRows(x: Tensor, mask: Uint8Array): Tensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const S = H * W;
  const rows: number[] = [];
  for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) if (mask[n * S + s]) for (let c = 0; c < C; c++) rows.push(x.data[(n * C + c) * S + s]!);
  return Tensor.from(rows, [rows.length / C, C], x.dtype);
}

const arbMaskedBn = fc.record({
  n: fc.integer({ min: 1, max: 3 }), c: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 3 }), w: fc.integer({ min: 1, max: 3 }), seed: fc.integer(),
});

function randomPositionMask(len: number, rng: Rng, minVisible = 2): Uint8Array {
  const m = new Uint8Array(len);
  for (let i = 0; i < len; i++) m[i] = rng.uniform() < 0.6 ? 1 : 0;
  for (let i = 0, k = m.reduce((a, b) => a + b, 0); k < Math.min(minVisible, len) && i < len; i++) if (!m[i]) { m[i] = 1; k++; }
  return m;
}

describe("maskedBatchNorm (sparse BN)", () => {
  it("statistics and outputs equal dense BN over the visible positions; masked outputs are 0; running stats match", () => {
    fc.assert(
      fc.property(arbMaskedBn, ({ n, c, h, w, seed }) => {
        const rng = new Rng(seed);
        const x = Tensor.uniform([n, c, h, w], rng, -2, 2, "float64");
        const mask = randomPositionMask(n * h * w, rng);
        fc.pre(mask.reduce((a, b) => a + b, 0) >= 2);
        const wt = Tensor.uniform([c], rng, 0.5, 1.5, "float64");
        const bs = Tensor.uniform([c], rng, -1, 1, "float64");
        const rm1 = Tensor.uniform([c], rng, -1, 1, "float64");
        const rv1 = Tensor.uniform([c], rng, 0.5, 2, "float64");
        const rm2 = rm1.clone();
        const rv2 = rv1.clone();
        const y = maskedBatchNorm2d(x, mask, rm1, rv1, wt, bs, { training: true, momentum: 0.3 });
        const dense = batchNorm(visibleRows(x, mask), rm2, rv2, wt, bs, { training: true, momentum: 0.3 });
        expect(Array.from(visibleRows(y, mask).data).map((v, i) => v - dense.data[i]!).every((d) => Math.abs(d) < 1e-12)).toBe(true);
        for (let i = 0; i < c; i++) {
          expect(rm1.data[i]).toBeCloseTo(rm2.data[i]!, 12);
          expect(rv1.data[i]).toBeCloseTo(rv2.data[i]!, 12);
        }
        const S = h * w;
        for (let k = 0; k < n; k++) for (let ch = 0; ch < c; ch++) for (let s = 0; s < S; s++) if (!mask[k * S + s]) expect(y.data[(k * c + ch) * S + s]).toBe(0);
      }),
    );
  });

  it("an all-visible mask is exactly batchNorm (float32, train and eval)", () => {
    const rng = new Rng(4);
    const x = Tensor.normal([3, 4, 2, 5], rng);
    for (const training of [true, false]) {
      const a = maskedBatchNorm(x, new Uint8Array(30).fill(1), Tensor.zeros([4]), Tensor.ones([4]), null, null, { training });
      const b = batchNorm(x, Tensor.zeros([4]), Tensor.ones([4]), null, null, { training });
      expect(a.data).toEqual(b.data);
    }
  });

  for (const training of [true, false]) {
    it(`gradients of x, weight and bias (${training ? "training, through visible-only statistics" : "eval"})`, () => {
      fc.assert(
        fc.property(arbMaskedBn, fc.boolean(), ({ n, c, h, w, seed }, affine) => {
          const rng = new Rng(seed);
          const mask = randomPositionMask(n * h * w, rng);
          fc.pre(mask.reduce((a, b) => a + b, 0) >= 2);
          const rm = Tensor.uniform([c], rng, -0.5, 0.5, "float64");
          const rv = Tensor.uniform([c], rng, 0.5, 1.5, "float64");
          const x = rand64([n, c, h, w], rng);
          const inputs = affine ? [x, rand64([c], rng, 0.5, 1.5), rand64([c], rng)] : [x];
          gradcheck((a, wt, b) => maskedBatchNorm2d(a!, mask, rm.clone(), rv.clone(), wt ?? null, b ?? null, { training }), inputs);
          // masked positions get exactly no gradient
          const S = h * w;
          for (let k = 0; k < n; k++) for (let s = 0; s < S; s++) if (!mask[k * S + s]) for (let ch = 0; ch < c; ch++) expect(x.grad!.data[(k * c + ch) * S + s]).toBe(0);
        }),
        { numRuns: GRAD_RUNS },
      );
    });
  }

  it("applyPositionMask zeroes masked positions on every channel and passes the mask as gradient", () => {
    const rng = new Rng(2);
    const x = rand64([2, 3, 2, 2], rng);
    const mask = Uint8Array.from([1, 0, 0, 1, 0, 1, 1, 1]);
    gradcheck((a) => applyPositionMask(a!, mask), [x]);
    const y = applyPositionMask(x, mask);
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let s = 0; s < 4; s++) {
      // == so that -0 (a negative value times 0) counts as 0
      expect(y.data[(n * 3 + c) * 4 + s] === (mask[n * 4 + s] ? x.data[(n * 3 + c) * 4 + s] : 0)).toBe(true);
    }
  });

  it("errors name the op and shapes", () => {
    const x = Tensor.zeros([2, 3, 2, 2]);
    const ok = Tensor.zeros([3]);
    expect(() => maskedBatchNorm(x, new Uint8Array(5), ok, ok, null, null, { training: true })).toThrow(/maskedBatchNorm: mask must be a Uint8Array of N \* spatial = 8 entries for input \[2, 3, 2, 2\], got 5 entries/);
    expect(() => maskedBatchNorm(x, Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0]), ok, ok, null, null, { training: true })).toThrow(/maskedBatchNorm: training needs more than one visible value per channel, got input .* with 1$/);
    expect(() => maskedBatchNorm(x, new Uint8Array(8), Tensor.zeros([4]), ok, null, null, { training: false })).toThrow(/maskedBatchNorm: runningMean must be \[3\] for input \[2, 3, 2, 2\] \(3 channels\), got \[4\]/);
    expect(() => maskedBatchNorm2d(Tensor.zeros([2, 3, 4]), new Uint8Array(8), ok, ok, null, null, { training: false })).toThrow(/maskedBatchNorm2d: input must be \[N, C, H, W\], got \[2, 3, 4\]/);
    expect(() => applyPositionMask(x, new Uint8Array(3))).toThrow(/applyPositionMask: mask must be a Uint8Array of N \* spatial = 8 entries/);
  });
});

describe("sparse SCS stem and visible-token encoder", () => {
  for (const residual of ["add", "iand"] as const) {
    for (const T of [1, 2]) {
      it(`stage outputs are 0 wherever the upsampled mask is 0 (residual ${residual}, T = ${T})`, () => {
        const mae = tinyMae({ residual, T });
        const mask = mae.randomMask(3, new Rng(11));
        const x = Tensor.normal([3, 1, 16, 16], new Rng(12), 0, 2);
        const masks = stageMasks(mask, 2);
        let active = 0;
        noGrad(() => sparseStemForward(mae.patch_embed, T, residual, x, mask, (i, out) => {
          const f = out instanceof Spikes ? out.toFloat("float32") : out;
          const [TT, B, C, H, W] = f.shape as [number, number, number, number, number];
          const m = masks[i]!;
          expect([TT, B, H, W]).toEqual([T, 3, m.height, m.width]);
          for (let t = 0; t < TT; t++) for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) {
            const v = f.data[(((t * B + b) * C + c) * H * W) + p]!;
            if (!m.data[b * H * W + p]) expect(v).toBe(0);
            else if (v !== 0) active++;
          }
        }));
        expect(active).toBeGreaterThan(0); // the visible part is alive, so the check above can fail
      });

      it(`leak test: changing masked pixels changes nothing the encoder outputs, nor the BN statistics (residual ${residual}, T = ${T})`, () => {
        const a = tinyMae({ residual, T });
        const b = tinyMae({ residual, T });
        const mask = a.randomMask(4, new Rng(21));
        const x1 = Tensor.normal([4, 1, 16, 16], new Rng(22), 0, 2);
        const x2 = x1.clone();
        const pm = upsampleMask(mask, 4).data;
        const rng = new Rng(23);
        let changed = 0;
        for (let i = 0; i < pm.length; i++) if (!pm[i]) { x2.data[i] = 10 * rng.normal(); changed++; }
        expect(changed).toBe(4 * 12 * 16);
        const z1 = a.encode(x1.requireGrad(), mask);
        const z2 = b.encode(x2, mask);
        expect(z1.shape).toEqual([4, 4, 32]);
        expect(z2.data).toEqual(z1.data);
        expect(z1.data.some((v) => v !== 0)).toBe(true);
        for (const [k, v] of a.encoderStateDict()) expect(b.encoderStateDict().get(k)!.data).toEqual(v.data);
        // and no gradient reaches a masked pixel
        backward(sum(mul(z1, Tensor.uniform(z1.shape, new Rng(1), 0.5, 1.5))));
        for (let i = 0; i < pm.length; i++) if (!pm[i]) expect(x1.grad!.data[i]).toBe(0);
        expect(x1.grad!.data.some((v) => v !== 0)).toBe(true);
      });
    }
  }

  it("the encoder is the classifier's stem and blocks under the classifier's key names (minus the head)", () => {
    const mae = tinyMae();
    const cls = new Spikformer(tinyConfig());
    const keys = [...cls.stateDict().keys()].filter((k) => !(HEAD_KEYS as readonly string[]).includes(k));
    expect([...mae.encoderStateDict().keys()]).toEqual(keys);
    for (const [k, v] of mae.encoderStateDict()) expect(v.data).toEqual(cls.stateDict().get(k)!.data); // same seed, same init
    expect([...mae.stateDict().keys()].filter((k) => k.startsWith("decoder.")).length).toBeGreaterThan(0);
    expect(() => new MaskedAutoencoder(spikformerConfig("spikformer-cifar-1-32", { imgSize: 16 }))).toThrow(/MaskedAutoencoder: masked pre-training needs a V2/);
    expect(() => mae.encode(Tensor.zeros([2, 1, 8, 8]), mae.randomMask(2, new Rng(0)))).toThrow(/MaskedAutoencoder: images \[2, 1, 8, 8\] do not fit the model/);
  });
});

/** MAE's numpy get_2d_sincos_pos_embed, written out as in its source (meshgrid w first). */
function maeSincos(dim: number, g: number): number[][] {
  const oneD = (d: number, pos: number[]): number[][] => {
    const omega = Array.from({ length: d / 2 }, (_, i) => 1 / 10000 ** (i / (d / 2)));
    return pos.map((p) => [...omega.map((o) => Math.sin(p * o)), ...omega.map((o) => Math.cos(p * o))]);
  };
  const gridW: number[] = [];
  const gridH: number[] = [];
  for (let h = 0; h < g; h++) for (let w = 0; w < g; w++) { gridW.push(w); gridH.push(h); }
  const embH = oneD(dim / 2, gridW); // grid[0] of np.meshgrid(grid_w, grid_h)
  const embW = oneD(dim / 2, gridH);
  return embH.map((r, i) => [...r, ...embW[i]!]);
}

describe("decoder", () => {
  it("sin-cos position embeddings follow MAE's formula", () => {
    for (const [dim, g] of [[8, 3], [16, 7], [256, 14]] as const) {
      const ours = sincosPosEmbed2d(dim, g, g);
      const ref = maeSincos(dim, g).flat();
      expect(ours.length).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) expect(Math.abs(ours[i]! - ref[i]!)).toBeLessThan(1e-12);
    }
    expect(() => sincosPosEmbed2d(6, 2, 2)).toThrow(/sincosPosEmbed2d: dim must be a positive multiple of 4, got 6/);
  });

  it("the position embedding is fixed (no gradient, not optimised) but kept in the state dict", () => {
    const d = tinyMae().decoder;
    expect(d.pos_embed.requiresGrad).toBe(false);
    expect(d.stateDict().has("pos_embed")).toBe(true);
    expect(Array.from(d.pos_embed.data)).toEqual(Array.from(Float32Array.from(sincosPosEmbed2d(16, 4, 4))));
  });

  it("a pre-norm block: gradients of input and parameters (float64)", () => {
    const rng = new Rng(5);
    const blk = new DecoderBlock(8, 2, 2, rng, "float64");
    for (const p of blk.parameters()) for (let i = 0; i < p.data.length; i++) p.data[i] = p.data[i]! + 0.1 * rng.normal(); // non-trivial LN affine
    const x = rand64([2, 3, 8], rng);
    const params = [blk.attn.qkv.weight, blk.attn.qkv.bias!, blk.attn.proj.weight, blk.mlp.fc1.weight, blk.mlp.fc2.bias!, blk.norm1.weight!, blk.norm2.bias!];
    gradcheck((a) => blk.forward(a!), [x, ...params]);
  });

  it("the whole decoder: gradients of the latent, the mask token, embed and prediction weights", () => {
    const dec = new MAEDecoder({ inDim: 6, dim: 8, depth: 1, heads: 2, mlpRatio: 2, gridH: 2, gridW: 3, patchPixels: 5, seed: 3 }, "float64");
    const mask = randomTokenMask(2, 2, 3, 0.5, new Rng(7));
    const lat = rand64([2, 3, 6], new Rng(8));
    gradcheck((a) => dec.forward(a!, mask), [lat, dec.mask_token, dec.embed.weight, dec.pred.weight]);
    expect(() => dec.forward(rand64([2, 3, 5], new Rng(1)), mask)).toThrow(/MAEDecoder: latent \[2, 3, 5\] and a 2 x 2x3 mask do not fit/);
  });
});

describe("patchify and the loss", () => {
  it("patchify is MAE's (p, q, c) order; unpatchify inverts it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), (B, C, P, h, w) => {
        const x = Tensor.uniform([B, C, h * P, w * P], new Rng(B + C + P), -1, 1, "float64");
        const p = patchify(x, P);
        expect(p.shape).toEqual([B, h * w, P * P * C]);
        for (let b = 0; b < B; b++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let pp = 0; pp < P; pp++) for (let q = 0; q < P; q++) for (let c = 0; c < C; c++) {
          const src = x.data[((b * C + c) * h * P + i * P + pp) * w * P + j * P + q]!;
          expect(p.data[(b * h * w + i * w + j) * P * P * C + (pp * P + q) * C + c]).toBe(src);
        }
        expect(unpatchify(p, P, C, h, w).data).toEqual(x.data);
      }),
      { numRuns: 30 },
    );
    expect(() => patchify(Tensor.zeros([1, 1, 5, 4]), 2)).toThrow(/patchify: patch 2 does not divide images \[1, 1, 5, 4\]/);
    expect(() => unpatchify(Tensor.zeros([1, 4, 3]), 2, 1, 2, 2)).toThrow(/unpatchify: patches \[1, 4, 3\] do not fit 2x2 patches of 2x2x1/);
  });

  it("normalised targets and the masked-only mean equal the direct formula; raw pixels are the patches", () => {
    const rng = new Rng(31);
    const x = Tensor.uniform([2, 3, 4, 4], rng, -1, 1, "float64");
    const mask = randomTokenMask(2, 2, 2, 0.5, rng);
    const pred = Tensor.uniform([2, 4, 12], rng, -1, 1, "float64");
    const raw = patchify(x, 2);
    expect(patchTargets(x, 2, false).data).toEqual(raw.data);
    const tgt = patchTargets(x, 2, true);
    let total = 0;
    let count = 0;
    for (let r = 0; r < 8; r++) {
      const vals = Array.from(raw.data.subarray(r * 12, r * 12 + 12));
      const m = vals.reduce((a, b) => a + b, 0) / 12;
      const v = vals.reduce((a, b) => a + (b - m) ** 2, 0) / 12; // biased, as MAE
      const norm = vals.map((p) => (p - m) / Math.sqrt(v + 1e-6));
      norm.forEach((t, j) => expect(Math.abs(tgt.data[r * 12 + j]! - t)).toBeLessThan(1e-12));
      if (!mask.data[r]) {
        total += norm.reduce((a, t, j) => a + (pred.data[r * 12 + j]! - t) ** 2, 0) / 12;
        count++;
      }
    }
    expect(count).toBe(4);
    expect(Math.abs(maskedPatchLoss(pred, tgt, mask).item() - total / count)).toBeLessThan(1e-12);
    gradcheck((p) => maskedPatchLoss(p!, tgt, mask), [rand64([2, 4, 12], rng)]);
    expect(() => maskedPatchLoss(pred, tgt, { ...mask, data: new Uint8Array(8).fill(1) })).toThrow(/maskedPatchLoss: the mask hides no patch/);
    expect(() => maskedPatchLoss(pred, Tensor.zeros([2, 4, 11], "float64"), mask)).toThrow(/maskedPatchLoss: pred \[2, 4, 12\], target \[2, 4, 11\]/);
  });

  it("reconstructImages: visible patches are the original, masked ones the de-normalised prediction", () => {
    const rng = new Rng(41);
    const x = Tensor.uniform([1, 1, 4, 4], rng, -1, 1);
    const mask = randomTokenMask(1, 2, 2, 0.5, rng);
    const perfect = patchTargets(x, 2, true);
    const r = reconstructImages(x, perfect, mask, 2, true);
    for (let i = 0; i < 16; i++) expect(Math.abs(r.data[i]! - x.data[i]!)).toBeLessThan(1e-3);
  });
});

/** Smooth random images (a few oriented gradients): learnable structure for the decoder. */
function tinySplit(n: number, size = 16, seed = 1): DataSplit {
  const rng = new Rng(seed);
  const make = (count: number) => {
    const images = new Float32Array(count * size * size);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const a = rng.uniform() * Math.PI;
      const f = 0.2 + 0.3 * rng.uniform();
      labels[i] = i % 3;
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) images[(i * size + y) * size + x] = Math.sin(f * (x * Math.cos(a) + y * Math.sin(a))) + (labels[i]! - 1);
    }
    return { images, labels, shape: [1, size, size] as [number, number, number], numClasses: 3 };
  };
  return { train: make(n), test: make(16), description: "tiny smooth images" };
}

function pretrainOptions(out: string | null, o: Partial<PretrainOptions> = {}): PretrainOptions {
  return {
    model: "spikformer-v2-1-32", modelOverrides: { patchSize: 4, numHeads: 2 }, mae: { decoderDim: 16, decoderDepth: 1, decoderHeads: 2 },
    data: "tiny", epochs: 6, batch: 8, lr: 3e-3, wd: 0.05, warmupEpochs: 0.5, minLr: 1e-5, clip: 0, seed: 3,
    out, resume: false, checkpointEvery: 0, stopAfter: 0, evalImages: 0, ...o,
  };
}

describe("pre-training and fine-tuning", () => {
  it("end to end: the pre-training loss decreases; encoder.safetensors loads into a classifier (only the head missing)", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-mae-"));
    const data = tinySplit(32);
    const epochs: number[] = [];
    const r = pretrain(pretrainOptions(dir), { onEpoch: (e) => epochs.push(e.trainLoss) }, data);
    expect(r.finished).toBe(true);
    expect(epochs.length).toBe(6);
    expect(epochs[5]!).toBeLessThan(0.85 * epochs[0]!);
    // the encoder file has exactly the classifier's keys minus the head
    const enc = readSafetensorsFile(join(dir, ENCODER_FILE));
    const cls = new Spikformer(spikformerConfig("spikformer-v2-1-32", { patchSize: 4, numHeads: 2, imgSize: 16, inChannels: 1, numClasses: 3, seed: 99 }));
    expect(() => cls.loadStateDict(enc.tensors)).toThrow(/missing keys \(2\): head.weight, head.bias/);
    expect(cls.loadStateDict(enc.tensors, { strict: false })).toEqual({ missing: ["head.weight", "head.bias"], unexpected: [] });
    const fresh = new Spikformer(spikformerConfig("spikformer-v2-1-32", { patchSize: 4, numHeads: 2, imgSize: 16, inChannels: 1, numClasses: 3, seed: 99 }));
    const head = Float32Array.from(fresh.head.weight.data);
    loadEncoderInto(fresh, enc.tensors);
    for (const [k, v] of r.mae.encoderStateDict()) expect(fresh.stateDict().get(k)!.data).toEqual(v.data);
    expect(fresh.head.weight.data).toEqual(head);
    const extra = new Map(enc.tensors);
    extra.set("decoder.x", { shape: [1], data: new Float32Array(1), dtype: "F32" } as never);
    expect(() => loadEncoderInto(fresh, extra)).toThrow(/loadEncoderInto: .*unexpected \["decoder.x"\]/);
    const missing = new Map(enc.tensors);
    missing.delete("block.0.mlp.fc1_conv.weight");
    expect(() => loadEncoderInto(fresh, missing)).toThrow(/loadEncoderInto: .*missing \["block.0.mlp.fc1_conv.weight"\]/);
    // the pre-trained MAE is rebuilt from the two files
    const back = loadMaskedAutoencoder(dir);
    for (const [k, v] of r.mae.stateDict()) expect(back.stateDict().get(k)!.data).toEqual(v.data);
  });

  it("a stopped and resumed pre-training run ends bit-identical to an uninterrupted one", () => {
    const data = tinySplit(16, 16, 2);
    const a = pretrain(pretrainOptions(null, { epochs: 2 }), {}, data);
    const dir = mkdtempSync(join(tmpdir(), "bitspike-mae-resume-"));
    const first = pretrain(pretrainOptions(dir, { epochs: 2, stopAfter: 3 }), {}, data);
    expect(first.finished).toBe(false);
    const b = pretrain(pretrainOptions(dir, { epochs: 2, resume: true }), {}, data);
    for (const [k, v] of a.mae.stateDict()) expect(b.mae.stateDict().get(k)!.data).toEqual(v.data);
  });

  it("fine-tuning starts from the encoder and uses layer-wise lr decay (stem lowest, head at 1)", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-mae-ft-"));
    const data = tinySplit(16, 16, 4);
    const pre = pretrain(pretrainOptions(dir, { epochs: 1, modelOverrides: { patchSize: 4, numHeads: 2 } }), {}, data);
    const out = join(dir, "ft");
    const opts: TrainOptions & { from: string; layerDecay: number } = {
      from: join(dir, ENCODER_FILE), layerDecay: 0.5,
      model: "spikformer-v2-1-32", modelOverrides: { T: 1, patchSize: 4, numHeads: 2 }, data: "tiny", epochs: 1, batch: 8, lr: 1e-3, wd: 0.05,
      warmupEpochs: 0, minLr: 1e-5, labelSmoothing: 0.1, mixup: 0, augment: {}, clip: 0, seed: 3, out, resume: false, checkpointEvery: 0, stopAfter: 0, evalBatch: 8,
    };
    let loaded = false;
    const r = finetune(opts, { onModel: (m) => {
      for (const [k, v] of pre.mae.encoderStateDict()) expect(m.stateDict().get(k)!.data).toEqual(v.data);
      loaded = true;
    } }, data);
    expect(loaded).toBe(true);
    expect(r.finished).toBe(true);
    const meta = JSON.parse(readSafetensorsFile(join(out, "checkpoint.safetensors")).metadata["bitspike_checkpoint"]!) as { optimizer: { groups: { lrScale: number; paramNames: string[] }[] }; train: { from: string; layerDecay: number } };
    expect(meta.train.layerDecay).toBe(0.5);
    expect(meta.train.from).toBe(opts.from);
    const scaleOf = new Map<string, number>();
    for (const g of meta.optimizer.groups) for (const n of g.paramNames) scaleOf.set(n, g.lrScale);
    expect(scaleOf.get("patch_embed.stages.0.down_conv.weight")).toBe(0.25);
    expect(scaleOf.get("block.0.attn.q_conv.weight")).toBe(0.5);
    expect(scaleOf.get("head.weight")).toBe(1);
  });
});

describe("PNG writer", () => {
  /** Parses chunks, checking every CRC; returns [type, data] pairs. */
  function chunks(png: Uint8Array): [string, Uint8Array][] {
    expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const out: [string, Uint8Array][] = [];
    const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
    let o = 8;
    while (o < png.length) {
      const len = v.getUint32(o);
      const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
      const data = png.subarray(o + 8, o + 8 + len);
      expect(v.getUint32(o + 8 + len)).toBe(crc32(png, o + 4, o + 8 + len));
      out.push([type, data]);
      o += 12 + len;
    }
    expect(o).toBe(png.length);
    return out;
  }

  it("CRC-32 matches known values", () => {
    expect(crc32(new TextEncoder().encode("IEND"))).toBe(0xae426082);
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  for (const ch of [1, 3, 4] as const) {
    it(`${ch}-channel images parse (IHDR fields, CRCs) and inflate back to the pixels`, () => {
      const w = 5;
      const h = 3;
      const px = Uint8Array.from({ length: w * h * ch }, (_, i) => (i * 37) % 256);
      const cs = chunks(encodePng(w, h, ch, px));
      expect(cs.map((c) => c[0])).toEqual(["IHDR", "IDAT", "IEND"]);
      const ihdr = new DataView(cs[0]![1].buffer, cs[0]![1].byteOffset, 13);
      expect([ihdr.getUint32(0), ihdr.getUint32(4), ihdr.getUint8(8), ihdr.getUint8(9), ihdr.getUint8(10), ihdr.getUint8(11), ihdr.getUint8(12)]).toEqual([w, h, 8, { 1: 0, 3: 2, 4: 6 }[ch], 0, 0, 0]);
      const raw = inflateSync(cs[1]![1]);
      expect(raw.length).toBe(h * (w * ch + 1));
      for (let y = 0; y < h; y++) {
        expect(raw[y * (w * ch + 1)]).toBe(0);
        expect(Array.from(raw.subarray(y * (w * ch + 1) + 1, (y + 1) * (w * ch + 1)))).toEqual(Array.from(px.subarray(y * w * ch, (y + 1) * w * ch)));
      }
    });
  }

  it("reconstruction grid: three tiles per image, masked pixels gray in the middle tile", () => {
    const x = Tensor.full([2, 1, 4, 4], 1);
    const recon = Tensor.full([2, 1, 4, 4], 0);
    const mask = new Uint8Array(32).fill(1);
    mask[0] = 0;
    const png = reconstructionGrid(x, recon, mask, { gap: 1, scale: 1 });
    const cs = chunks(png);
    const ihdr = new DataView(cs[0]![1].buffer, cs[0]![1].byteOffset, 13);
    const W = ihdr.getUint32(0);
    expect([W, ihdr.getUint32(4)]).toEqual([3 * 4 + 4, 2 * 4 + 3]);
    const raw = inflateSync(cs[1]![1]);
    const at = (x0: number, y0: number): number => raw[y0 * (W + 1) + 1 + x0]!;
    expect(at(1, 1)).toBe(255); // original
    expect(at(6, 1)).toBe(128); // masked pixel (0, 0) of image 0
    expect(at(7, 1)).toBe(255); // visible
    expect(at(11, 1)).toBe(0); // reconstruction
    expect(() => reconstructionGrid(x, recon, new Uint8Array(3))).toThrow(/reconstructionGrid: pixelMask has 3 entries, expected B\*H\*W = 32/);
    expect(() => encodePng(2, 2, 1, new Uint8Array(3))).toThrow(/encodePng: 3 bytes for a 2x2x1 image \(expected 4\)/);
    expect(() => encodePng(2, 2, 2 as 1, new Uint8Array(8))).toThrow(/encodePng: channels must be 1, 3 or 4, got 2/);
  });

  it("the file written is the encoded bytes", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-png-"));
    const px = new Uint8Array(4).fill(7);
    const p = join(dir, "a.png");
    writePng(p, 2, 2, 1, px);
    expect(new Uint8Array(readFileSync(p))).toEqual(encodePng(2, 2, 1, px));
  });
});

describe("CLI: pretrain, reconstruct, finetune", () => {
  it("runs end to end on a tiny data file and names missing flags", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-mae-cli-"));
    const split = tinySplit(24, 16, 6);
    const n = split.train.labels.length;
    const data = join(dir, "tiny.safetensors");
    writeFileSync(data, serializeSafetensors({
      images: { shape: [n, 1, 16, 16], data: split.train.images },
      labels: { shape: [n], data: BigInt64Array.from(split.train.labels, (v) => BigInt(v)) },
    }));
    const logs: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...m: unknown[]) => { logs.push(m.join(" ")); });
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true); // the fine-tuning progress bar
    try {
      const common = ["--data", `file:${data}`, "--epochs", "1", "--batch", "8", "--patch", "4", "--heads", "2", "--seed", "1"];
      runPretrain(["--model", "spikformer-v2-1-32", "--decoder-dim", "16", "--decoder-depth", "1", "--decoder-heads", "2", "--out", join(dir, "pre"), "--eval-images", "4", ...common]);
      expect(readSafetensorsFile(join(dir, "pre", "encoder.safetensors")).tensors.has("head.weight")).toBe(false);
      runReconstruct(["--from", join(dir, "pre"), "--data", `file:${data}`, "--images", "2", "--out", join(dir, "recon.png")]);
      expect(Array.from(readFileSync(join(dir, "recon.png")).subarray(1, 4))).toEqual([80, 78, 71]);
      runFinetune(["--from", join(dir, "pre", "encoder.safetensors"), "--out", join(dir, "ft"), "--eval-batch", "8", ...common]);
      expect(readSafetensorsFile(join(dir, "ft", "weights.safetensors")).tensors.has("head.weight")).toBe(true);
    } finally {
      spy.mockRestore();
      out.mockRestore();
    }
    expect(logs.some((l) => /test accuracy/.test(l))).toBe(true);
    expect(() => runFinetune([])).toThrow(/bitspike finetune: --from DIR\/encoder.safetensors is required/);
    expect(() => runReconstruct([])).toThrow(/bitspike reconstruct: --from DIR/);
    expect(() => runPretrain(["--mask", "x"])).toThrow(/bitspike pretrain: --mask expects a number, got 'x'/);
  });
});
