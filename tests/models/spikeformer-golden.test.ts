/**
 * Spikeformer against the public code (Loydian/Spikeformer with SpikingJelly
 * 0.0.0.0.10, PyTorch fp32 CPU): fixtures made once by
 * scripts/fixtures/spikeformer/make_fixtures.py. Key lists and parameter
 * counts of the three public models; for small configurations on random
 * weights, eval logits (1e-5 relative), and in train mode the loss and every
 * parameter's gradient (1e-4 relative).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readSafetensorsFile } from "../../src/io/safetensors-file.js";
import { Spikeformer } from "../../src/models/spikeformer/spikeformer.js";
import { spikeformerConfig, type SpikeformerOverrides } from "../../src/models/spikeformer/config.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { backward, noGrad } from "../../src/autograd/tape.js";
import { crossEntropy } from "../../src/ops/loss.js";
import { Int64Buffer } from "../../src/nn/module.js";

const fixture = (name: string): string => new URL(`../fixtures/spikeformer/${name}`, import.meta.url).pathname;

describe("state dicts equal the public code's (keys, order, shapes, dtypes, parameter counts)", () => {
  for (const name of ["dvscifar10", "dvsgesture", "imagenet"]) {
    it(`spikeformer-${name}`, () => {
      const want = JSON.parse(readFileSync(fixture(`keys-${name}.json`), "utf8")) as { parameters: number; keys: [string, number[], string][] };
      const m = new Spikeformer(spikeformerConfig(`spikeformer-${name}`));
      const got = [...m.stateDict()].map(([k, v]) => [k, [...v.shape], v instanceof Int64Buffer ? "I64" : "F32"]);
      expect(got).toEqual(want.keys);
      expect(m.numParameters()).toBe(want.parameters);
    });
  }
});

/** |ours - theirs| <= rel * max|theirs| + slack, element by element. */
function expectClose(ours: ArrayLike<number>, theirs: ArrayLike<number>, rel: number, what: string, slack = 0): void {
  expect(ours.length, what).toBe(theirs.length);
  let scale = 0;
  for (let i = 0; i < theirs.length; i++) scale = Math.max(scale, Math.abs(theirs[i]!));
  for (let i = 0; i < theirs.length; i++) {
    if (Math.abs(ours[i]! - theirs[i]!) > rel * scale + slack) expect.fail(`${what}[${i}]: ours ${ours[i]} vs public ${theirs[i]} (scale ${scale}, slack ${slack})`);
  }
}

/** Our config from the public constructor arguments the script stored. */
function configOf(pub: Record<string, unknown>, pliaf: boolean): [string, SpikeformerOverrides] {
  const name = `spikeformer-${pub["depth"]}-${pub["embed_dim"]}`;
  return [name, {
    neuron: pliaf ? "pliaf" : "plif", numHeads: pub["num_heads"] as number, mlpRatio: pub["mlp_ratio"] as number, T: pub["num_frames"] as number,
    numClasses: pub["num_classes"] as number, imgSize: pub["img_size"] as number, inChannels: pub["n_input_channels"] as number,
    kernel: pub["kernel_size"] as number, layers: pub["n_conv_layers"] as number, strides: pub["stride"] as number[] | number, dropPathRate: 0,
  }];
}

for (const golden of ["plif-frames-t4", "pliaf-images-t4", "plif-gesture-t16"]) {
  describe(`golden ${golden}: the public code's logits, loss and gradients`, () => {
    const file = readSafetensorsFile(fixture(`golden-${golden}.safetensors`));
    const get = (k: string) => file.tensors.get(k)!;
    const [name, overrides] = configOf(JSON.parse(file.metadata["config"]!), golden.startsWith("pliaf"));
    const x = new Tensor(get("input").data as Float32Array, get("input").shape);
    const labels = Int32Array.from(get("labels").data as BigInt64Array, Number);
    const loaded = (): Spikeformer => {
      const m = new Spikeformer(spikeformerConfig(name, overrides));
      m.loadStateDict(new Map([...file.tensors].filter(([k]) => k.startsWith("weights.")).map(([k, v]) => [k.slice(8), v])), { strict: true });
      return m;
    };

    it("eval logits (bit kernels and float kernels)", () => {
      for (const mode of ["bits", "float"] as const) {
        const m = loaded().eval();
        m.compute.mode = mode;
        expectClose(noGrad(() => m.forward(x)).data, get("eval_logits").data as Float32Array, 1e-5, `${mode} eval logits`);
      }
    });

    it("train mode: logits, loss and every parameter's gradient", () => {
      const m = loaded().train();
      const logits = m.forward(x);
      expectClose(logits.data, get("train_logits").data as Float32Array, 1e-5, "train logits");
      const loss = crossEntropy(logits, labels);
      expectClose([loss.item()], get("train_loss").data as Float32Array, 1e-5, "loss");
      backward(loss);
      let n = 0;
      for (const [k, p] of m.namedParameters()) {
        const want = get(`grad.${k}`);
        expect(want, k).toBeDefined();
        // A one-element gradient (each PLIF's w; attention_pool.bias, exactly 0) is a sum over every neuron whose
        // float32 rounding in the public run is of the order of the result: the slack is twice that run's own
        // distance from its float64 twin (stored beside it).
        const g64 = file.tensors.get(`grad64.${k}`);
        const slack = g64 ? 2 * Math.abs(Number(g64.data[0]!) - Number(want.data[0]!)) : 0;
        expectClose(p.grad === null ? new Float32Array(p.size) : p.grad.data, want.data as Float32Array, 1e-4, `grad ${k}`, slack);
        n++;
      }
      expect(n).toBe([...file.tensors.keys()].filter((k) => k.startsWith("grad.")).length);
    });
  });
}
