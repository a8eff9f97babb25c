"""A one-step NTM small enough to work through by hand (issue 2 item 4).

N = 2 rows, M = 2, X = Y = H = 1, one read and one write head, shifts (-1, 0, 1),
feedforward controller, T = 1.  Every parameter is chosen here; the expected numbers
are derived below from NTM.md's equations with Python's ``math`` on scalars, written
in the spec's plain forms (sigmoid = 1/(1+e^-z), softplus = log(1+e^z), sharpening as
(w+EPS)^gamma normalised), not the stable forms the reference uses, and without
calling any reference function.
"""

import math

import numpy as np
import pytest

from diffmem.models.ntm.reference import NTMConfig, run_sequence

DELTA = EPS = 1e-16          # NTM.md step 6


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def softplus(z):
    return math.log(1.0 + math.exp(z))


def softmax(v):
    e = [math.exp(a) for a in v]
    return [a / sum(e) for a in e]


def norm(v):
    return math.sqrt(sum(a * a for a in v) + DELTA)


CFG = NTMConfig(input_size=1, output_size=1, controller_size=1, memory_rows=2,
                memory_width=2, read_heads=1, write_heads=1, shifts=(-1, 0, 1))

# interface layout (NTM.md step 2): write head [key 0:2 | beta 2 | gate 3 | shift 4:7 |
# gamma 7 | erase 8:10 | add 10:12], then read head [key 12:14 | beta 14 | gate 15 |
# shift 16:19 | gamma 19]
IFACE_W = [0.5, -0.3, 0.2, 0.1, 0.0, 0.4, -0.2, 0.3, 0.6, -0.5, 0.7, 0.2,
           -0.4, 0.8, 0.1, -0.6, 0.3, 0.0, -0.1, 0.5]
IFACE_B = [1.0, 0.5, 1.5, -0.2, -1.0, 0.0, 1.0, 0.5, 0.3, -0.7, 0.4, -0.9,
           0.6, 0.2, 2.0, 0.8, 0.0, 1.2, -0.5, -0.3]
PARAMS = {
    "controller.weight": [[0.3, -0.2, 0.4]],       # over u = [x ; r_{-1}]
    "controller.bias": [0.1],
    "interface.weight": [[w] for w in IFACE_W],
    "interface.bias": IFACE_B,
    "output.weight": [[0.7, -1.1, 0.9]],           # over [c ; r_0]
    "output.bias": [-0.25],
    "init.memory": [[0.4, -0.8], [1.0, 0.2]],
    "init.read": [[0.5, -0.5]],
    "init.read_logits": [[0.3, -0.3]],
    "init.write_logits": [[-0.5, 1.5]],
}
X_IN, TARGET, MASK = 1.0, 1.0, 1.0


def by_hand():
    """NTM.md step by step for this one step; returns trace name -> value, and loss."""
    P = PARAMS
    mem0 = P["init.memory"]
    r_prev = P["init.read"][0]
    # 1. controller: u = [x ; r_{-1}], c = tanh(Wc u + bc)
    u = [X_IN] + r_prev
    c = math.tanh(sum(w * a for w, a in zip(P["controller.weight"][0], u))
                  + P["controller.bias"][0])
    # 2. interface xi = Wxi c + bxi
    xi = [w * c + b for w, b in zip(IFACE_W, IFACE_B)]

    def head(raw, w_prev, mem):
        # 3. activations
        h = {"key": raw[0:2], "beta": softplus(raw[2]), "gate": sigmoid(raw[3]),
             "shift": softmax(raw[4:7]), "gamma": 1.0 + softplus(raw[7])}
        # 6. cosine similarity and content weights
        K = [sum(k * m for k, m in zip(h["key"], row)) / (norm(h["key"]) * norm(row))
             for row in mem]
        h["w_content"] = softmax([h["beta"] * k for k in K])
        g = h["gate"]
        h["w_gated"] = [g * wc + (1 - g) * wp for wc, wp in zip(h["w_content"], w_prev)]
        # shifts (-1, 0, 1) on N = 2: -1 and +1 both swap the two rows, and add
        s_minus, s_zero, s_plus = h["shift"]
        wg = h["w_gated"]
        h["w_shifted"] = [s_zero * wg[0] + (s_minus + s_plus) * wg[1],
                          s_zero * wg[1] + (s_minus + s_plus) * wg[0]]
        powered = [(w + EPS) ** h["gamma"] for w in h["w_shifted"]]
        h["weight"] = [p / sum(powered) for p in powered]
        return h

    write = head(xi[0:8], softmax(P["init.write_logits"][0]), mem0)
    write["erase"] = [sigmoid(z) for z in xi[8:10]]
    write["add"] = [math.tanh(z) for z in xi[10:12]]
    # 5. memory update with one write head
    ww = write["weight"]
    mem1 = [[mem0[i][m] * (1 - ww[i] * write["erase"][m]) + ww[i] * write["add"][m]
             for m in range(2)] for i in range(2)]
    read = head(xi[12:20], softmax(P["init.read_logits"][0]), mem1)
    # 7. read r = Mem_t^T w
    reads = [sum(read["weight"][i] * mem1[i][m] for i in range(2)) for m in range(2)]
    # 8. logits y = Wy [c ; r] + by
    y = sum(w * a for w, a in zip(P["output.weight"][0], [c] + reads)) + P["output.bias"][0]
    loss = MASK * (softplus(y) - TARGET * y)
    trace = {"controller": [c], "interface": xi, "memory": mem1, "reads": [reads],
             "logits": [y]}
    for kind, h in (("write", write), ("read", read)):
        for name, value in h.items():
            trace[f"{kind}.{name}"] = [value]        # one head
    return trace, loss


@pytest.fixture(scope="module")
def ran():
    params = {k: np.array(v, dtype=float) for k, v in PARAMS.items()}
    return run_sequence(CFG, params, np.array([[X_IN]]), np.array([[TARGET]]),
                        np.array([MASK]))


def test_hand_case_trace_matches_the_spec_worked_by_hand(ran):
    expected, _ = by_hand()
    assert set(expected) == set(ran["trace"]), set(expected) ^ set(ran["trace"])
    for name, value in expected.items():
        got = ran["trace"][name][0]                  # the only step
        want = np.array(value, dtype=float)
        assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
        err = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300)
        assert err <= 1e-13, f"{name}: relative error {err:.2e} > 1e-13 ({got} vs {want})"


def test_hand_case_logits_and_loss(ran):
    trace, loss = by_hand()
    assert ran["logits"].shape == (1, 1)
    assert ran["logits"][0, 0] == pytest.approx(trace["logits"][0], rel=1e-13)
    assert float(ran["loss"]) == pytest.approx(loss, rel=1e-13)


def test_hand_case_is_not_degenerate():
    # The chosen numbers exercise every term: the gate mixes, all three shifts carry
    # weight, sharpening moves the weights, and the write changes memory.
    trace, _ = by_hand()
    for kind in ("write", "read"):
        assert 0.1 < trace[f"{kind}.gate"][0] < 0.9
        assert min(trace[f"{kind}.shift"][0]) > 0.05
        assert abs(trace[f"{kind}.weight"][0][0] - trace[f"{kind}.w_shifted"][0][0]) > 1e-2
    assert abs(trace["memory"][0][0] - PARAMS["init.memory"][0][0]) > 1e-2
