"""Where things live in delta/1 (DELTA.md, "Mapping onto the harness"): the input blocks,
the parameters (h0, dht), the sequences of a batch, the trace names, stages and the
strided state steps.

Shared by the reference and the batched form, so that a change of layout happens once.
``split_inputs`` uses only slicing and ``reshape``, which numpy, autograd, JAX and torch
arrays share.
"""

from __future__ import annotations

import numpy as np

from diffmem.models.family import Stage, TraceEntry

from .config import CHUNK, DeltaConfig

NORMALISE = Stage(1, "normalise")
DECAY = Stage(2, "decay")
DELTA = Stage(3, "delta correction")
STATE = Stage(4, "state")
OUTPUT = Stage(5, "output")
STAGES = (NORMALISE, DECAY, DELTA, STATE, OUTPUT)


# ---------------------------------------------------------------- inputs

def input_blocks(cfg: DeltaConfig) -> list:
    """[(name, start, width)] of the packed inputs in fla's argument order: q, k, v, g
    (gated only), beta; each block head-major.  The names are the gradients' (dq ...),
    which is how ``grad_inputs`` is compared block by block."""
    widths = [("dq", cfg.H * cfg.K), ("dk", cfg.H * cfg.K), ("dv", cfg.HV * cfg.V)]
    if cfg.gated:
        widths.append(("dg", cfg.HV))
    widths.append(("dbeta", cfg.HV * cfg.beta_width))
    out, start = [], 0
    for name, width in widths:
        out.append((name, start, width))
        start += width
    return out


def split_inputs(x, cfg: DeltaConfig) -> dict:
    """x [..., X] -> {"q": [..., H, K], "k": [..., H, K], "v": [..., HV, V],
    "g": [..., HV] (zeros-free: absent for deltanet), "beta": [..., HV, 1 or V]}."""
    lead = tuple(x.shape[:-1])
    shapes = {"dq": (cfg.H, cfg.K), "dk": (cfg.H, cfg.K), "dv": (cfg.HV, cfg.V),
              "dg": (cfg.HV,), "dbeta": (cfg.HV, cfg.beta_width)}
    return {name[1:]: x[..., start:start + width].reshape(lead + shapes[name])
            for name, start, width in input_blocks(cfg)}


# ---------------------------------------------------------------- parameters

def param_shapes(cfg: DeltaConfig) -> dict:
    """h0 [N, HV, K, V] with ``initial_state``; dht [N, HV, K, V] (the cotangent of the
    final state) with ``output_final_state``."""
    shape = (cfg.N, cfg.HV, cfg.K, cfg.V)
    out = {}
    if cfg.initial_state:
        out["h0"] = shape
    if cfg.output_final_state:
        out["dht"] = shape
    return out


# ---------------------------------------------------------------- sequences

def sequences(cfg: DeltaConfig, batch: int, steps: int) -> list:
    """[(row, bos, eos)] for n = 0..N-1: without cu_seqlens sequence n is row n, steps
    [0, T); with them row 0, steps [c_n, c_{n+1})."""
    if cfg.cu_seqlens is None:
        if batch != cfg.N:
            raise ValueError(f"delta inputs: expected B = sequences = {cfg.N} rows, got {batch}")
        return [(n, 0, steps) for n in range(cfg.N)]
    if batch != 1 or steps != cfg.cu_seqlens[-1]:
        raise ValueError(f"delta inputs: with cu_seqlens expected B = 1 row of T = "
                         f"{cfg.cu_seqlens[-1]} steps, got B = {batch}, T = {steps}")
    cu = cfg.cu_seqlens
    return [(0, cu[n], cu[n + 1]) for n in range(cfg.N)]


def state_positions(length: int) -> list:
    """Positions p (from the sequence's start) whose state the trace holds: every 64th
    ((p + 1) % 64 == 0, fla's chunk-start states) and the last (p = len - 1: ht)."""
    out = [p for p in range(CHUNK - 1, length, CHUNK)]
    if length and (not out or out[-1] != length - 1):
        out.append(length - 1)
    return out


def state_steps(cfg: DeltaConfig, steps: int) -> np.ndarray:
    """The steps of the row that the ``state`` trace holds, in order (the union over the
    sequences: with cu_seqlens each belongs to one sequence)."""
    seqs = sequences(cfg, cfg.N if cfg.cu_seqlens is None else 1, steps)
    held = sorted({bos + p for _, bos, eos in seqs for p in state_positions(eos - bos)})
    return np.asarray(held, dtype=np.int64)


# ---------------------------------------------------------------- trace

def trace_entries(cfg: DeltaConfig) -> list:
    """The trace names in stage order.  ``state`` holds only the steps of
    ``state_steps`` (a strided entry: its array is [B, len(steps), HV, K, V])."""
    entries = []
    if cfg.qk_l2norm:
        entries += [TraceEntry("q_norm", NORMALISE, "qk"), TraceEntry("k_norm", NORMALISE, "qk")]
    if cfg.gated:
        entries.append(TraceEntry("decay", DECAY, "value"))
    entries += [TraceEntry("delta", DELTA, "value"),
                TraceEntry("state", STATE, "value", lambda steps: state_steps(cfg, steps)),
                TraceEntry("output", OUTPUT, "value")]
    return entries


def trace_shapes(cfg: DeltaConfig, steps: int) -> dict:
    """Trace name -> per-step shape (no B, no T)."""
    shapes = {"q_norm": (cfg.H, cfg.K), "k_norm": (cfg.H, cfg.K), "decay": (cfg.HV,),
              "delta": (cfg.HV, cfg.V), "state": (cfg.HV, cfg.K, cfg.V),
              "output": (cfg.HV, cfg.V)}
    return {e.name: shapes[e.name] for e in trace_entries(cfg)}


def display_names(cfg: DeltaConfig) -> dict:
    """Tensor names the harness's messages spell out: dL/d(dht) is the final state."""
    return {"grads/dht": "final state ht"} if cfg.output_final_state else {}


def describe_step(cfg: DeltaConfig, t: int) -> str:
    """Where step t of a row sits: its chunk, counted from its sequence's start, e.g.
    "chunk 2" or, under cu_seqlens, "sequence 3, chunk 1, position 70 in it"."""
    if cfg.cu_seqlens is None:
        return f"chunk {t // CHUNK}"
    cu = cfg.cu_seqlens
    n = next(i for i in range(cfg.N) if cu[i] <= t < cu[i + 1])
    p = t - cu[n]
    return f"sequence {n}, chunk {p // CHUNK}, position {p} in it"
