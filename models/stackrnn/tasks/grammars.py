"""The algorithmic patterns of Joulin & Mikolov 2015 (section 5.1, table 1; STACKS.md
Part 2), as next-symbol prediction data.

Alphabets (``symbols(name)``; a symbol's index is its one-hot channel, in and out):

  anbn      a b          a^n b^n                  n >= 1
  anbncn    a b c        a^n b^n c^n              n >= 1
  anbncndn  a b c d      a^n b^n c^n d^n          n >= 1
  anb2n     a b          a^n b^2n                 n >= 1
  anbmcnm   a b c        a^(n-m) b^m c^n          n >= 2, 1 <= m <= n-1
  memorisation  = 1 .. k x = reverse(x), x in {1..k}^n   n >= 1 (paper: k = 2)
  binary_addition  + = . 0 1   A+B=R.             n = len(A) + len(B) >= 2

The knob ``n`` follows the paper and its code (StackRNN task.h): for ``anbmcnm`` it is
the number of c's, n + m of the paper's a^n b^m c^(n+m), so that "n < 20 (and n + m < 20)"
of its table 2 is one bound on ``n`` (the a's are n - m, ``m`` drawn from [1, n-1] unless
given); for ``binary_addition`` it is the summed length of the two operands ("the sum of
their lengths is equal to n"), the first operand's length drawn from [1, n-1] unless
``first_length`` is given.  Memorisation is the paper's X -> nXn | = (table 1): the
string, ``=``, then the string reversed ("memorization is in reversed order", section 6).
Binary addition: the operands are written most significant digit first, each with a
leading 1; the sum is written least significant digit first and ends with ``.``
("101+1=" -> "011.", section 5.1).  The alphabet order of ``binary_addition`` is the
code's (train_add.cpp: + = . then the digits); ``=`` comes first in ``memorisation`` as
the separator ``a`` comes first in the code's version of it.

Stream or sequence.  The paper trains on one stream of strings concatenated without
boundaries; the symbol that follows a string is the first symbol of the next one.  Here
one generated sequence is one string *and the first symbol of the next*: inputs are the
string's symbols s_0 .. s_(L-1), targets the symbols one step on, s_1 .. s_(L-1) and then
the next string's first symbol (T = L).  That last target is what makes a string's end
visible: after a complete a^n b^n the next symbol is ``a``, a deterministic symbol of the
paper (bold in its table 1).  The next string's first symbol is ``a`` for the counting
tasks, a random digit for memorisation (not deterministic) and the leading ``1`` of the
next first operand for addition.  ``stream`` concatenates several strings into one
sequence, the paper's training form (a model then carries its state across strings).

Mask (the loss): every step for the counting tasks and memorisation (the paper trains
them unsupervised, on the whole stream); for binary addition only the sum's digits and
its ``.`` (the paper: "this task is supervised").  What is scored is another thing:
``scoring.py``.
"""

import numpy as np

from diffmem.models.tasks import check_int, check_rng, one_hot

COUNTING = {  # name -> (letters, how many of each letter per unit of n)
    "anbn": ("ab", (1, 1)),
    "anbncn": ("abc", (1, 1, 1)),
    "anbncndn": ("abcd", (1, 1, 1, 1)),
    "anb2n": ("ab", (1, 2)),
}
ADDITION_SYMBOLS = ("+", "=", ".", "0", "1")


def symbols(name, *, k=2, **_):
    """The alphabet of task ``name``: a tuple of one-character strings, index = channel."""
    if name in COUNTING:
        return tuple(COUNTING[name][0])
    if name == "anbmcnm":
        return ("a", "b", "c")
    if name == "memorisation":
        k = check_int("k", k, 1, 9)
        return ("=",) + tuple(str(d) for d in range(1, k + 1))
    if name == "binary_addition":
        return ADDITION_SYMBOLS
    raise ValueError(f"task: expected one of {sorted(_STRINGS)}, got {name!r}")


def to_indices(name, text, **options):
    """A string such as "aabb" or "101+1=011." as the task's symbol indices."""
    alphabet = symbols(name, **options)
    unknown = sorted(set(text) - set(alphabet))
    if unknown:
        raise ValueError(f"text: symbols {unknown} are not in the {name} alphabet {alphabet}")
    return [alphabet.index(c) for c in text]


# Each string function returns (text, loss) for one string: loss[i] says whether
# symbol i of the string is a loss target when it is predicted.


def _counting(name):
    letters, counts = COUNTING[name]

    def string(rng, n):
        n = check_int("n", n, 1)
        text = "".join(c * (r * n) for c, r in zip(letters, counts))
        return text, [1.0] * len(text)
    return string


def _anbmcnm(rng, n, m=None):
    n = check_int("n", n, 2)
    m = int(rng.integers(1, n)) if m is None else check_int("m", m, 1, n - 1)
    text = "a" * (n - m) + "b" * m + "c" * n
    return text, [1.0] * len(text)


def _memorisation(rng, n, k=2):
    n = check_int("n", n, 1)
    k = check_int("k", k, 1, 9)
    x = "".join(str(d) for d in rng.integers(1, k + 1, size=n))
    text = x + "=" + x[::-1]
    return text, [1.0] * len(text)


def _binary(rng, length):
    # Most significant digit first, and it is always 1 (section 5.1).
    return "1" + "".join(str(b) for b in rng.integers(0, 2, size=length - 1))


def _binary_addition(rng, n, first_length=None):
    n = check_int("n", n, 2)
    if first_length is None:
        first_length = int(rng.integers(1, n))
    first_length = check_int("first_length", first_length, 1, n - 1)
    a, b = _binary(rng, first_length), _binary(rng, n - first_length)
    total = bin(int(a, 2) + int(b, 2))[2:][::-1]      # least significant digit first
    question = a + "+" + b + "="
    text = question + total + "."
    return text, [0.0] * len(question) + [1.0] * (len(total) + 1)


_STRINGS = {
    **{name: _counting(name) for name in COUNTING},
    "anbmcnm": _anbmcnm,
    "memorisation": _memorisation,
    "binary_addition": _binary_addition,
}
OPTIONS = {  # the options each task takes besides n
    **{name: () for name in COUNTING},
    "anbmcnm": ("m",),
    "memorisation": ("k",),
    "binary_addition": ("first_length",),
}


def _next_first(name, rng, options):
    """The first symbol of the string that follows, and whether it is a loss target."""
    if name == "memorisation":
        return str(int(rng.integers(1, options.get("k", 2) + 1))), 1.0
    if name == "binary_addition":
        return "1", 0.0
    return "a", 1.0


def _encode(name, texts, losses, options):
    """inputs = stream[:-1], targets = stream[1:], mask = the targets' loss flags."""
    text, loss = "".join(texts), [f for flags in losses for f in flags]
    index = to_indices(name, text, **options)
    V = len(symbols(name, **options))
    return (one_hot(index[:-1], V), one_hot(index[1:], V),
            np.asarray(loss[1:], dtype=np.float64))


def generate(name, rng, *, n, **options):
    """One string of task ``name`` (size ``n``) then the next string's first symbol."""
    return stream(name, rng, [n], **options)


def stream(name, rng, ns, **options):
    """Strings of sizes ``ns`` back to back, then the next string's first symbol: the
    paper's training stream as one sequence, T = the strings' total length."""
    if name not in _STRINGS:
        raise ValueError(f"task: expected one of {sorted(_STRINGS)}, got {name!r}")
    check_rng(rng)
    unknown = sorted(set(options) - set(OPTIONS[name]))
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {unknown}; expected some of "
                         f"{sorted(OPTIONS[name])}")
    ns = list(ns) if not isinstance(ns, (str, bytes)) and np.iterable(ns) else None
    if not ns:
        raise ValueError(f"ns: expected a non-empty list of string sizes, got {ns!r}")
    texts, losses = zip(*(_STRINGS[name](rng, n, **options) for n in ns))
    first, flag = _next_first(name, rng, options)
    return _encode(name, texts + (first,), losses + ([flag],), options)


def anbn(rng, *, n):
    """a^n b^n, then the next string's ``a``: T = 2n (module docstring)."""
    return generate("anbn", rng, n=n)


def anbncn(rng, *, n):
    """a^n b^n c^n, then the next ``a``: T = 3n."""
    return generate("anbncn", rng, n=n)


def anbncndn(rng, *, n):
    """a^n b^n c^n d^n, then the next ``a``: T = 4n."""
    return generate("anbncndn", rng, n=n)


def anb2n(rng, *, n):
    """a^n b^2n, then the next ``a``: T = 3n."""
    return generate("anb2n", rng, n=n)


def anbmcnm(rng, *, n, m=None):
    """a^(n-m) b^m c^n (the paper's a^n b^m c^(n+m) with n+m = ``n``), then the next ``a``:
    T = 2n.  ``m`` in [1, n-1], drawn uniformly when None."""
    return generate("anbmcnm", rng, n=n, m=m)


def memorisation(rng, *, n, k=2):
    """x = reverse(x) with x ``n`` digits from 1..``k``, then the next string's first digit
    (random): T = 2n + 1."""
    return generate("memorisation", rng, n=n, k=k)


def binary_addition(rng, *, n, first_length=None):
    """A+B=R. with len(A) + len(B) = ``n`` (leading digits 1, most significant first) and
    R = A + B least significant digit first, then the next string's leading ``1``; the
    mask covers R and ``.`` only.  ``first_length`` = len(A), drawn from [1, n-1] when None.
    """
    return generate("binary_addition", rng, n=n, first_length=first_length)
