"""The frozen configuration of the neural stack, queue and deque (STACKS.md Part 1).

One validated, immutable object shared by the reference and the batched form, in the
style of the NTM's ``NTMConfig``: ``to_dict()`` gives the plain dict, ``from_dict()``
rejects anything it does not know, and every bad field is one ValueError line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from diffmem.models.family import check_fields

SPEC_VERSION = "stack/1"
MODELS = ("stack", "queue", "deque")
CONTROLLERS = ("feedforward", "lstm")
LOSSES = ("bce", "softmax")


def _positive_int(name, value):
    # bool is an int subclass; True as a size is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"StackConfig.{name}: expected an integer >= 1, got {value!r}")
    return value


def _one_of(name, value, allowed):
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"StackConfig.{name}: expected one of {allowed}, got {value!r}")


@dataclass(frozen=True)
class StackConfig:
    input_size: int
    output_size: int
    controller_size: int = 32
    value_size: int = 8
    controller: str = "feedforward"
    loss: str = "bce"
    model: str = "stack"

    def __post_init__(self):
        for field in ("input_size", "output_size", "controller_size", "value_size"):
            _positive_int(field, getattr(self, field))
        _one_of("model", self.model, MODELS)
        _one_of("controller", self.controller, CONTROLLERS)
        _one_of("loss", self.loss, LOSSES)

    # Short names from the spec, for the math.
    X = property(lambda self: self.input_size)
    Y = property(lambda self: self.output_size)
    H = property(lambda self: self.controller_size)
    m = property(lambda self: self.value_size)
    # Ends of the structure: the deque has a top and a bottom end, the others one.
    ends = property(lambda self: 2 if self.model == "deque" else 1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StackConfig":
        check_fields(cls, d, ("input_size", "output_size"))
        return cls(**d)
