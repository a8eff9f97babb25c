"""GPU throughput: triton, jax, torch, and triton and torch with CUDA graphs.

float32, one training step's forward + backward on the paper's copy configuration
(LSTM 100, N=128, M=20, one read and one write head, X=10, Y=8, T=22), batches 1, 32,
256, 1024, 4096.

Next to the measurements it prints this configuration's floor: the FLOPs and the bytes
of off-chip traffic per sequence-step, derived from NTM.md's formulas below
(``floor_per_step``), and the time per step they imply at the peak FLOP/s and memory
bandwidth given (defaults: an H100 SXM's float32 non-tensor-core peak and HBM3
bandwidth; pass your card's).  The floor is what no implementation can beat, not a
prediction.

    python benchmarks/bench_gpu.py [--device cuda] [--batches ...] [--backends ...]
        [--seconds 2] [--peak-tflops 67] [--peak-gbs 3350]
    python benchmarks/bench_gpu.py --device cpu --quick     # smoke run, no GPU needed

What is timed (median over ``--seconds``, the device synchronised after each step):
torch and triton: ``sequence_loss(...).sum().backward()`` with grads set to None
first; torch-graphs and triton-graphs: a ``StaticStep`` call (device-to-device copy of the batch into the
static buffers and one graph replay; gradients are graph outputs); jax: the jitted
``value_and_grad``, compile time reported apart.  On CPU, triton runs through Triton's
interpreter (TRITON_INTERPRET=1, set here before triton is imported): slow, a check that
the script works, not a speed.  JAX does not preallocate the GPU here, so torch can run
in the same process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from diffmem.models.ntm.reference import NTMConfig, init_params, interface_size

COPY = NTMConfig(input_size=10, output_size=8, controller_size=100, memory_rows=128,
                 memory_width=20, controller="lstm")
COPY_STEPS = 22
BACKENDS = ("triton", "triton-graphs", "jax", "torch", "torch-graphs")
FLOAT32_BYTES = 4


# ---------------------------------------------------------------- the floor

def floor_per_step(cfg):
    """FLOPs (forward + backward) and off-chip bytes per sequence-step, and parameter
    bytes per step shared by the whole batch, counted from NTM.md:

    - matrix products, 2 FLOPs per multiply-add: controller 4H (X + R M + H) (LSTM) or
      H (X + R M), interface I H, output Y (H + R M);
    - per head: cosine N M multiply-adds + memory norms N M + key norm M, softmaxes and
      the gate, shift (S N) and sharpening: about 12 N + 2 S N elementwise;
    - write: the erase product and the add, 5 N M per write head; read: 2 N M per head;
    - backward = 2 x forward (each product's two operand gradients).
    Bytes: a fused kernel keeps a sequence's memory on chip within a step, but the
    backward needs every Mem_t: written once forward, read once backward (2 N M words),
    with the head weights (4 per head: w_content .. weight, N each, twice) and the
    step's x, y, mask; parameters are read forward and backward and their gradients
    written (3 P words per step), once per batch, not per sequence.
    """
    X, Y, H, N, M, R, Wh, S = cfg.X, cfg.Y, cfg.H, cfg.N, cfg.M, cfg.R, cfg.Wh, cfg.S
    lstm = cfg.controller == "lstm"
    controller = (4 * H if lstm else H) * (X + R * M + (H if lstm else 0))
    matmul_macs = controller + interface_size(cfg) * H + Y * (H + R * M)
    heads = R + Wh
    memory_flops = heads * (2 * N * M + 2 * N * M + 2 * M + 12 * N + 2 * S * N) \
        + Wh * 5 * N * M + R * 2 * N * M
    forward = 2 * matmul_macs + memory_flops
    flops = 3 * forward
    words = 2 * N * M + 2 * 4 * heads * N + (X + Y + 1)
    params = controller + (4 * H if lstm else H) + interface_size(cfg) * (H + 1) \
        + Y * (H + R * M + 1) + N * M + R * M + heads * N
    return {"forward_flops": forward, "flops": flops, "bytes": words * FLOAT32_BYTES,
            "param_bytes": 3 * params * FLOAT32_BYTES, "params": params}


def floor_seconds(floor, batch, steps, peak_flops, peak_bytes):
    compute = floor["flops"] * batch * steps / peak_flops
    traffic = (floor["bytes"] * batch + floor["param_bytes"]) * steps / peak_bytes
    return max(compute, traffic), compute, traffic


# ---------------------------------------------------------------- the steps

def make_data(cfg, batch, steps, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, steps, cfg.X)) > 0.5).astype(np.float32)
    y = (rng.random((batch, steps, cfg.Y)) > 0.5).astype(np.float32)
    return x, y, np.ones((batch, steps), np.float32)


def _torch_tensors(cfg, params, batch, steps, device):
    import torch
    from diffmem.backends.torch import to_tensors
    p = to_tensors(params, device, "float32", requires_grad=True)
    x, y, m = (torch.as_tensor(a, device=device) for a in make_data(cfg, batch, steps))
    return p, x, y, m


def _sync(device):
    import torch
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


def eager_step(model_cls):
    def make(cfg, params, batch, steps, device):
        from diffmem.backends.torch import TorchOps, sequence_loss
        model = model_cls(TorchOps(device), cfg)
        p, x, y, m = _torch_tensors(cfg, params, batch, steps, device)

        def step():
            for v in p.values():
                v.grad = None
            sequence_loss(model, p, x, y, m).sum().backward()
            _sync(device)
        return step, 0.0
    return make


def torch_step(cfg, params, batch, steps, device):
    from diffmem.models.ntm.batched import BatchedNTM
    return eager_step(BatchedNTM)(cfg, params, batch, steps, device)


def triton_step(cfg, params, batch, steps, device):
    from diffmem.backends.triton.model import TritonNTM
    return eager_step(TritonNTM)(cfg, params, batch, steps, device)


def graphs_step(model_cls):
    def make(cfg, params, batch, steps, device):
        from diffmem.backends.torch import TorchOps
        from diffmem.backends.torch.graphs import StaticStep
        p, x, y, m = _torch_tensors(cfg, params, batch, steps, device)
        t0 = time.perf_counter()
        static = StaticStep(model_cls(TorchOps(device), cfg), cfg, params, batch, steps,
                            device, "float32", want_grads=True)
        capture_s = time.perf_counter() - t0

        def step():
            static(p, x, y, m)
            _sync(device)
        return step, capture_s
    return make


def torch_graphs_step(cfg, params, batch, steps, device):
    from diffmem.models.ntm.batched import BatchedNTM
    return graphs_step(BatchedNTM)(cfg, params, batch, steps, device)


def triton_graphs_step(cfg, params, batch, steps, device):
    from diffmem.backends.triton.model import TritonNTM
    return graphs_step(TritonNTM)(cfg, params, batch, steps, device)


def jax_step(cfg, params, batch, steps, device):
    import jax
    from diffmem.backends.jax import make_model, sequence_loss
    dev = jax.devices("gpu" if device.startswith("cuda") else "cpu")[0]
    model = make_model(cfg)
    p = {k: jax.device_put(np.asarray(v, np.float32), dev) for k, v in params.items()}
    x, y, m = (jax.device_put(a, dev) for a in make_data(cfg, batch, steps))
    grad = jax.jit(jax.value_and_grad(lambda p, x: sequence_loss(model, p, x, y, m).sum()))
    t0 = time.perf_counter()
    compiled = grad.lower(p, x).compile()
    compile_s = time.perf_counter() - t0

    def step():
        jax.block_until_ready(compiled(p, x))
    return step, compile_s


STEPS = {"triton": triton_step, "triton-graphs": triton_graphs_step, "jax": jax_step,
         "torch": torch_step, "torch-graphs": torch_graphs_step}


def timed(fn, seconds, min_reps):
    fn()
    walls = []
    start = time.perf_counter()
    while len(walls) < min_reps or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return float(np.median(walls))


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256, 1024, 4096])
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    ap.add_argument("--seconds", type=float, default=2.0, help="timing per measurement")
    ap.add_argument("--steps", type=int, default=COPY_STEPS, help="sequence length T")
    ap.add_argument("--peak-tflops", type=float, default=67.0,
                    help="float32 peak of the card, TFLOP/s (default: H100 SXM, no tensor cores)")
    ap.add_argument("--peak-gbs", type=float, default=3350.0,
                    help="memory bandwidth of the card, GB/s (default: H100 SXM)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: batches 1 and 2, T = 2, one repetition")
    args = ap.parse_args(argv)
    if args.quick:
        args.batches, args.steps, args.seconds = [1, 2], 2, 0.0
    if args.device == "cpu":
        os.environ.setdefault("TRITON_INTERPRET", "1")   # before triton is imported
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"bench_gpu: --device {args.device}: torch {torch.__version__} sees no CUDA "
              f"device; use --device cpu --quick for a smoke run", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False   # float32 means float32 (no TF32)
    torch.backends.cudnn.allow_tf32 = False
    os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")

    cfg, steps = COPY, args.steps
    params = init_params(cfg, seed=0)
    floor = floor_per_step(cfg)
    peak_flops, peak_bytes = args.peak_tflops * 1e12, args.peak_gbs * 1e9
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") \
        else "CPU (triton through the interpreter: not a speed)"
    print(f"device: {where}; torch {torch.__version__}; float32, no TF32; forward + "
          f"backward per training step")
    print(f"copy configuration: LSTM H={cfg.H}, N={cfg.N}, M={cfg.M}, R={cfg.R}, "
          f"Wh={cfg.Wh}, X={cfg.X}, Y={cfg.Y}, T={steps}")
    print(f"floor per sequence-step: {floor['forward_flops']:,} FLOPs forward, "
          f"{floor['flops']:,} forward + backward; {floor['bytes']:,} bytes off-chip "
          f"(Mem_t saved for backward, head weights, x/y/mask); plus "
          f"{floor['param_bytes']:,} bytes of parameters and their gradients per step, "
          f"shared by the batch ({floor['params']:,} parameters)")
    print(f"floor seq/s below: at {args.peak_tflops:g} TFLOP/s and {args.peak_gbs:g} GB/s "
          f"(assumed peaks; pass --peak-tflops/--peak-gbs for your card)\n")
    print(f"{'backend':14}{'batch':>6}{'seq/s':>12}{'ms/step':>10}{'setup s':>9}"
          f"{'floor seq/s':>13}{'bound by':>10}{'% of floor':>12}")
    for backend in args.backends:
        for batch in args.batches:
            try:
                step, setup_s = STEPS[backend](cfg, params, batch, steps, args.device)
                sec = timed(step, args.seconds, min_reps=1 if args.quick else 3)
            except Exception as exc:   # one backend failing must not hide the others
                print(f"{backend:14}{batch:>6}  failed: {type(exc).__name__}: "
                      f"{str(exc).splitlines()[0][:100]}", flush=True)
                continue
            best, compute, traffic = floor_seconds(floor, batch, steps, peak_flops, peak_bytes)
            print(f"{backend:14}{batch:>6}{batch / sec:>12,.0f}{sec * 1e3:>10.2f}"
                  f"{setup_s:>9.1f}{batch / best:>13,.0f}"
                  f"{('compute' if compute >= traffic else 'memory'):>10}"
                  f"{100 * best / sec:>11.2g}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
