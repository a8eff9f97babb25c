"""Observing pytorch-ntm's intermediates as NTM.md trace entries, without changing them.

Two levels:

- ``hooks``: what pytorch-ntm's modules expose through forward hooks (the controller, the
  heads' linear layers, the heads' outputs, the output layer) and its state after a step
  (the memory): ``controller``, ``controller_cell``, ``interface``, ``write.weight``,
  ``memory``, ``read.weight``, ``reads``, ``logits``.  A partial trace.
- ``wrapped``: also NTMMemory's methods wrapped on the instance (address, _similarity,
  _interpolate, _shift, write), which adds the head activations and w_content, w_gated,
  w_shifted: every NTM.md entry.

Entries are [B, T, ...] with the head axis of NTM.md (one write and one read head).
"""

from __future__ import annotations

import torch

LEVELS = ("hooks", "wrapped")


class Recorder:
    def __init__(self, model, level="hooks"):
        self.model, self.level = model, level
        self.kind = None    # "write" or "read": the head running now
        self.step = {}
        net = model.ntm
        net.controller.register_forward_hook(self._controller)
        net.fc.register_forward_hook(lambda m, i, out: self._put("logits", out))
        for head in net.heads:
            kind = "read" if head.is_read_head() else "write"
            head.register_forward_pre_hook(lambda m, i, kind=kind: setattr(self, "kind", kind))
            head.register_forward_hook(self._read_head if kind == "read" else self._write_head)
            layer = head.fc_read if kind == "read" else head.fc_write
            layer.register_forward_hook(lambda m, i, out, kind=kind:
                                        self._put(f"interface.{kind}", out))
        if level == "wrapped":
            self._wrap_memory(model.memory)

    def _put(self, name, value):
        self.step[name] = value

    def _controller(self, module, inputs, output):
        out, (h, cell) = output
        self._put("controller", out)
        self._put("controller_cell", cell[-1])

    def _write_head(self, module, inputs, w):
        self._put("write.weight", w[:, None])

    def _read_head(self, module, inputs, output):
        r, w = output
        self._put("reads", r[:, None])
        self._put("read.weight", w[:, None])

    def _wrap_memory(self, memory):
        cls = type(memory)

        def outputs(method, name):
            def wrapper(*args):
                out = getattr(cls, method)(memory, *args)   # the class's, patched or not
                self._put(f"{self.kind}.{name}", out[:, None])
                return out
            setattr(memory, method, wrapper)
        outputs("_similarity", "w_content")
        outputs("_interpolate", "w_gated")
        outputs("_shift", "w_shifted")

        def address(k, beta, g, s, gamma, w_prev):
            for name, v in (("key", k[:, None]), ("beta", beta), ("gate", g),
                            ("shift", s[:, None]), ("gamma", gamma)):
                self._put(f"{self.kind}.{name}", v)
            return cls.address(memory, k, beta, g, s, gamma, w_prev)
        memory.address = address

        def write(w, e, a):
            self._put("write.erase", e[:, None])
            self._put("write.add", a[:, None])
            return cls.write(memory, w, e, a)
        memory.write = write

    def run(self, x):
        """x [B, T, X] -> (pytorch-ntm's outputs [B, T, Y], trace {name: [B, T, ...]})."""
        B, T = x.shape[:2]
        self.model.init_sequence(B)
        outs, steps = [], []
        for t in range(T):
            self.step = {}
            o, _ = self.model(x[:, t])
            self._put("memory", self.model.memory.memory)
            self._put("interface", torch.cat([self.step.pop("interface.write"),
                                              self.step.pop("interface.read")], dim=-1))
            outs.append(o)
            steps.append(self.step)
        trace = {k: torch.stack([s[k] for s in steps], dim=1) for k in steps[0]}
        return torch.stack(outs, dim=1), trace
