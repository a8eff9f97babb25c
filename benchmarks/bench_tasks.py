"""How long the task generators take per batch of 32, at the paper's training sizes.

    python benchmarks/bench_tasks.py
"""

import math
import time

import numpy as np

from diffmem.models.ntm.tasks import bayes_optimal_cost, make_batch

PAPER = [  # (task, lo, hi, options): Graves et al. 2014, section 4
    ("copy", 1, 20, {}),
    ("repeat_copy", 1, 10, {}),
    ("associative_recall", 2, 6, {}),
    ("dynamic_ngrams", 200, 200, {}),
    ("priority_sort", 20, 20, {}),
    ("random", 1, 100, {"input_size": 10, "output_size": 8}),
]


def median_ms(fn, repeats=20):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main():
    rng = np.random.default_rng(0)
    for task, lo, hi, options in PAPER:
        ms = median_ms(lambda: make_batch(task, rng, 32, lo, hi, **options))
        print(f"make_batch {task:<20} B=32 knob {lo}..{hi}: {ms:7.2f} ms")
    batch = make_batch("dynamic_ngrams", rng, 32, 200, 200)
    ms = median_ms(lambda: bayes_optimal_cost(*batch[:3], order=6))
    costs = bayes_optimal_cost(*batch[:3], order=6)
    print(f"bayes_optimal_cost      B=32 T=200: {ms:7.2f} ms; floor {costs.mean():.1f} nats "
          f"= {costs.mean() / math.log(2):.1f} bits per sequence (fair coin: 199 bits)")


if __name__ == "__main__":
    main()
