"""The frozen configuration of the Differentiable Neural Computer (DNC.md, "Sizes and
config").

One validated, immutable object shared by the reference and the batched form, in the
style of the NTM's ``NTMConfig``: ``to_dict()`` gives the plain dict, ``from_dict()``
rejects anything it does not know, and every bad field is one ValueError line.  Exactly
one write head (dnc/1); the interface width is I = R*W + 3W + 5R + 3.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from diffmem.models.family import check_fields

SPEC_VERSION = "dnc/1"
MODELS = ("dnc",)
CONTROLLERS = ("feedforward", "lstm")
LOSSES = ("bce", "softmax")


def _positive_int(name, value):
    # bool is an int subclass; True as a size is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"DNCConfig.{name}: expected an integer >= 1, got {value!r}")
    return value


def _one_of(name, value, allowed):
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"DNCConfig.{name}: expected one of {allowed}, got {value!r}")


@dataclass(frozen=True)
class DNCConfig:
    input_size: int
    output_size: int
    # The spec gives no defaults for these three; deepmind/dnc's example sizes.
    controller_size: int = 64
    memory_rows: int = 16
    memory_width: int = 16
    read_heads: int = 1
    controller: str = "feedforward"
    loss: str = "bce"
    model: str = "dnc"

    def __post_init__(self):
        for field in ("input_size", "output_size", "controller_size", "memory_rows",
                      "memory_width", "read_heads"):
            _positive_int(field, getattr(self, field))
        _one_of("model", self.model, MODELS)
        _one_of("controller", self.controller, CONTROLLERS)
        _one_of("loss", self.loss, LOSSES)

    # Short names from the spec's symbol table, for the math.
    X = property(lambda self: self.input_size)
    Y = property(lambda self: self.output_size)
    H = property(lambda self: self.controller_size)
    N = property(lambda self: self.memory_rows)
    W = property(lambda self: self.memory_width)
    R = property(lambda self: self.read_heads)
    # I = R*W + 3W + 5R + 3: read keys, strengths; write key, strength, erase, vector;
    # free gates, allocation gate, write gate, read modes.
    I = property(lambda self: self.R * self.W + 3 * self.W + 5 * self.R + 3)  # noqa: E741

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DNCConfig":
        check_fields(cls, d, ("input_size", "output_size"))
        return cls(**d)
