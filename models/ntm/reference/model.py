"""One NTM time step and the loop over time (NTM.md "One time step", "Initial state").

Unbatched: one sequence, inputs [T, X].  The step reads top-down in NTM.md's stage
order; its record holds every trace entry under its NTM.md name.
"""

import autograd.numpy as np
import numpy as onp   # for the trace: plain values, never differentiated
from autograd.tracer import getval

from .addressing import address
from diffmem.reference.controller import feedforward, lstm
from diffmem.reference.functions import linear, softmax
from .heads import activate_heads
from .memory import read_memory, write_memory


def initial_state(params, cfg):
    """Step -1: learned memory, reads and (softmaxed) head weights; zero LSTM state."""
    zeros = np.zeros(cfg.H, dtype=params["init.memory"].dtype)
    return {
        "memory": params["init.memory"],                  # Mem_{-1}  [N, M]
        "reads": params["init.read"],                     # r_{-1}    [R, M]
        "w_write": softmax(params["init.write_logits"]),  # [Wh, N]
        "w_read": softmax(params["init.read_logits"]),    # [R, N]
        "h": zeros,
        "cell": zeros,
    }


def step(params, cfg, state, x):
    """One time step; returns (next state, record of trace name -> value)."""
    record = {}
    # 1. controller
    u = np.concatenate([x, np.reshape(state["reads"], (-1,))])
    if cfg.controller == "lstm":
        c, cell = lstm(params["controller.weight"], params["controller.bias"], u,
                       state["h"], state["cell"])
        record["controller"], record["controller_cell"] = c, cell
    else:
        c, cell = feedforward(params["controller.weight"], params["controller.bias"], u), None
        record["controller"] = c
    # 2. interface
    xi = linear(params["interface.weight"], c, params["interface.bias"])
    record["interface"] = xi
    # 3 and 9. head activations of every field (split_interface + activate_head)
    write, read = activate_heads(xi, cfg)
    # 4-7. write heads address Mem_{t-1} with their previous weights
    write.update(address(write, state["memory"], state["w_write"], cfg.shifts))
    # 8. memory update, all write heads at once
    memory = write_memory(state["memory"], write["weight"], write["erase"], write["add"])
    # 10-13. read heads address Mem_t, after this step's write
    read.update(address(read, memory, state["w_read"], cfg.shifts))
    # 14. reads
    reads = read_memory(memory, read["weight"])
    # 15. output logits
    logits = linear(params["output.weight"], np.concatenate([c, np.reshape(reads, (-1,))]),
                    params["output.bias"])

    record.update({f"write.{k}": v for k, v in write.items()})
    record["memory"] = memory
    record.update({f"read.{k}": v for k, v in read.items()})
    record["reads"] = reads
    record["logits"] = logits
    next_state = {"memory": memory, "reads": reads, "w_write": write["weight"],
                  "w_read": read["weight"], "h": c, "cell": cell}
    return next_state, record


def forward(params, cfg, inputs, want_trace=False):
    """Run a sequence inputs [T, X]; returns (logits [T, Y], trace or None).

    The trace holds plain values (``getval``), never autograd boxes, so it can be
    collected during the gradient pass at no extra cost.
    """
    # Look every parameter up once: under autograd each lookup in the (boxed) dict is a
    # graph node, and the loop below would repeat them at every step.
    params = {name: params[name] for name in getval(params)}
    state = initial_state(params, cfg)
    logits, records = [], []
    for t in range(inputs.shape[0]):
        state, record = step(params, cfg, state, inputs[t])
        logits.append(record["logits"])
        if want_trace:
            records.append({k: getval(v) for k, v in record.items()})
    trace = None
    if want_trace:
        trace = {k: onp.stack([r[k] for r in records]) for k in records[0]}
    return np.stack(logits), trace
