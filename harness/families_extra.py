"""Three small comparison extensions an op-level family declares (docs/harness.md,
"Strided trace entries, input blocks, display names"); the backend protocol is unchanged.

- **Strided trace entries** (``TraceEntry.steps``): an entry that holds some steps only
  ([B, len(steps), ...], e.g. delta/1's state every 64 steps) is compared as any trace
  entry, then ``restride`` maps its step index j to the step s_j it holds: in the
  report's positions and message, and in its per-step ratios, widened to [T, heads]
  (steps it does not hold: nothing compared, ratio 0), so the first-divergence line
  orders it with every other entry by (step, stage).
- **Input blocks** (``Family.input_blocks``): ``grad_inputs`` is compared block by block
  (``grad_inputs/dq``, ``grad_inputs/dk``, ...), each against its own scale and baseline
  error, so a small gradient (dg, dbeta) cannot hide under a large one (dv).
- **Display names** (``Family.display_names``): a tensor's message names what it means,
  e.g. ``grads/dht (final state ht)``: the loss is linear in dht, so its gradient is ht;
  and ``Family.describe_step`` says where the first divergence's step sits, e.g.
  ``t=130 (chunk 2 of sequence 1)``.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

_STEP = re.compile(r"\bt=(\d+)")


def restride(report, steps, total_steps):
    """A strided entry's report, its step index j replaced by step ``steps[j]``."""
    steps = np.asarray(steps, dtype=np.int64)

    def step_of(j):
        return int(steps[j]) if 0 <= j < len(steps) else j
    for where in (report.where, report.first_bad, report.suspect):
        if where and "t" in where:
            where["t"] = step_of(where["t"])
    report.message = _STEP.sub(lambda m: f"t={step_of(int(m.group(1)))}", report.message)
    if report.step_ratios is not None:
        wide = np.zeros((total_steps,) + report.step_ratios.shape[1:])
        wide[steps] = report.step_ratios
        report.step_ratios = wide
    return report


def input_block_reports(compare, family, cfg, whole, got, exp64, low, pert):
    """Reports ``grad_inputs/<block>`` in place of the whole ``grad_inputs`` report, when
    the family declares blocks and the whole tensor is well-formed (else the whole one)."""
    blocks = family.input_blocks(cfg)
    if blocks is None or whole.kind.malformed:
        return [whole]
    out = []
    for name, start, width in blocks:
        cut = slice(start, start + width)
        out.append(compare(f"{whole.tensor}/{name}", got[..., cut], exp64[..., cut],
                           low[..., cut], None if pert is None else pert[..., cut]))
    return out


def apply_display_names(family, cfg, reports):
    """Spell out what a tensor means in its message, e.g. grads/dht (final state ht)."""
    names = family.display_names(cfg)
    for r in reports:
        for tensor, meaning in names.items():
            if r.tensor.endswith(tensor) and meaning not in r.message:
                r.message = r.message.replace(r.tensor, f"{r.tensor} ({meaning})", 1)
    return reports


def describe_divergence(family, cfg, divergence):
    """The first-divergence line with the family's description of its step added."""
    if not divergence or not divergence.in_trace:
        return divergence
    t = divergence.step
    where = family.describe_step(cfg, t)
    if where is None:
        return divergence
    return dataclasses.replace(divergence,
                               line=divergence.line.replace(f" t={t} ", f" t={t} ({where}) ", 1))
