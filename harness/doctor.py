"""``diffmem doctor``: what this machine gives diffmem, before a check is run on it.

The devices each framework sees, the versions, the matrix-product precision in force
(as the process left it, and what diffmem's runs use instead), free GPU memory, what
``diffmem check --device cuda`` will do (workers, GPU memory preallocation), and the
folders a check keeps JAX's programs in between runs.
"""

from __future__ import annotations

import json
import os
import sys


def add_commands(subparsers):
    p = subparsers.add_parser("doctor", help="devices, versions and precision this machine "
                                             "gives diffmem",
                              description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(func=cmd_doctor)


def _gib(n):
    return "?" if n is None else f"{n / 2**30:.1f} GiB"


def format_inventory(info) -> str:
    v = info["versions"]
    lines = ["versions: " + ", ".join(f"{k} {v[k] or 'not installed'}" for k in v)]
    t = info["torch"]
    if not t["available"]:
        lines.append(f"torch: {t['reason']}")
    else:
        lines.append(f"torch: cpu; CUDA build {t['cuda_build'] or 'none'}"
                     + (f"; {t['reason']}" if t.get("reason") else ""))
        for g in t["gpus"]:
            lines.append(f"  {g['device']} {g['name']} (compute {g['capability']}"
                         f"{', TF32 tensor cores' if g['tf32_capable'] else ''}): "
                         f"{_gib(g['free_bytes'])} free of {_gib(g['total_bytes'])}")
    j = info["jax"]
    if not j["available"]:
        lines.append(f"jax: {j['reason']}")
    else:
        lines.append(f"jax: {', '.join(j['devices'])} (default backend {j['default_backend']})"
                     + (f"; {j['reason']}" if j.get("reason") else ""))
        for g in j["gpus"]:
            lines.append(f"  {g['device']} {g['kind']}: {_gib(g['bytes_in_use'])} in use of "
                         f"{_gib(g['bytes_limit'])} JAX may take")
        lines.append("  the bundled JAX backend's programs on a CPU: " + (
            "XLA's quick build (LLVM -O0, classic emitters: 3-6x faster to compile, same "
            "operations; DIFFMEM_JAX_XLA=default for XLA's own)"
            if j["cpu_build"] == "quick" else
            "XLA's default build (DIFFMEM_JAX_XLA=default; unset for the quick build)"))
    lines.append("matrix-product precision in force in this process (the user's settings):")
    if t["available"]:
        shown = {k: val for k, val in t["settings"].items()
                 if "matmul" in k or k.split(".")[0] in ("cudnn", "backends")
                 and k.count(".") <= 1}
        lines.append("  torch: " + ", ".join(f"{k}={val}" for k, val in shown.items())
                     + (" ('none': torch's default)" if "none" in shown.values() else ""))
    if j["available"]:
        lines.append(f"  jax: jax_default_matmul_precision={j['matmul_precision']}"
                     + (" (the platform default: float32 dots may run in TF32 on an NVIDIA "
                        "GPU from Ampere on)" if j["matmul_precision"] is None else ""))
    lines.append("  diffmem's own runs, scoped to each run and restored after: float32 and "
                 "float64 at full precision (torch TF32 off, JAX HIGHEST); tf32 = TF32 on "
                 "CUDA, emulated on CPU; bfloat16 / float16 = matrix-product inputs in the "
                 "format (docs/precision.md)")
    lines.append(f"diffmem check --device cpu: {info['cpu_jobs']} worker process(es), "
                 f"OMP_NUM_THREADS=1 each unless set")
    plan = info["cuda_check"]
    if not plan["runs"]:
        lines.append(f"diffmem check --device cuda: refused here: {plan['reason']}")
    else:
        env = plan["worker_environment"][0]
        lines.append(f"diffmem check --device cuda: {plan['jobs']} worker process(es), one per "
                     f"visible GPU ({', '.join(plan['gpus'])}), each pinned to its GPU "
                     f"(CUDA_VISIBLE_DEVICES), XLA_PYTHON_CLIENT_PREALLOCATE="
                     f"{env['XLA_PYTHON_CLIENT_PREALLOCATE']} (JAX takes only what it uses)")
    if info.get("caches"):
        lines.append("kept between checks by their workers (delete a folder to empty it):")
        for c in info["caches"]:
            held = (f"{c['files']} files, {c['bytes'] / 1e6:.1f} MB" if c["files"] else
                    "empty: the next check with JAX compiles each of its programs (the "
                    "default check: minutes on a CPU)")
            lines.append(f"  {c['what']}: {c['folder']} ({c['variable']}): {held}")
    return "\n".join(lines)


def cmd_doctor(args) -> int:
    # Only this process: JAX must not claim 75 % of a GPU just to be looked at.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    from .devices import inventory
    info = inventory()
    if args.json:
        json.dump(info, sys.stdout, indent=1, default=str)
        print()
    else:
        print(format_inventory(info))
    return 0
