"""The bundled chunked WY form of delta/1 against the per-step recurrence, forward +
backward, on the same ops table (torch, CPU or CUDA), T = 256 ... 8192.

    python benchmarks/bench_delta.py [--steps 256 512 1024 2048 4096 8192] [--batch 1]
        [--heads 4] [--dim 64] [--dtype float32|float64] [--device cpu] [--threads N]
        [--seconds 2] [--reference]

What is timed: ``run_sequence`` (o, the loss of fla's test objective) and
``loss.sum().backward()`` of a Gated DeltaNet with h0 and ht, q/k heads = value heads
= ``--heads``, K = V = ``--dim``; the chunked form is ``BatchedDelta`` (C = 64), the
recurrence ``models/delta/bugs.py: Recurrent`` (the same ops, one step at a time).  The
FLOP count of the recurrence (about 8 K V per head and step forward, twice that
backward) gives a floor.  ``--reference`` adds the frozen numpy reference's time
(float64, autograd) for T <= 1024, what ``diffmem check`` pays per held-out case.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def make_case(heads, dim, batch, steps, seed=0):
    from diffmem.models.delta import DeltaConfig
    from diffmem.models.delta.cases import pack, random_data
    from diffmem.models.delta.layout import param_shapes
    cfg = DeltaConfig(model="gated_deltanet", heads=heads, value_heads=heads, key_dim=dim,
                      value_dim=dim, sequences=batch)
    d = random_data(cfg, np.random.default_rng(seed), batch, steps)
    return cfg, {k: d[k] for k in param_shapes(cfg)}, pack(cfg, d), d["do"], \
        np.ones((batch, steps))


def time_torch(model_cls, cfg, params, x, y, m, dtype, device, seconds):
    import torch
    from diffmem.backends.torch.ops import TorchOps
    tdt = torch.float64 if dtype == "float64" else torch.float32
    model = model_cls(TorchOps(device), cfg)
    p = {k: torch.tensor(v, dtype=tdt, device=device, requires_grad=True)
         for k, v in params.items()}
    xs = torch.tensor(x, dtype=tdt, device=device, requires_grad=True)
    ys, ms = (torch.tensor(a, dtype=tdt, device=device) for a in (y, m))

    def once():
        _, loss, _ = model.run_sequence(p, xs, ys, ms)
        loss.sum().backward()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    once()   # warm-up
    runs, started = 0, time.perf_counter()
    while runs < 1 or time.perf_counter() - started < seconds:
        once()
        runs += 1
    return (time.perf_counter() - started) / runs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096, 8192])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--reference", action="store_true")
    args = ap.parse_args(argv)
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from diffmem.models.delta import BatchedDelta, run_batch
    from diffmem.models.delta.bugs import Recurrent
    print(f"gated_deltanet B={args.batch} H=HV={args.heads} K=V={args.dim} {args.dtype} "
          f"{args.device}, torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"forward + backward, ms per call")
    head = f"{'T':>6}  {'chunked':>9}  {'recurrence':>10}  {'speed-up':>8}  {'floor GFLOP':>11}"
    print(head + ("  reference (s)" if args.reference else ""))
    for steps in args.steps:
        case = make_case(args.heads, args.dim, args.batch, steps)
        chunked = time_torch(BatchedDelta, *case, args.dtype, args.device, args.seconds)
        recur = time_torch(Recurrent, *case, args.dtype, args.device, args.seconds)
        flops = 3 * 8 * args.dim * args.dim * args.heads * steps * args.batch / 1e9
        line = (f"{steps:>6}  {1e3 * chunked:>9.1f}  {1e3 * recur:>10.1f}  "
                f"{recur / chunked:>7.1f}x  {flops:>11.3f}")
        if args.reference and steps <= 1024:
            started = time.perf_counter()
            run_batch(*case, want_trace=True)
            line += f"  {time.perf_counter() - started:>13.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
