"""The frozen configuration of delta/1 (DELTA.md, "Config"): DeltaNet and Gated DeltaNet
as fla's operator, with fla's argument names.

One validated, immutable object shared by the reference and the batched form:
``to_dict()`` gives the plain dict, ``from_dict()`` rejects anything it does not know,
and every bad field is one ValueError line.  ``input_size`` and ``output_size`` are
derived (X and Y of the harness's packing), never stored.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from diffmem.models.family import check_fields

SPEC_VERSION = "delta/1"
MODELS = ("deltanet", "gated_deltanet")
CHUNK = 64          # fla's chunk size: the state trace's stride and the batched form's C


def _positive_int(name, value, minimum=1):
    # bool is an int subclass; True as a size is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"DeltaConfig.{name}: expected an integer >= {minimum}, got {value!r}")
    return value


def _flag(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"DeltaConfig.{name}: expected true or false, got {value!r}")


@dataclass(frozen=True)
class DeltaConfig:
    heads: int = 2
    value_heads: int = 2
    key_dim: int = 16
    value_dim: int = 16
    scale: float | None = None        # None: K ** -0.5 (Python's pow, as fla), stored resolved
    qk_l2norm: bool = False
    beta_per_value: bool = False
    initial_state: bool = True
    output_final_state: bool = True
    sequences: int = 1
    cu_seqlens: tuple | None = None
    model: str = "gated_deltanet"

    def __post_init__(self):
        if not isinstance(self.model, str) or self.model not in MODELS:
            raise ValueError(f"DeltaConfig.model: expected one of {MODELS}, got {self.model!r}")
        for name in ("heads", "value_heads", "key_dim", "value_dim"):
            _positive_int(name, getattr(self, name))
        _positive_int("sequences", self.sequences)
        for name in ("qk_l2norm", "beta_per_value", "initial_state", "output_final_state"):
            _flag(name, getattr(self, name))
        if self.value_heads % self.heads:
            raise ValueError(f"DeltaConfig.value_heads: expected a multiple of heads "
                             f"({self.heads}), got {self.value_heads}")
        if self.model == "deltanet" and self.value_heads != self.heads:
            raise ValueError(f"DeltaConfig.value_heads: deltanet has value_heads == heads "
                             f"({self.heads}), got {self.value_heads}")
        scale = float(self.key_dim) ** -0.5 if self.scale is None else self.scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) \
                or not math.isfinite(scale):
            raise ValueError(f"DeltaConfig.scale: expected a finite number, got {self.scale!r}")
        object.__setattr__(self, "scale", float(scale))
        if self.cu_seqlens is not None:
            cu = self.cu_seqlens
            if not isinstance(cu, (list, tuple)) or len(cu) < 2 or any(
                    isinstance(c, bool) or not isinstance(c, int) for c in cu):
                raise ValueError(f"DeltaConfig.cu_seqlens: expected null or a list of integers "
                                 f"[0, c_1, ..., c_N], got {cu!r}")
            if cu[0] != 0 or any(b < a for a, b in zip(cu, cu[1:])) or cu[-1] < 1:
                raise ValueError(f"DeltaConfig.cu_seqlens: expected nondecreasing offsets from 0 "
                                 f"to T >= 1, got {list(cu)}")
            if len(cu) - 1 != self.sequences:
                raise ValueError(f"DeltaConfig.cu_seqlens: {len(cu) - 1} sequences, but "
                                 f"sequences is {self.sequences}")
            object.__setattr__(self, "cu_seqlens", tuple(cu))

    # Short names from the spec, for the math.
    H = property(lambda self: self.heads)
    HV = property(lambda self: self.value_heads)
    K = property(lambda self: self.key_dim)
    V = property(lambda self: self.value_dim)
    G = property(lambda self: self.value_heads // self.heads)
    N = property(lambda self: self.sequences)
    gated = property(lambda self: self.model == "gated_deltanet")
    beta_width = property(lambda self: self.value_dim if self.beta_per_value else 1)
    varlen = property(lambda self: self.cu_seqlens is not None)

    @property
    def input_size(self) -> int:
        """X = 2 H K + HV V + HV [gated] + HV (V if beta_per_value else 1)."""
        return 2 * self.H * self.K + self.HV * self.V + self.HV * self.gated \
            + self.HV * self.beta_width

    @property
    def output_size(self) -> int:
        """Y = HV V."""
        return self.HV * self.V

    X = property(lambda self: self.input_size)
    Y = property(lambda self: self.output_size)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if d["cu_seqlens"] is not None:
            d["cu_seqlens"] = list(d["cu_seqlens"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DeltaConfig":
        check_fields(cls, d, ("model",))
        return cls(**d)
