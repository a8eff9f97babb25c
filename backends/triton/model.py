"""``BatchedNTM`` with its memory-side stages (NTM.md stages 4-8 and 14) run as Triton
kernels; the controller, interface, head activations and output stay torch operations
(small matrix products), so the full trace still comes from ``BatchedNTM.step``.

Each stage method calls one differentiable kernel stage (``stages.py``); the stage
classes are class attributes, so a variant model swaps one of them.
"""

from __future__ import annotations

import torch

from diffmem.models.ntm.batched import BatchedNTM

from .stages import (ContentStage, GateStage, ReadStage, SharpenStage, ShiftStage,
                     WriteStage, differentiable)


class TritonNTM(BatchedNTM):
    content_stage = ContentStage
    gate_stage = GateStage
    shift_stage = ShiftStage
    sharpen_stage = SharpenStage
    write_stage = WriteStage
    read_stage = ReadStage

    def __init__(self, xp, cfg):
        super().__init__(xp, cfg)
        self._content = differentiable(self.content_stage())
        self._gate = differentiable(self.gate_stage())
        self._shift = differentiable(self.shift_stage())
        self._sharpen = differentiable(self.sharpen_stage())
        self._write = differentiable(self.write_stage())
        self._read = differentiable(self.read_stage())
        self.shift_offsets = torch.tensor(list(cfg.shifts), dtype=torch.int32,
                                          device=xp.device)

    def content_weights(self, key, beta, memory):
        return self._content(key, beta, memory)

    def gated_weights(self, w_content, gate, w_prev):
        return self._gate(w_content, gate, w_prev)

    def shifted_weights(self, w_gated, shift):
        return self._shift(w_gated, shift, self.shift_offsets)

    def sharpened_weights(self, w_shifted, gamma):
        return self._sharpen(w_shifted, gamma)

    def write_memory(self, memory, weight, erase, add):
        return self._write(memory, weight, erase, add)

    def read_memory(self, memory, weight):
        return self._read(memory, weight)
