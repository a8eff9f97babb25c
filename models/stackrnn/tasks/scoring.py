"""Which symbols are predictable, and the paper's sequence accuracy (Joulin & Mikolov 2015,
section 5.1 and table 1: "A sequence is considered as correctly predicted if we correctly
predict its deterministic part, shown in bold in Table 1").

A symbol is deterministic when the symbols before it in the stream fix it, for the
language of table 1 (any n > 0, any m > 0, any digits), not for the range a training
set happens to draw n from:

  counting tasks  every symbol after the first b of a string (a^n b^n: the other n-1
                  b's; a^n b^n c^n: the other b's and all c's ...) and the ``a`` that
                  starts the next string;
  anbmcnm         the c's after the first c, and the next ``a`` (a's and b's run on freely);
  memorisation    the reversed copy after ``=`` (the next string's first digit is random);
  binary_addition the sum's digits and its ``.`` (the paper's bold part and its code's
                  evaluation, train_add.cpp; the next string's first digit is not counted:
                  the code lets an operand be "0").

The paper's table 1 examples, with the deterministic symbols in capitals:
"aabBA aabBBA bA aaaabBBBB" (a^n b^n) and "12=21 2122=2212 11121=12111" (memorisation).
"""

import numpy as np

from .grammars import COUNTING, symbols


def _stream_error(name, p, text, expected):
    found = repr(text[p]) if p < len(text) else "the end"
    return ValueError(f"{name}: stream position {p}: expected {expected}, got {found} "
                      f"(in {text[max(0, p - 20):p + 5]!r})")


def _run(text, p, allowed):
    q = p
    while q < len(text) and text[q] in allowed:
        q += 1
    return q


def _counting(name, text):
    letters, counts = COUNTING[name]
    flags, p = [False] * len(text), 0
    while p < len(text):
        if text[p] != "a":
            raise _stream_error(name, p, text, "'a' (a string starts)")
        flags[p] = p > 0                     # a complete string is followed by an 'a'
        q = _run(text, p, "a")
        tail = "".join(c * (r * (q - p)) for c, r in zip(letters[1:], counts[1:]))
        for j, c in enumerate(tail):
            if q + j == len(text):
                return flags                 # the stream ends inside a string
            if text[q + j] != c:
                raise _stream_error(name, q + j, text, repr(c))
            flags[q + j] = j > 0             # the first b could have been another a
        p = q + len(tail)
    return flags


def _anbmcnm(text):
    flags, p = [False] * len(text), 0
    while p < len(text):
        if text[p] != "a":
            raise _stream_error("anbmcnm", p, text, "'a' (a string starts)")
        flags[p] = p > 0
        q = _run(text, p, "a")
        r = _run(text, q, "b")
        if q < len(text) and r == q:
            raise _stream_error("anbmcnm", q, text, "'a' or 'b'")
        for j in range(r - p):               # n + m c's, the first one free
            if r + j == len(text):
                return flags
            if text[r + j] != "c":
                raise _stream_error("anbmcnm", r + j, text, "'c'")
            flags[r + j] = j > 0
        p = r + (r - p)
    return flags


def _memorisation(name, text, digits):
    flags, p = [False] * len(text), 0
    while p < len(text):
        q = _run(text, p, digits)
        if q == len(text):
            return flags
        if q == p or text[q] != "=":
            raise _stream_error(name, q, text, "a digit" if q == p else "a digit or '='")
        copy = text[p:q][::-1]
        for j, c in enumerate(copy):
            if q + 1 + j == len(text):
                return flags
            if text[q + 1 + j] != c:
                raise _stream_error(name, q + 1 + j, text, repr(c))
            flags[q + 1 + j] = True
        p = q + 1 + len(copy)
    return flags


def _binary_addition(text):
    name, flags, p = "binary_addition", [False] * len(text), 0
    while p < len(text):
        a_end = _run(text, p, "01")
        if a_end == len(text):
            return flags
        if a_end == p or text[a_end] != "+":
            raise _stream_error(name, a_end, text, "a digit" if a_end == p else "a digit or '+'")
        b_end = _run(text, a_end + 1, "01")
        if b_end == len(text):
            return flags
        if b_end == a_end + 1 or text[b_end] != "=":
            raise _stream_error(name, b_end, text,
                                "a digit" if b_end == a_end + 1 else "a digit or '='")
        total = int(text[p:a_end], 2) + int(text[a_end + 1:b_end], 2)
        answer = bin(total)[2:][::-1] + "."   # least significant digit first
        for j, c in enumerate(answer):
            if b_end + 1 + j == len(text):
                return flags
            if text[b_end + 1 + j] != c:
                raise _stream_error(name, b_end + 1 + j, text, repr(c))
            flags[b_end + 1 + j] = True
        p = b_end + 1 + len(answer)
    return flags


def deterministic_positions(name, text, **options):
    """For each symbol of a stream (a str in the task's alphabet, e.g. "aabbaab"), whether
    the symbols before it determine it.  Raises ValueError where the stream leaves the
    task's language; a stream may stop anywhere inside a string."""
    alphabet = symbols(name, **options)
    if not isinstance(text, str) or set(text) - set(alphabet):
        raise ValueError(f"text: expected a str over the {name} alphabet {alphabet}, "
                         f"got {text!r:.60}")
    if name in COUNTING:
        flags = _counting(name, text)
    elif name == "anbmcnm":
        flags = _anbmcnm(text)
    elif name == "memorisation":
        flags = _memorisation(name, text, "".join(alphabet[1:]))
    else:
        flags = _binary_addition(text)
    return np.array(flags, dtype=bool)


def deterministic(name, inputs, targets, **options):
    """Deterministic target steps of generated data: [T] (or [B, T]) of 0.0/1.0, aligned
    with ``targets``; zero on padding (all-zero target rows, which must come last).

    The stream is read back as inputs[0] followed by the targets (each target is the next
    input), then scored by ``deterministic_positions``.
    """
    alphabet = symbols(name, **options)
    inputs = np.asarray(inputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    single = inputs.ndim == 2
    if single:
        inputs, targets = inputs[None], targets[None]
    V = len(alphabet)
    if inputs.ndim != 3 or inputs.shape[-1] != V or targets.shape != inputs.shape:
        raise ValueError(f"deterministic: expected inputs and targets [B, T, {V}] (or "
                         f"[T, {V}]) for {name}; got {np.shape(inputs)}, {np.shape(targets)}")
    out = np.zeros(inputs.shape[:2])
    for b in range(inputs.shape[0]):
        steps = int(targets[b].any(axis=-1).sum())
        if steps == 0 or targets[b, steps:].any() or not targets[b, :steps].any(axis=-1).all():
            raise ValueError(f"targets: sequence {b}: expected one-hot rows followed only "
                             f"by all-zero padding")
        read = inputs[b, :steps].argmax(axis=-1)
        said = targets[b, :steps].argmax(axis=-1)
        if (read[1:] != said[:-1]).any():
            raise ValueError(f"inputs: sequence {b}: each input must be the previous step's "
                             f"target (next-symbol data)")
        text = "".join(alphabet[i] for i in np.concatenate([read[:1], said]))
        out[b, :steps] = deterministic_positions(name, text, **options)[1:]
    return out[0] if single else out


def sequence_correct(logits, targets, deterministic):
    """Whether each sequence is right: argmax(logits) == argmax(targets) on every step
    where ``deterministic`` is 1 (numpy's argmax: first index among equal maxima).

    logits, targets [B, T, V] and deterministic [B, T] -> bool [B]; or [T, V], [T, V],
    [T] -> bool.  A sequence with no deterministic step counts as right.
    """
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    det = np.asarray(deterministic, dtype=np.float64)
    single = logits.ndim == 2
    if single:
        logits, targets, det = logits[None], targets[None], det[None]
    if logits.ndim != 3 or targets.shape != logits.shape or det.shape != logits.shape[:2]:
        raise ValueError(f"sequence_correct: expected logits [B, T, V], targets [B, T, V], "
                         f"deterministic [B, T] (or [T, V], [T, V], [T]); got "
                         f"{np.shape(logits)}, {np.shape(targets)}, {np.shape(deterministic)}")
    if not np.isin(det, (0.0, 1.0)).all():
        raise ValueError("deterministic: expected only 0s and 1s")
    right = logits.argmax(axis=-1) == targets.argmax(axis=-1)
    correct = np.all(right | (det == 0), axis=1)
    return bool(correct[0]) if single else correct
