"""The synthetic transduction tasks of Grefenstette et al. 2015, section 4.1 (STACKS.md,
Part 1): sequence copying, sequence reversal, bigram flipping.

The paper presents each example as one joint sequence ``<s> source ||| target </s>``
and trains a next-symbol model on it with the loss on the target part.  diffmem's
encoding of that joint sequence (``alphabet`` = A symbols, numbered 0..A-1):

  input channels  X = A + 2:  0..A-1 the symbols, A = ``<s>``, A+1 = ``|||``
  output channels Y = A + 1:  0..A-1 the symbols, A = ``</s>``

The paper keeps separate source and target vocabularies and embeddings; here a symbol
has the same input channel on both sides (a one-hot input needs no embedding), and
``</s>`` is only ever an output (it ends the sequence, nothing is read after it).

Time layout for a source a_1..a_k and target b_1..b_k (T = 2k + 2 steps):

  step      0    1 .. k        k+1     k+2 .. 2k+1
  input     <s>  a_1 .. a_k    |||     b_1 .. b_k      (previous target symbol)
  target    -    -  ..  -      b_1     b_2 .. b_k </s>
  mask      0    0  ..  0      1       1   ..  1   1   (k + 1 ones: the target and </s>)

During the target phase the input is the previous *target* symbol (teacher forcing),
the paper's "feed the previous output" with the true symbol in its place.  The paper
scores greedy decoding (its own argmax fed back); coarse and fine accuracy
(``accuracy.py``) only count symbols up to the first error, and up to the first error the
fed-back argmax and the true previous symbol are the same, so one teacher-forced pass
gives exactly the paper's coarse and fine scores.

Source symbols are drawn uniformly with replacement (section 4.1); lengths are 8..64 for
training and 65..128 for testing (section 4.3, ``registry.TRAIN_LENGTHS`` /
``TEST_LENGTHS``).
"""

import numpy as np

from diffmem.models.tasks import check_int, check_rng, one_hot


def sizes(*, alphabet=128, **_):
    """(X, Y): symbols + ``<s>`` + ``|||`` in, symbols + ``</s>`` out."""
    alphabet = check_int("alphabet", alphabet, 1)
    return alphabet + 2, alphabet + 1


def encode(source, target, *, alphabet=128):
    """The joint sequence ``<s> source ||| target </s>`` as (inputs, targets, mask).

    ``source`` and ``target``: integer symbols in [0, alphabet), equally long (every task
    here maps k symbols to k symbols).  Layout: the module docstring.
    """
    alphabet = check_int("alphabet", alphabet, 1)
    source = np.asarray(source)
    target = np.asarray(target)
    for name, seq in (("source", source), ("target", target)):
        if seq.ndim != 1 or len(seq) < 1 or not np.issubdtype(seq.dtype, np.integer) \
                or seq.min() < 0 or seq.max() >= alphabet:
            raise ValueError(f"{name}: expected a non-empty 1-D integer array with symbols "
                             f"in [0, {alphabet}), got {seq!r:.80}")
    k = len(source)
    if len(target) != k:
        raise ValueError(f"target: expected as many symbols as the source ({k}), "
                         f"got {len(target)}")
    start, separator, end = alphabet, alphabet + 1, alphabet
    read = np.concatenate([[start], source, [separator], target])     # T = 2k + 2 inputs
    inputs = one_hot(read, alphabet + 2)
    targets = np.zeros((2 * k + 2, alphabet + 1))
    targets[k + 1:] = one_hot(np.concatenate([target, [end]]), alphabet + 1)
    mask = np.zeros(2 * k + 2)
    mask[k + 1:] = 1.0
    return inputs, targets, mask


def _source(rng, alphabet, length, lo=1):
    check_rng(rng)
    alphabet = check_int("alphabet", alphabet, 1)
    length = check_int("length", length, lo)
    return rng.integers(0, alphabet, size=length), alphabet


def sequence_copy(rng, *, alphabet=128, length):
    """``<s> a_1 .. a_k ||| a_1 .. a_k </s>`` with k = ``length`` (paper: Sequence Copying)."""
    source, alphabet = _source(rng, alphabet, length)
    return encode(source, source.copy(), alphabet=alphabet)


def sequence_reversal(rng, *, alphabet=128, length):
    """``<s> a_1 .. a_k ||| a_k .. a_1 </s>`` (paper: Sequence Reversal)."""
    source, alphabet = _source(rng, alphabet, length)
    return encode(source, source[::-1].copy(), alphabet=alphabet)


def bigram_flip(rng, *, alphabet=128, length):
    """``<s> a_1 a_2 a_3 a_4 .. ||| a_2 a_1 a_4 a_3 .. </s>`` (paper: Bigram flipping).

    The paper restricts the source to even lengths; an odd ``length`` has no last pair to
    swap and raises ValueError (``make_batch`` draws even lengths only for this task).
    """
    if isinstance(length, int) and not isinstance(length, bool) and length >= 2 \
            and length % 2:
        raise ValueError(f"length: bigram_flip expects an even integer >= 2 (the paper "
                         f"restricts the source to even lengths), got {length}")
    source, alphabet = _source(rng, alphabet, length, lo=2)
    return encode(source, source.reshape(-1, 2)[:, ::-1].reshape(-1), alphabet=alphabet)
