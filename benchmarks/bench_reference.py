"""Speed of the frozen reference: forward + backward of one sequence, float64.

Configuration of the original project's copy task (issue 2 item 6): feedforward
controller H=100, N=15, M=7, one read and one write head, X=5, Y=3, T=8.
Prints the median over repeats (wall clock, and CPU time of this process, which a
busy machine inflates less), then how the time grows with T and with N.

    python benchmarks/bench_reference.py            # full table
    python benchmarks/bench_reference.py --quick    # copy config only
"""

import argparse
import statistics
import time

import numpy as np

from diffmem.models.ntm.reference import NTMConfig, init_params, run_sequence

COPY = dict(input_size=5, output_size=3, controller_size=100, memory_rows=15,
            memory_width=7, read_heads=1, write_heads=1)


def median_ms(cfg, T, repeats, want_trace=False):
    """(median wall ms, median CPU ms) of forward + backward of one sequence."""
    params = init_params(cfg, seed=0)
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 2, (T, cfg.X)).astype(float)
    targets = rng.integers(0, 2, (T, cfg.Y)).astype(float)
    mask = np.ones(T)
    run_sequence(cfg, params, inputs, targets, mask, want_trace=want_trace)   # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run_sequence(cfg, params, inputs, targets, mask, want_trace=want_trace)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1e3 * statistics.median(wall), 1e3 * statistics.median(cpu)


def show(label, ms, per=None):
    wall, cpu = ms
    extra = f"   {wall / per:7.3f} ms/step" if per else ""
    print(f"  {label:28s} {wall:9.2f} ms wall {cpu:9.2f} ms CPU{extra}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="copy config only")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)

    cfg = NTMConfig(**COPY)
    print("reference forward + backward of one sequence, float64, median of "
          f"{args.repeats} runs")
    print("copy config (feedforward H=100, N=15, M=7, R=Wh=1, X=5, Y=3), T=8:")
    show("want_trace=False", median_ms(cfg, 8, args.repeats))
    show("want_trace=True", median_ms(cfg, 8, args.repeats, want_trace=True))
    if args.quick:
        return 0
    print("growth with T (N=15):")
    for T in (8, 16, 32, 64, 128):
        show(f"T={T}", median_ms(cfg, T, max(3, args.repeats * 8 // T)), per=T)
    print("growth with N (T=8):")
    for N in (15, 32, 64, 128):
        show(f"N={N}", median_ms(NTMConfig(**{**COPY, "memory_rows": N}), 8, args.repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
