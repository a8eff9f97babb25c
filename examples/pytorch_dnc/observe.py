"""Observing pytorch-dnc's intermediates as DNC.md trace entries, without changing them.

Two levels:

- ``hooks``: what module forward hooks expose: the controller (``controller``, the LSTM's
  ``controller_cell``), the interface Linear(s) (``interface``), the memory module's
  output after each step (``memory``, ``link``, ``precedence``, ``usage``,
  ``write.weight``, ``read.weight``, ``reads``) and the output layer (``logits``).
- ``wrapped``: also Memory's methods wrapped on the instance (write, content_weightings,
  allocate, directional_weightings, read_weightings) and the ``topk`` its ``allocate``
  sorts with: the activations of stage 3, ``allocation.order``, ``allocation``,
  ``write.content``, ``read.forward``, ``read.backward``, ``read.content`` and
  ``read.mode``.  Every DNC.md entry but ``retention``, which pytorch-dnc computes inside
  ``get_usage_vector`` and never returns.

Entries are [B, T, ...] with DNC.md's head axes (a write-head axis of 1).
"""

from __future__ import annotations

import types

import torch

LEVELS = ("hooks", "wrapped")


class Recorder:
    """``with Recorder(model, level) as rec: rec.run(...)``: the hooks and wrappers are
    removed on exit (the ``topk`` wrapper is module-level in ``dnc.memory``)."""

    def __init__(self, model, level="wrapped"):
        self.model, self.level = model, level
        self.steps = []
        self._undo = []
        rnn, memory = model.rnns[0], model.memories[0]
        self._hook(rnn, self._controller)
        self._hook(memory, self._memory_out)
        if hasattr(memory, "interface_weights"):
            self._hook(memory.interface_weights, lambda m, i, out: self._put("interface", out))
        else:
            from .adapter import FIELDS
            for n, (name, _) in enumerate(FIELDS):
                self._hook(getattr(memory, name),
                           lambda m, i, out, n=n: self._put(f"interface.{n}", out))
        if level == "wrapped":
            self._wrap_memory(memory)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for undo in reversed(self._undo):
            undo()
        return False

    def _hook(self, module, fn):
        self._undo.append(module.register_forward_hook(fn).remove)

    def _put(self, name, value):
        self.steps[-1].setdefault(name, value)   # the first call of a step is the one kept

    def _controller(self, module, inputs, output):
        out, state = output
        self.steps.append({})       # the controller runs first in every step
        self._put("controller", out[:, -1])
        if isinstance(state, tuple):
            self._put("controller_cell", state[1][-1])

    def _memory_out(self, module, inputs, output):
        reads, hidden = output
        self._put("reads", reads)
        self._put("usage", hidden["usage_vector"])
        self._put("write.weight", hidden["write_weights"])
        self._put("memory", hidden["memory"])
        self._put("link", hidden["link_matrix"][:, 0])
        self._put("precedence", hidden["precedence"][:, 0])
        self._put("read.weight", hidden["read_weights"])

    def _wrap_memory(self, memory):
        import dnc.memory as module
        cls = type(memory)
        calls = {"content": 0}

        def write(*args):
            (key, vector, erase, free, _read_strengths, strength, write_gate,
             allocation_gate, hidden) = args
            for name, v in (("write.key", key), ("write.strength", strength),
                            ("write.erase", erase), ("write.vector", vector),
                            ("free_gate", free), ("allocation_gate", allocation_gate),
                            ("write_gate", write_gate)):
                self._put(name, v)
            calls["content"] = 0
            return cls.write(memory, *args)

        def content_weightings(mem, keys, strengths):
            out = cls.content_weightings(memory, mem, keys, strengths)
            kind = "write" if calls["content"] == 0 else "read"
            calls["content"] += 1
            self._put(f"{kind}.content", out)
            if kind == "read":
                self._put("read.key", keys)
                self._put("read.strength", strengths)
            return out

        def allocate(usage, write_gate):
            alloc, floored = cls.allocate(memory, usage, write_gate)
            self._put("allocation", alloc[:, 0])
            return alloc, floored

        def directional_weightings(link, read_weights):
            f, b = cls.directional_weightings(memory, link, read_weights)
            self._put("read.forward", f[:, :, 0])
            self._put("read.backward", b[:, :, 0])
            return f, b

        def read_weightings(mem, content, link, modes, read_weights):
            self._put("read.mode", modes)
            return cls.read_weightings(memory, mem, content, link, modes, read_weights)

        for name, fn in (("write", write), ("content_weightings", content_weightings),
                         ("allocate", allocate),
                         ("directional_weightings", directional_weightings),
                         ("read_weightings", read_weightings)):
            setattr(memory, name, fn)
            self._undo.append(lambda name=name: delattr(memory, name))

        # The free list: the indices of the first topk in allocate (the second inverts it).
        inner = module.torch
        recorder = self

        class Shim(types.ModuleType):
            def __getattr__(self, attr):
                return getattr(inner, attr)

            @staticmethod
            def topk(*args, **kwargs):
                values, indices = inner.topk(*args, **kwargs)
                recorder._put("allocation.order", indices.to(values.dtype))
                return values, indices
        module.torch = Shim("torch")
        self._undo.append(lambda: setattr(module, "torch", inner))

    def run(self, x, state, stepwise, Y):
        """x [B, T, X'] -> (logits [B, T, Y], trace {name: [B, T, ...]}).  ``stepwise``:
        one ``DNC.forward`` call per step, carrying the ``hx`` it returns (the reads of
        step t-1 reach the controller at step t); else one call on the whole sequence, as
        pytorch-dnc's copy task makes it.  Either way the controller's hook opens each
        step's record."""
        # DNC.forward stacks its outputs time-first, [T, B, X'], and transposes them only
        # when batch_first is False: with batch_first=True (the adapter's setting and its
        # copy task's) they come back time-first.
        self.steps = []
        if stepwise:
            outs = []
            for t in range(x.shape[1]):
                out, state = self.model(x[:, t:t + 1], state, reset_experience=False,
                                        pass_through_memory=True)
                outs.append(out[0])
            logits = torch.stack(outs, 1)
        else:
            out, _ = self.model(x, state, reset_experience=False, pass_through_memory=True)
            logits = out.transpose(0, 1)
        logits = logits[..., :Y]
        trace = {name: torch.stack([s[name] for s in self.steps], 1) for name in self.steps[0]}
        if "interface.0" in trace:
            trace["interface"] = torch.cat([trace.pop(f"interface.{n}") for n in range(10)], -1)
        trace["logits"] = logits
        return logits, trace

