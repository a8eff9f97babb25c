"""Where a failing run first went wrong: the first-divergence line and the suspect line.

``locate`` finds the earliest (step, stage, head), in the model's stage order, whose
values leave their bound, and says what was compared before it and matched (only what was
compared: a partial trace claims nothing about the stages it lacks).  ``find_suspect``
(float64 only) names the earliest value far above float64 rounding, even within its bound.
"""

from __future__ import annotations

import numpy as np

from diffmem.models.family import GRADIENT_ONLY, LOSS, OUTPUT

from .tolerance import SUSPECT_FACTOR
from .verdict import MAX_LISTED, Divergence, Mark, Suspect, failure_order, format_where


def _stage_list(stages):
    """Stages numbered [1, 2, 3, 5, 7, 8] -> '1-3, 5, 7-8'."""
    stages, out, i = sorted({s.number for s in stages}), [], 0
    while i < len(stages):
        j = i
        while j + 1 < len(stages) and stages[j + 1] == stages[j] + 1:
            j += 1
        out.append(str(stages[i]) if i == j else f"{stages[i]}-{stages[j]}")
        i = j + 1
    return ", ".join(out)


def _matched_before(t: int, stage, compared: set, all_stages: set) -> str:
    """What was compared, and matched, before (t, stage): only stages that were compared."""
    parts = []
    full = compared == all_stages
    everything = "all stages" if full else f"stages {_stage_list(compared)}"
    if t == 1:
        parts.append(f"step 0 {everything}")
    elif t > 1:
        parts.append(f"steps 0-{t - 1} {everything}")
    earlier = sorted(s for s in compared if s < stage)
    if earlier:
        parts.append(f"step {t} stage{'s' if len(earlier) > 1 else ''} {_stage_list(earlier)}")
    text = ", ".join(parts) if parts else "nothing comes before it"
    missing = sorted(all_stages - compared)
    if missing:
        text += f"; stages {_stage_list(missing)} not compared: the backend returned no trace for them"
    return text


def locate(reports, entries) -> Divergence | None:
    """The first (step, stage, head) in stage order whose values leave tolerance, as a
    ``Divergence``; None when everything matched."""
    order = {f"trace/{e.name}": i for i, e in enumerate(entries)}
    compared = {entries[order[r.tensor]].stage for r in reports
                if r.tensor in order and r.step_ratios is not None}
    all_stages = {e.stage for e in entries}
    best = None
    for r in reports:
        if r.step_ratios is None or r.tensor not in order:
            continue
        bad = r.step_ratios > 1
        if not bad.any():
            continue
        t = int(np.argmax(bad.any(axis=1)))
        key = (t, order[r.tensor])
        if best is None or key < best[0]:
            best = (key, r, int(np.argmax(bad[t])))
    failed = {r.tensor for r in reports if r.status == Mark.FAIL}
    if best is not None:
        (t, _), r, head = best
        entry = entries[order[r.tensor]]
        name = r.tensor.split("/", 1)[1]
        head_text = f" head {head}" if entry.heads else ""
        line = (f"first divergence: t={t} stage {entry.stage.number} {name}{head_text} "
                f"(compared before it and matched: "
                f"{_matched_before(t, entry.stage, compared, all_stages)})")
        if r.first_bad and "error" in r.first_bad:
            fb = r.first_bad
            line += (f"\n  at the divergence: {format_where(fb)}: got {fb['got']:.9g}, "
                     f"expected {fb['expected']:.9g}, |error| {fb['error']:.3g} vs bound "
                     f"{fb['bound']:.3g}{fb['hint']}")
        return Divergence(line, entry.stage, step=t, name=name,
                          head=head if entry.heads else None)
    if not failed:
        return None
    # A part of the wrong shape, dtype or type (or missing) says nothing about where the
    # math went wrong: name it and its shape rather than blame a stage.
    malformed = [r for r in reports if r.status == Mark.FAIL and r.kind.malformed]
    if malformed:
        return Divergence("not localised: the Result is malformed: "
                          + "; ".join(r.message for r in malformed[:MAX_LISTED]))
    trace_given = bool(compared)
    forward = sorted(x for x in failed if x in ("logits", "loss") or x.startswith("trace/"))
    if not trace_given and forward:
        return Divergence(f"not localised: the backend returned no trace "
                          f"({', '.join(forward)} differ)")
    if any(x.startswith("trace/") for x in failed):
        return Divergence("not localised: trace entries could not be compared ("
                          + ", ".join(sorted(x for x in failed if x.startswith("trace/")))
                          + ")")
    if "logits" in failed:
        return Divergence("Result.logits differ although the trace matched at every step "
                          "and stage it holds", OUTPUT)
    if "loss" in failed:
        return Divergence("loss: the trace and logits matched at every step; the loss from "
                          "them differs (mask, targets or the loss formula)", LOSS)
    grads = sorted((r for r in reports if r.status == Mark.FAIL), key=failure_order)
    names = [r.tensor for r in grads]
    return Divergence("forward matched (logits, loss" + (", trace" if trace_given else "")
                      + "); only gradients differ, worst first: "
                      + ", ".join(names[:MAX_LISTED])
                      + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED
                         else ""), GRADIENT_ONLY)


def find_suspect(reports, entries) -> Suspect | None:
    """float64 only: the earliest tensor (trace entries in step and stage order first)
    whose error is far above float64 rounding, within its bound or not: a cause that
    hides inside tolerance (a softplus that linearises, an epsilon in the wrong place)."""
    order = {f"trace/{e.name}": (e.stage, i) for i, e in enumerate(entries)}
    # A tensor outside its bound is already named by the failure (or the divergence
    # line); the suspect is for what hides inside tolerance.
    found = [r for r in reports if r.suspect is not None and r.status != Mark.FAIL]
    if not found:
        return None

    def key(r):
        if r.tensor in order:
            return (0, r.suspect.get("t", 0)) + order[r.tensor]
        return (1, 0, 0, 0)
    r = min(found, key=key)
    s = r.suspect
    stage = f" (stage {r.stage.number})" if r.stage is not None else ""
    line = (f"suspect: {r.tensor}{stage} at {format_where(s)}: |error| {s['error']:.3g} is "
            f"{s['error'] / s['rounding']:.3g}x float64 rounding here ({s['rounding']:.2g}), "
            f"within its bound; a correct float64 implementation stays below "
            f"{SUSPECT_FACTOR:g}x. The cause may sit here although the first divergence is "
            f"reported later")
    return Suspect(line, r.tensor, r.stage, step=s.get("t", 0))


