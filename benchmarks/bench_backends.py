"""Forward + backward throughput of the bundled backends, float32 by default, CPU or CUDA.

Prints sequences/s for batch sizes 1, 16, 32, 64, 256 on two configurations:
- copy: the paper's copy task, LSTM 100 units, N=128, M=20, one read and one write head,
  8-bit vectors (X=10, Y=8), T = 2L + 2 with L = 10 (the middle of L in 1..20);
- small: the reference issue's feedforward NTM, H=100, N=15, M=7, X=5, Y=3, T=8.
What is timed is one training step's forward and backward through the training-facing
functions (torch: ``sequence_loss(...).sum().backward()``; jax: a jitted
``value_and_grad`` of ``sequence_loss(...).sum()``), excluding the optimizer update.
JAX compile time is reported apart from the steady state.  The reference's time per
sequence (forward + backward, float64, one sequence) gives the speed-up column.

    python benchmarks/bench_backends.py [--batches 1 16 32 64 256] [--configs copy small]
        [--backends torch jax] [--seconds 2] [--threads N] [--profile]
        [--device cpu|cuda|cuda:N] [--dtype float32|float64|tf32|bfloat16|float16]

Each step runs in the precision a check in ``--dtype`` uses (float32: no TF32, JAX dots
HIGHEST; see docs/precision.md), on ``--device``; CUDA steps are synchronised before the
clock stops.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from diffmem.models.ntm.reference import NTMConfig, init_params, run_sequence

CONFIGS = {
    "copy": (NTMConfig(input_size=10, output_size=8, controller_size=100, memory_rows=128,
                       memory_width=20, controller="lstm"), 22),
    "small": (NTMConfig(input_size=5, output_size=3, controller_size=100, memory_rows=15,
                        memory_width=7), 8),
}


def make_data(cfg, batch, steps, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, steps, cfg.X)) > 0.5).astype(np.float32)
    y = (rng.random((batch, steps, cfg.Y)) > 0.5).astype(np.float32)
    m = np.ones((batch, steps), np.float32)
    return x, y, m


def timed(fn, seconds, min_reps=3):
    """Median (wall seconds, process CPU seconds) per call of fn() over ~``seconds``.

    CPU seconds are what the call cost whatever else loads the machine: on a busy
    machine, batch / cpu_s is a steadier figure than batch / wall_s.
    """
    fn()
    walls, cpus = [], []
    start = time.perf_counter()
    while len(walls) < min_reps or time.perf_counter() - start < seconds:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return float(np.median(walls)), float(np.median(cpus))


def torch_step(cfg, params, batch, steps, device="cpu", dtype="float32"):
    import torch
    from diffmem.backends.torch import make_model, sequence_loss, to_tensors
    from diffmem.backends.torch.driver import _TORCH_DTYPES, torch_device
    from diffmem.backends.torch.precision_modes import matmul_precision
    dev = torch_device(device)
    model = make_model(cfg, dev, dtype=dtype)
    p = to_tensors(params, dev, dtype, requires_grad=True)
    x, y, m = (torch.as_tensor(a, dtype=_TORCH_DTYPES[dtype], device=dev)
               for a in make_data(cfg, batch, steps))

    def step():
        with matmul_precision(dtype, dev.type):
            for v in p.values():
                v.grad = None
            sequence_loss(model, p, x, y, m).sum().backward()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
    return step, 0.0


def jax_step(cfg, params, batch, steps, device="cpu", dtype="float32"):
    import jax
    from diffmem.backends.jax import make_model, precision, sequence_loss
    from diffmem.backends.jax.driver import jax_device
    from diffmem.reference.precision import compute_dtype
    dev = jax_device(device)
    platform = "cpu" if dev.platform == "cpu" else "gpu"
    with precision(dtype, platform):
        model = make_model(cfg, dtype=dtype, platform=platform)
        p = jax.device_put({k: np.asarray(v, dtype=compute_dtype(dtype))
                            for k, v in params.items()}, dev)
        x, y, m = jax.device_put(tuple(a.astype(compute_dtype(dtype))
                                       for a in make_data(cfg, batch, steps)), dev)
        grad = jax.jit(jax.value_and_grad(lambda p, x: sequence_loss(model, p, x, y, m).sum()))
        t0 = time.perf_counter()
        compiled = grad.lower(p, x).compile()
        compile_s = time.perf_counter() - t0

    def step():
        with precision(dtype, platform):
            jax.block_until_ready(compiled(p, x))
    return step, compile_s


STEPS = {"torch": torch_step, "jax": jax_step}


def reference_per_sequence(cfg, params, steps, seconds):
    x, y, m = (a[0].astype(np.float64) for a in make_data(cfg, 1, steps))
    return timed(lambda: run_sequence(cfg, params, x, y, m, want_trace=False), seconds,
                 min_reps=2)[0]


def profile_torch(cfg, params, batch, steps):
    import torch
    from torch.profiler import ProfilerActivity, profile
    step, _ = torch_step(cfg, params, batch, steps)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def profile_jax(cfg, params, batch, steps, top=12):
    """Top XLA thunks by time (jax.profiler's perfetto trace), for one config."""
    import collections
    import glob
    import gzip
    import json
    import tempfile

    import jax
    step, _ = jax_step(cfg, params, batch, steps)
    step()
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True):
            for _ in range(3):
                step()
        path = glob.glob(f"{tmp}/**/perfetto_trace.json.gz", recursive=True)[0]
        with gzip.open(path) as f:
            events = [e for e in json.load(f)["traceEvents"] if e.get("ph") == "X"]
    total, count = collections.Counter(), collections.Counter()
    for e in events:
        if not e["name"].startswith(("ThunkExecutor", "$")):
            total[e["name"]] += e["dur"]
            count[e["name"]] += 1
    all_us = sum(total.values())
    print(f"jax profile, batch {batch}: XLA thunks {all_us / 3e3:.1f} ms per step")
    for name, us in total.most_common(top):
        print(f"  {us / 3e3:8.2f} ms  {100 * us / all_us:5.1f}%  x{count[name] // 3:<4} {name}")


def flops_per_sequence(cfg, steps):
    """Rough forward+backward FLOPs per sequence: 2 per multiply-add, backward = 2x forward."""
    X, Y, H, N, M, R, Wh, S = cfg.X, cfg.Y, cfg.H, cfg.N, cfg.M, cfg.R, cfg.Wh, cfg.S
    from diffmem.models.ntm.reference import interface_size
    gates = 4 if cfg.controller == "lstm" else 1
    inp = X + R * M + (H if cfg.controller == "lstm" else 0)
    macs = gates * H * inp + interface_size(cfg) * H + Y * (H + R * M)
    heads = R + Wh
    macs += heads * (2 * N * M + N * S + 10 * N)    # cosine + norms, shift, softmaxes
    macs += Wh * 3 * N * M + R * N * M               # erase/add write, read
    return 3 * 2 * macs * steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16, 32, 64, 256])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--backends", nargs="+", default=list(STEPS), choices=list(STEPS))
    ap.add_argument("--seconds", type=float, default=2.0, help="timing per measurement")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--profile", action="store_true",
                    help="profile both backends on the copy config at batch 32 and 256")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    ap.add_argument("--dtype", default="float32",
                    choices=("float32", "float64", "tf32", "bfloat16", "float16"))
    ap.add_argument("--no-reference", action="store_true",
                    help="skip timing the reference (the 'x ref' column shows '-')")
    args = ap.parse_args(argv)
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()}; {args.dtype}, "
          f"{args.device}; forward+backward per training step")
    for name in args.configs:
        cfg, steps = CONFIGS[name]
        params = init_params(cfg, seed=0)
        ref_s = (float("nan") if args.no_reference
                 else reference_per_sequence(cfg, params, steps, args.seconds))
        gflop = flops_per_sequence(cfg, steps) / 1e9
        print(f"\n[{name}] T={steps} H={cfg.H} N={cfg.N} M={cfg.M} {cfg.controller}; "
              f"reference {ref_s * 1e3:.1f} ms/sequence ({1 / ref_s:.1f} seq/s); "
              f"~{gflop * 1e3:.1f} MFLOP/sequence")
        print(f"{'backend':8}{'batch':>6}{'seq/s':>10}{'ms/step':>10}{'x ref':>8}"
              f"{'GFLOP/s':>9}{'seq/cpu-s':>11}{'compile s':>11}")
        for backend in args.backends:
            for batch in args.batches:
                step, compile_s = STEPS[backend](cfg, params, batch, steps, args.device,
                                                 args.dtype)
                sec, cpu = timed(step, args.seconds)
                rate = batch / sec
                print(f"{backend:8}{batch:>6}{rate:>10.0f}{sec * 1e3:>10.2f}"
                      f"{rate * ref_s:>8.0f}{rate * gflop:>9.2f}{batch / cpu:>11.0f}"
                      f"{(f'{compile_s:.1f}' if backend == 'jax' else '-'):>11}", flush=True)
    if args.profile:
        cfg, steps = CONFIGS["copy"]
        for batch in (32, 256):
            if "torch" in args.backends:
                print(f"\ntorch profile, batch {batch}:")
                profile_torch(cfg, init_params(cfg, seed=0), batch, steps)
            if "jax" in args.backends:
                profile_jax(cfg, init_params(cfg, seed=0), batch, steps)


if __name__ == "__main__":
    main()
