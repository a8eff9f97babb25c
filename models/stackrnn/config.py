"""The Stack-RNN's frozen configuration (STACKS.md Part 2, spec ``stackrnn/1``).

One validated, immutable object shared by the reference and the batched form.
``to_dict()`` is plain JSON; ``from_dict()`` rejects fields it does not know.

Choices where the spec is silent:
- ``depth`` D >= 2: the spec's update has a first row (push writes the value) and a
  last row (pop pulls in EMPTY) that must be different rows.
- ``top_k`` k <= D: the hidden update reads rows 0..k-1 of each stack.
- ``actions`` is ("push", "pop") or ("push", "pop", "noop"), in that order: the action
  axis of ``A`` and of the trace entry ``action`` follows it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from diffmem.models.family import check_fields

SPEC_VERSION = "stackrnn/1"
ACTION_SETS = (("push", "pop"), ("push", "pop", "noop"))


def _int_at_least(name, value, low):
    # bool is an int subclass; True as a size is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"StackRNNConfig.{name}: expected an integer >= {low}, got {value!r}")
    return value


@dataclass(frozen=True)
class StackRNNConfig:
    alphabet_size: int
    hidden_size: int
    stacks: int = 1
    depth: int = 8
    top_k: int = 2
    actions: tuple = ("push", "pop")
    model: str = "stackrnn"

    def __post_init__(self):
        _int_at_least("alphabet_size", self.alphabet_size, 1)
        _int_at_least("hidden_size", self.hidden_size, 1)
        _int_at_least("stacks", self.stacks, 1)
        _int_at_least("depth", self.depth, 2)
        _int_at_least("top_k", self.top_k, 1)
        if self.top_k > self.depth:
            raise ValueError(f"StackRNNConfig.top_k: expected at most depth={self.depth} "
                             f"(the rows read from each stack), got {self.top_k}")
        if self.model != "stackrnn":
            raise ValueError(f"StackRNNConfig.model: expected 'stackrnn', got {self.model!r}")
        try:
            actions = tuple(self.actions)
        except TypeError:
            actions = None
        if actions not in ACTION_SETS:
            raise ValueError(f"StackRNNConfig.actions: expected one of "
                             f"{[list(a) for a in ACTION_SETS]}, got {self.actions!r}")
        object.__setattr__(self, "actions", actions)

    # Short names from the spec, for the math.
    V = property(lambda self: self.alphabet_size)
    H = property(lambda self: self.hidden_size)
    K = property(lambda self: self.stacks)
    D = property(lambda self: self.depth)
    k = property(lambda self: self.top_k)
    A = property(lambda self: len(self.actions))       # number of actions, 2 or 3
    input_size = property(lambda self: self.alphabet_size)    # one-hot symbols in
    output_size = property(lambda self: self.alphabet_size)   # softmax over symbols out
    X = input_size
    Y = output_size

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["actions"] = list(self.actions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "StackRNNConfig":
        check_fields(cls, d, ("alphabet_size", "hidden_size"))
        return cls(**d)
