"""Single passes of the PyTorch peer on request, for `npm run bench:peers -- --passes N` (bench/peer-passes.ts).

    /usr/bin/python3 bench/torch-passes.py TORCH_REF_DIR CONFIG [CONFIG ...]

Builds each CONFIG of TORCH_REF_DIR/bench.py (the peer's workloads: its seed, model, random input and labels)
and prints "ready CONFIG PARAMS" for each, then reads one request a line from stdin:

    CONFIG infer | CONFIG train    one untimed pass, then a timed one; prints its milliseconds
    quit (or the end of stdin)     exits

The passes are bench.py's: inference = eval mode under no_grad; train = train mode, zero_grad, cross-entropy and
backward (no optimizer step). A bad request prints "error ..." and the server goes on. It runs with bench.py's
defaults: 2 threads and the fused LIF. Between requests it blocks on stdin, so bitspike's passes run on idle cores.
"""

from __future__ import annotations

import sys
import time


def main() -> int:
    if len(sys.argv) < 3:
        print("usage: torch-passes.py TORCH_REF_DIR CONFIG [CONFIG ...]", file=sys.stderr)
        return 2
    sys.path.insert(0, sys.argv[1])
    import torch
    import torch.nn.functional as F

    import bench  # the peer's bench.py: its CONFIGS
    import spikformer as S

    torch.set_num_threads(2)
    S.set_lif_mode("fused")
    passes = {}
    for name in sys.argv[2:]:
        if name not in bench.CONFIGS:
            print(f"error: unknown config {name!r}; bench.py has {', '.join(bench.CONFIGS)}", flush=True)
            return 2
        _, build, batch, shape = bench.CONFIGS[name]
        torch.manual_seed(0)  # as bench.bench_model
        model = build()
        x = torch.randn(batch, *shape)
        y = torch.randint(0, 10, (batch,))

        def infer(model=model, x=x):
            model.eval()
            with torch.no_grad():
                model(x)

        def train(model=model, x=x, y=y):
            model.train()
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()

        passes[name] = {"infer": infer, "train": train}
        print(f"ready {name} {S.count_params(model)}", flush=True)

    for line in sys.stdin:
        words = line.split()
        if words == ["quit"]:
            break
        if len(words) != 2 or words[0] not in passes or words[1] not in ("infer", "train"):
            print(f"error: expected 'CONFIG infer|train' or 'quit' (configs: {', '.join(passes)}), got {line.strip()!r}", flush=True)
            continue
        run = passes[words[0]][words[1]]
        run()
        t0 = time.perf_counter()
        run()
        print(f"{(time.perf_counter() - t0) * 1e3:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
