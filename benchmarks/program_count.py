"""How many JAX programs the default check compiles, and how many it could at least.

Per family: the fixture groups (cases sharing a configuration and array shapes: one
program each per dtype), the held-out draws of one seed (one program each per dtype), and
the *structural* configurations among the fixtures and the held-out draws of ``--seeds``
seeds: what no padding or mask can merge short of carrying every variant in one program
(model, controller, loss, the delta family's flags and per-value beta, the Stack-RNN's
action set).  With ``--sizes CASE``, also how the compile time of one traced program
(float32, trace and gradients, as a check compiles it) moves when its sizes grow: a
program made independent of the sizes by padding would be compiled at the largest.  With
``--xla CASE``, the same program built by XLA's default settings, by each of the quick
build's two options alone and by the quick build (backends/driver.py,
``JAX_XLA_SETTINGS``): compile seconds, run milliseconds, and how many of its output
arrays differ in their bits from the default build's and by how much.

    python benchmarks/program_count.py [--seed 8] [--seeds 10] [--sizes ntm-random-lstm-multihead-wide-sharp]
        [--xla dnc-copy-ff-init]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import time

import numpy as np

from diffmem.harness.fixture_io import case_names, case_path
from diffmem.models import families


def structural(config) -> tuple:
    d = config if isinstance(config, dict) else dataclasses.asdict(config)
    out = []
    for k, v in sorted(d.items()):
        if isinstance(v, (bool, str)):
            out.append((k, v))
        elif k == "cu_seqlens":
            out.append(("varlen", v is not None))
        elif k == "actions":
            out.append((k, tuple(v)))
    return tuple(out)


def count(seed, seeds):
    groups, kinds = collections.defaultdict(set), collections.defaultdict(set)
    heldout = collections.Counter()
    for name in case_names():
        with np.load(case_path(name), allow_pickle=False) as z:
            config = json.loads(str(z["case.json"]))["config"]
            shapes = (z["inputs"].shape, z["targets"].shape)
        family = _family_of(config)
        groups[family].add((json.dumps(config, sort_keys=True), shapes))
        kinds[family].add(structural(config))
    for name, fam in families().items():
        for s in range(seed, seed + seeds):
            for i in range(4):
                config = fam.heldout(s, i).build()[0]
                kinds[name].add(structural(config))
                heldout[name] += s == seed
    print(f"{'family':<10} {'fixture groups':>15} {'held-out (seed %d)' % seed:>19} "
          f"{'programs':>9} {'structural':>11}")
    total = [0, 0, 0, 0]
    for name in families():
        row = (len(groups[name]), heldout[name], 2 * (len(groups[name]) + heldout[name]),
               len(kinds[name]))
        total = [a + b for a, b in zip(total, row)]
        print(f"{name:<10} {row[0]:>15} {row[1]:>19} {row[2]:>9} {row[3]:>11}")
    print(f"{'all':<10} {total[0]:>15} {total[1]:>19} {total[2]:>9} {total[3]:>11}")
    print("(programs: float32 and float64; structural: over the fixtures and the held-out "
          f"draws of seeds {seed}..{seed + seeds - 1})")


def _family_of(config: dict) -> str:
    from diffmem.models import bind
    return bind(config).family.name


def sizes(case_name):
    import jax

    from diffmem.backends.driver import check_run_args
    from diffmem.backends.jax import driver as D
    from diffmem.harness.fixture_io import load_case
    from diffmem.models import bind
    case = load_case(case_path(case_name))
    base = case.config

    def compile_seconds(label, **changes):
        cfg = dataclasses.replace(base, **changes)
        params = bind(cfg).init_params(1, "init")
        inputs = np.random.default_rng(0).random(case.inputs.shape)
        model, p, x, y, m = check_run_args(cfg, params, inputs, case.targets, case.mask,
                                           "float32")
        with D.precision("float32"):
            args = jax.device_put((p, x, y, m))
            started = time.perf_counter()
            lowered = D.lower_program(None, model.config, True, True, args, "float32")
            lowered_at = time.perf_counter()
            lowered.compile()
            done = time.perf_counter()
        print(f"  {label:<34} trace and lower {lowered_at - started:5.2f} s, "
              f"compile {done - lowered_at:5.2f} s", flush=True)

    print(f"{case_name}: {base}")
    compile_seconds("as it is")
    fields = {f.name for f in dataclasses.fields(base)}
    grow = {k: v for k, v in (("memory_rows", 128), ("memory_width", 32),
                              ("controller_size", 128)) if k in fields}
    for k in grow:
        compile_seconds(f"{k}={grow[k]}", **{k: grow[k]})
    compile_seconds("all of " + ", ".join(grow), **grow)


def builds(case_name):
    import jax

    from diffmem.backends.driver import JAX_XLA_SETTINGS, check_run_args
    from diffmem.backends.jax import driver as D
    from diffmem.harness.fixture_io import load_case
    case = load_case(case_path(case_name))
    model, p, x, y, m = check_run_args(case.config, case.params, case.inputs, case.targets,
                                       case.mask, "float32")
    quick = JAX_XLA_SETTINGS["quick"]
    settings = [("XLA's default", None)] + [(f"{k}={v} alone", {k: v}) for k, v in quick.items()] \
        + [("quick (both)", quick)]
    print(f"{case_name}, float32, traced with gradients:")
    with D.precision("float32"):
        args = jax.device_put((p, x, y, m))
        lowered = D.lower_program(None, model.config, True, True, args, "float32")
        first = None
        for label, options in settings:
            started = time.perf_counter()
            program = lowered.compile(compiler_options=options)
            compiled = time.perf_counter() - started
            out = jax.device_get(program(*args))
            started = time.perf_counter()
            for _ in range(5):
                jax.block_until_ready(program(*args))
            run_ms = (time.perf_counter() - started) / 5 * 1e3
            leaves = [np.asarray(a, np.float64) for a in jax.tree_util.tree_leaves(out)]
            first = first or leaves
            differ = [a for a, b in zip(leaves, first) if not np.array_equal(a, b)]
            rel = max((float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) or 1.0))
                       for a, b in zip(leaves, first)), default=0.0)
            print(f"  {label:<44} compile {compiled:5.2f} s  run {run_ms:6.1f} ms  "
                  f"arrays differing from the default build: {len(differ)} of {len(leaves)} "
                  f"(largest difference / largest value {rel:.1e})", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--sizes", metavar="CASE", default=None)
    p.add_argument("--xla", metavar="CASE", default=None)
    a = p.parse_args()
    count(a.seed, a.seeds)
    if a.sizes:
        sizes(a.sizes)
    if a.xla:
        builds(a.xla)


if __name__ == "__main__":
    main()
