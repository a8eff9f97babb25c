"""Three steps worked by hand at exact ties, for the stack, the queue and the deque:
strengths, reads, and the gradients of the reads w.r.t. push (d), pop (u) and value (v),
where the LEFT-argument rule decides them (STACKS.md: d max(0, x)/dx = 0 at x = 0;
min(a, b) at a == b sends the whole gradient to a).

Activations are fed in directly (no controller), m = 1, so every read is a number.  The
same numbers are checked on the reference (autograd) and on the batched form (torch).
Values: v1 = 0.3, v2 = -0.7, v3 = 0.9 (deque: bottom / top values below).
"""

import autograd
import numpy as np
import pytest
import torch

from diffmem.backends.torch.ops import TorchOps
from diffmem.models.stack import reference as R
from diffmem.models.stack.batched import BatchedStack
from diffmem.models.stack.config import StackConfig

V1, V2, V3 = 0.3, -0.7, 0.9


# ---------------------------------------------------------------- running the two forms

def ref_run(model, acts):
    """acts: list (per step) of {field: float}; returns (strengths per step, reads per
    step, grads) where grads[t][read name] is {"step.field": d read / d field}."""
    def reads_of(flat):
        s, V, out = [], [], []
        for t, a in enumerate(acts):
            a = {k: flat[f"{t}.{k}"] for k in a}
            a = {k: (np.reshape(v, (1,)) if k.startswith("value") else v) for k, v in a.items()}
            if model == "stack":
                s, V = R.stack_update(s, V, a["push"], a["pop"], a["value"])
                out.append({"read": R.read_top(s, V)[0]})
            elif model == "queue":
                s, V = R.queue_update(s, V, a["push"], a["pop"], a["value"])
                out.append({"read": R.read_bottom(s, V)[0]})
            else:
                s, V = R.deque_update(s, V, a)
                out.append({"read.top": R.read_top(s, V)[0],
                            "read.bottom": R.read_bottom(s, V)[0]})
            out[-1]["s"] = s
        return out

    flat = {f"{t}.{k}": float(v) for t, a in enumerate(acts) for k, v in a.items()}
    runs = reads_of(flat)
    strengths = [[float(x) for x in r.pop("s")] for r in runs]
    grads = []
    for t, r in enumerate(runs):
        grads.append({name: autograd.grad(lambda f, t=t, name=name: reads_of(f)[t][name])(flat)
                      for name in r})
    return strengths, [{k: float(v) for k, v in r.items()} for r in runs], grads


def torch_run(model, acts):
    """The batched form's strengths and read stages (B = 1, 3 steps)."""
    cfg = StackConfig(1, 1, controller_size=1, value_size=1, model=model)
    stack = BatchedStack(TorchOps(), cfg)
    leaves = {f"{t}.{k}": torch.tensor([float(v)], dtype=torch.float64, requires_grad=True)
              for t, a in enumerate(acts) for k, v in a.items()}
    init = torch.zeros(1, dtype=torch.float64)
    state = stack.initial_state({"init.read": init if model != "deque" else
                                 torch.zeros(2, 1, dtype=torch.float64)}, 1, len(acts))
    strengths, reads = [], []
    for t, a in enumerate(acts):
        act = {k: (leaves[f"{t}.{k}"][:, None] if k.startswith("value") else leaves[f"{t}.{k}"])
               for k in a}
        s, V = stack.strengths(state, act)
        state = dict(state, strength=s, value=V, t=state["t"] + 1.0)
        strengths.append(s[0])
        reads.append({k: v[0, 0] for k, v in stack.read(s, V).items()})
    grads = []
    for r in reads:
        grads.append({})
        for name, value in r.items():
            g = torch.autograd.grad(value, list(leaves.values()), retain_graph=True,
                                    allow_unused=True)
            grads[-1][name] = {k: (0.0 if gk is None else float(gk[0]))
                               for k, gk in zip(leaves, g)}
    return strengths, [{k: float(v.detach()) for k, v in r.items()} for r in reads], grads


def check(model, acts, want_s, want_r, want_g):
    """want_s[t]: the rows (torch: laid out as the batched form holds them);
    want_g[t][read]: {"step.field": value}, every other partial derivative must be 0."""
    s_ref, r_ref, g_ref = ref_run(model, acts)
    s_bat, r_bat, g_bat = torch_run(model, acts)
    T = len(acts)
    for t in range(T):
        np.testing.assert_array_equal(s_ref[t], want_s[t])
        if model == "deque":   # rows T-t-1 .. T+t of the 2T preallocated (0-based t)
            laid = np.zeros(2 * T)
            laid[T - t - 1:T + t + 1] = want_s[t]
        else:
            laid = np.zeros(T)
            laid[:t + 1] = want_s[t]
        np.testing.assert_array_equal(s_bat[t].detach().numpy(), laid)
        for name, value in want_r[t].items():
            assert r_ref[t][name] == pytest.approx(value, abs=1e-15)
            assert r_bat[t][name] == pytest.approx(value, abs=1e-15)
            for key in g_ref[t][name]:
                expect = want_g[t][name].get(key, 0.0)
                assert g_ref[t][name][key] == pytest.approx(expect, abs=1e-15), \
                    ("reference", t, name, key)
                assert g_bat[t][name][key] == pytest.approx(expect, abs=1e-15), \
                    ("batched", t, name, key)


# ---------------------------------------------------------------- stack

STACK_ACTS = [dict(push=1.0, pop=0.0, value=V1),
              dict(push=0.5, pop=0.5, value=V2),
              dict(push=1.0, pop=0.5, value=V3)]


def test_stack_three_steps_at_ties():
    # Step 1: s = [d1] = [1]; read: min(1, max(0, 1 - 0)) = min(1, 1): a tie, the
    #   gradient goes to s (= d1): r1 = v1, dr1/dd1 = v1, dr1/dv1 = 1.
    # Step 2: pop 0.5 of row 1: max(0, 1 - max(0, 0.5 - 0)) = 0.5; push 0.5: s = [0.5, 0.5].
    #   read: row 2 min(0.5, 1) = 0.5 (d2); row 1 min(0.5, max(0, 1 - 0.5)) = min(0.5, 0.5):
    #   a tie, to s1 = d1 - u2 (not to the budget 1 - d2).
    #   r2 = 0.5 v2 + 0.5 v1; dr2/dd2 = v2, dr2/dd1 = v1, dr2/du2 = -v1, dr2/dv = 0.5, 0.5.
    # Step 3: pop 0.5: row 2: max(0, 0.5 - max(0, 0.5 - 0)) = max(0, 0): tie, 0 and no
    #   gradient (a row popped to exactly 0); row 1: max(0, 0.5 - max(0, 0.5 - 0.5)):
    #   the inner max is at 0, no gradient to u3 or s2; stays 0.5.  Push d3 = 1:
    #   s = [0.5, 0, 1].  read: row 3 min(1, 1) tie -> d3, weight 1; row 2 budget
    #   max(0, 1 - 1) = 0 (tie, no gradient), min(0, 0) -> s; row 1 budget
    #   max(0, 1 - 1 - 0) = 0, min(0.5, 0) = 0 -> the budget, whose max is at 0: no
    #   gradient.  r3 = v3; dr3/dd3 = v3, dr3/dv3 = 1, everything else 0.
    check("stack", STACK_ACTS,
          [[1.0], [0.5, 0.5], [0.5, 0.0, 1.0]],
          [{"read": V1}, {"read": 0.5 * V2 + 0.5 * V1}, {"read": V3}],
          [{"read": {"0.push": V1, "0.value": 1.0}},
           {"read": {"1.push": V2, "0.push": V1, "1.pop": -V1, "1.value": 0.5,
                     "0.value": 0.5}},
           {"read": {"2.push": V3, "2.value": 1.0}}])


# ---------------------------------------------------------------- queue

QUEUE_ACTS = STACK_ACTS


def test_queue_three_steps_at_ties():
    # Step 1: as the stack: s = [1], r1 = v1, dr1/dd1 = v1 (min(1, 1) tie -> s).
    # Step 2: pop at the bottom: row 1 max(0, 1 - max(0, 0.5 - 0)) = 0.5; push 0.5:
    #   s = [0.5, 0.5].  read from the bottom: row 1 min(0.5, 1) = 0.5 (s1 = d1 - u2);
    #   row 2 min(0.5, max(0, 1 - 0.5)) = min(0.5, 0.5): tie -> s2 = d2, not the budget.
    #   r2 = 0.5 v1 + 0.5 v2; dr2/dd1 = v1, dr2/du2 = -v1, dr2/dd2 = v2.
    # Step 3: pop 0.5 at the bottom: row 1 max(0, 0.5 - max(0, 0.5 - 0)) = max(0, 0):
    #   popped to exactly 0, no gradient; row 2 max(0, 0.5 - max(0, 0.5 - 0.5)) = 0.5,
    #   the inner max at 0: no gradient to u3 or s1.  Push 1: s = [0, 0.5, 1].
    #   read: row 1 min(0, 1) = 0 (s, whose max was at 0: no gradient); row 2
    #   min(0.5, max(0, 1 - 0)) = 0.5 -> s2 = d2; row 3 min(1, max(0, 1 - 0.5)) = 0.5,
    #   the budget 1 - s1 - s2 -> -1 to d2 (and s1's path is dead).
    #   r3 = 0.5 v2 + 0.5 v3; dr3/dd2 = v2 - v3, dr3/dd3 = 0, dr3/du3 = 0,
    #   dr3/dv2 = dr3/dv3 = 0.5.
    check("queue", QUEUE_ACTS,
          [[1.0], [0.5, 0.5], [0.0, 0.5, 1.0]],
          [{"read": V1}, {"read": 0.5 * V1 + 0.5 * V2}, {"read": 0.5 * V2 + 0.5 * V3}],
          [{"read": {"0.push": V1, "0.value": 1.0}},
           {"read": {"1.push": V2, "0.push": V1, "1.pop": -V1, "1.value": 0.5,
                     "0.value": 0.5}},
           {"read": {"1.push": V2 - V3, "1.value": 0.5, "2.value": 0.5}}])


# ---------------------------------------------------------------- deque

B1, T1, B2, T2, B3, T3 = 0.1, 0.2, -0.4, 0.6, 0.8, -0.5   # bottom / top values per step
DEQUE_ACTS = [
    {"push.top": 1.0, "push.bottom": 0.5, "pop.top": 0.0, "pop.bottom": 0.0,
     "value.top": T1, "value.bottom": B1},
    {"push.top": 0.5, "push.bottom": 1.0, "pop.top": 1.0, "pop.bottom": 0.5,
     "value.top": T2, "value.bottom": B2},
    {"push.top": 0.25, "push.bottom": 0.25, "pop.top": 0.0, "pop.bottom": 0.0,
     "value.top": T3, "value.bottom": B3},
]


def test_deque_three_steps_at_ties():
    # Step 1: s = [d^bot, d^top] = [0.5, 1], V = [b1, t1].
    #   top read: row 2 min(1, 1) tie -> d^top, weight 1; row 1 budget max(0, 1 - 1) = 0
    #   (tie), min(0.5, 0) -> the budget: no gradient.  r^top = t1, d/dd^top = t1.
    #   bottom read: row 1 min(0.5, 1) = 0.5 (d^bot); row 2 min(1, max(0, 1 - 0.5)) = 0.5
    #   -> the budget 1 - d^bot.  r^bot = 0.5 b1 + 0.5 t1, d/dd^bot = b1 - t1.
    # Step 2: pop top 1 on S = [0.5, 1]: row 2 max(0, 1 - max(0, 1 - 0)) = max(0, 0):
    #   tie, 0; row 1 max(0, 0.5 - max(0, 1 - 1)) = 0.5 (inner max at 0: no gradient).
    #   pop bottom 0.5 on S' = [0.5, 0]: row 1 max(0, 0.5 - max(0, 0.5 - 0)) = max(0, 0):
    #   tie, 0; row 2 max(0, 0 - max(0, 0.5 - 0.5)) = 0.  Every old row is exactly 0 and
    #   carries no gradient.  Push, renumbering: s = [1, 0, 0, 0.5], V = [b2, b1, t1, t2].
    #   top read: row 4 min(0.5, 1) = 0.5 (d^top_2); rows 3, 2 min(0, 0.5) = 0 -> s (dead);
    #   row 1 min(1, max(0, 1 - 0.5)) = 0.5 -> the budget 1 - d^top_2 - 0 - 0.
    #   r^top = 0.5 t2 + 0.5 b2; d/dd^top_2 = t2 - b2.
    #   bottom read: row 1 min(1, 1) tie -> d^bot_2, weight 1; rows 2, 3 budget
    #   max(0, 1 - 1) = 0 (tie), min(0, 0) -> s (dead); row 4 min(0.5, 0) -> the budget at
    #   its tie: no gradient.  r^bot = b2; d/dd^bot_2 = b2.
    # Step 3: pops of 0 leave every row as it is (max(0, 0 - SUM) = 0: the top row's inner
    #   max is at 0, a tie, no gradient to the pop); push 0.25 at both ends:
    #   s = [0.25, 1, 0, 0, 0.5, 0.25], V = [b3, b2, b1, t1, t2, t3].
    #   top read: row 6 min(0.25, 1) = 0.25 (d^top_3); row 5 min(0.5, 0.75) = 0.5 (s5 =
    #   d^top_2, through two pops of 0 with gradient 1); rows 4, 3: 0; row 2
    #   min(1, max(0, 1 - 0.75)) = 0.25 -> the budget 1 - d^top_3 - d^top_2; row 1 budget
    #   max(0, 1 - 1.75) = 0 (negative: no gradient), min(0.25, 0) -> 0.
    #   r^top = 0.25 t3 + 0.5 t2 + 0.25 b2; d/dd^top_3 = t3 - b2, d/dd^top_2 = t2 - b2.
    #   bottom read: row 1 min(0.25, 1) = 0.25 (d^bot_3); row 2 min(1, 0.75) = 0.75 ->
    #   the budget 1 - d^bot_3; rows 3, 4 budget 0 (tie), 0; row 5 min(0.5, 0) -> the budget
    #   at its tie; row 6 likewise.  r^bot = 0.25 b3 + 0.75 b2; d/dd^bot_3 = b3 - b2.
    check("deque", DEQUE_ACTS,
          [[0.5, 1.0], [1.0, 0.0, 0.0, 0.5], [0.25, 1.0, 0.0, 0.0, 0.5, 0.25]],
          [{"read.top": T1, "read.bottom": 0.5 * B1 + 0.5 * T1},
           {"read.top": 0.5 * T2 + 0.5 * B2, "read.bottom": B2},
           {"read.top": 0.25 * T3 + 0.5 * T2 + 0.25 * B2, "read.bottom": 0.25 * B3 + 0.75 * B2}],
          [{"read.top": {"0.push.top": T1, "0.value.top": 1.0},
            "read.bottom": {"0.push.bottom": B1 - T1, "0.value.bottom": 0.5,
                            "0.value.top": 0.5}},
           {"read.top": {"1.push.top": T2 - B2, "1.value.top": 0.5, "1.value.bottom": 0.5},
            "read.bottom": {"1.push.bottom": B2, "1.value.bottom": 1.0}},
           {"read.top": {"2.push.top": T3 - B2, "1.push.top": T2 - B2, "2.value.top": 0.25,
                         "1.value.top": 0.5, "1.value.bottom": 0.25},
            "read.bottom": {"2.push.bottom": B3 - B2, "2.value.bottom": 0.25,
                            "1.value.bottom": 0.75}}])


def test_tie_split_changes_the_hand_gradients():
    """The hand numbers above are decided by the tie rule: with 0.5/0.5 splits (autograd's
    np.maximum / np.minimum) step 1's dr1/dd1 = v1 becomes v1 / 2."""
    def read_split(d):
        # min(d, max(0, 1 - 0)) with the split rule at d == 1
        return np.minimum(d, np.maximum(0.0, 1.0 - 0.0)) * V1
    assert autograd.grad(read_split)(1.0) == pytest.approx(0.5 * V1)
    assert autograd.grad(lambda d: R.min_left(d, R.relu_left(1.0)) * V1)(1.0) == pytest.approx(V1)
