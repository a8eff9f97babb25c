"""Sequences and wall time until copy converges: the running mean of the training bits
per sequence (last 100 steps) falls below 0.1 on the training range.

    python benchmarks/bench_convergence.py --config paper   # 8-bit, 1..20, N=128 M=20 LSTM 100
    python benchmarks/bench_convergence.py --config small   # the pretrained copy model's sizes
    python benchmarks/bench_convergence.py --config paper --backend torch --max-minutes 20

Prints one line per --report-every steps and a final line with the figures.  Anchor
(issue 5): pytorch-ntm converges the paper configuration in about 17,000 sequences at
batch 1 (an estimated 12-13 minutes on a 2-core machine); the target is under 5 minutes.
Wall time includes JAX's compile (reported separately).
"""

import argparse
import time

from diffmem.training.loop import Trainer

CONFIGS = {
    "paper": dict(options={"width": 8}, N=128, M=20, controller="lstm", units=100, lo=1, hi=20),
    "small": dict(options={"width": 4}, N=24, M=8, controller="feedforward", units=100,
                  lo=1, hi=10),
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--config", choices=sorted(CONFIGS), default="paper")
    p.add_argument("--backend", choices=("jax", "torch"), default="jax")
    p.add_argument("--optimizer", choices=("adam", "rmsprop"), default="adam")
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threshold", type=float, default=0.1, help="bits per sequence")
    p.add_argument("--max-minutes", type=float, default=30.0)
    p.add_argument("--report-every", type=int, default=100)
    args = p.parse_args()

    settings = dict(CONFIGS[args.config], task="copy", read_heads=1, write_heads=1,
                    curriculum=None, optimizer=args.optimizer, lr=args.lr, lr_halve_every=None,
                    clip=10.0, backend=args.backend, dtype=None, batch_size=args.batch_size,
                    seed=args.seed, steps=10 ** 9, sequences=0, save_every=0, log_every=0,
                    view=False, grad_check=False, save_to="/dev/null", command="benchmark")
    trainer = Trainer(settings, out=print)
    print(f"copy {args.config}: {trainer.cfg.to_dict()}; {args.backend}, {args.optimizer} "
          f"lr {trainer.optimizer.lr:g}, batch {args.batch_size}")
    start = time.perf_counter()
    trainer.step()
    first = time.perf_counter() - start  # includes JAX's compile(s)
    converged = False
    while time.perf_counter() - start < 60 * args.max_minutes:
        trainer.step()
        bits = trainer.metrics["bits"]
        if trainer.steps % args.report_every == 0:
            print(f"step {trainer.steps:6d}  sequences {trainer.sequences:7d}  "
                  f"{time.perf_counter() - start:7.1f} s  bits/seq {bits:.4f}  "
                  f"bit errors/seq {trainer.metrics['errors']:.3f}", flush=True)
        if len(trainer._window) >= 100 and bits < args.threshold:
            converged = True
            break
    wall = time.perf_counter() - start
    status = "converged" if converged else f"NOT converged within {args.max_minutes} min"
    print(f"RESULT copy {args.config} {args.backend} {args.optimizer} batch {args.batch_size}: "
          f"{status}; {trainer.sequences} sequences, {trainer.steps} steps, {wall:.1f} s wall "
          f"(first step incl. compile {first:.1f} s), final bits/seq "
          f"{trainer.metrics['bits']:.4f}")


if __name__ == "__main__":
    main()
