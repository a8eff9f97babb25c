"""The NTM's frozen configuration (NTM.md, "Sizes").

One validated, immutable object shared by the reference and every backend, so that
"what is a valid model" is decided in exactly one place.  ``to_dict()`` gives the plain
dict a third-party kernel needs; ``from_dict()`` rejects anything it does not know.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from diffmem.models.family import check_fields

SPEC_VERSION = "ntm/1"
CONTROLLERS = ("feedforward", "lstm")


def _positive_int(name, value):
    # bool is an int subclass; True as a size is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"NTMConfig.{name}: expected an integer >= 1, got {value!r}")
    return value


@dataclass(frozen=True)
class NTMConfig:
    input_size: int
    output_size: int
    controller_size: int = 100
    memory_rows: int = 128
    memory_width: int = 20
    read_heads: int = 1
    write_heads: int = 1
    shifts: tuple = (-1, 0, 1)
    controller: str = "feedforward"
    model: str = "ntm"

    def __post_init__(self):
        for field in ("input_size", "output_size", "controller_size", "memory_rows",
                      "memory_width", "read_heads", "write_heads"):
            _positive_int(field, getattr(self, field))
        if self.model != "ntm":
            raise ValueError(f"NTMConfig.model: expected 'ntm', got {self.model!r}")
        if self.controller not in CONTROLLERS:
            raise ValueError(f"NTMConfig.controller: expected one of {CONTROLLERS}, "
                             f"got {self.controller!r}")
        try:
            shifts = tuple(self.shifts)
        except TypeError:
            raise ValueError(f"NTMConfig.shifts: expected a sequence of distinct integers, "
                             f"got {self.shifts!r}") from None
        if not shifts or any(isinstance(s, bool) or not isinstance(s, int) for s in shifts):
            raise ValueError(f"NTMConfig.shifts: expected a non-empty sequence of integers, "
                             f"got {self.shifts!r}")
        if len(set(shifts)) != len(shifts):
            raise ValueError(f"NTMConfig.shifts: expected distinct integers, got {shifts!r}")
        object.__setattr__(self, "shifts", shifts)

    # Short names from the spec's symbol table, for the math.
    X = property(lambda self: self.input_size)
    Y = property(lambda self: self.output_size)
    H = property(lambda self: self.controller_size)
    N = property(lambda self: self.memory_rows)
    M = property(lambda self: self.memory_width)
    R = property(lambda self: self.read_heads)
    Wh = property(lambda self: self.write_heads)
    S = property(lambda self: len(self.shifts))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["shifts"] = list(self.shifts)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "NTMConfig":
        check_fields(cls, d, ("input_size", "output_size"))
        d = dict(d)
        if "shifts" in d and isinstance(d["shifts"], list):
            d["shifts"] = tuple(d["shifts"])
        return cls(**d)
