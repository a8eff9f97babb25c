"""The Stack-RNN family's tasks (Joulin & Mikolov 2015, section 5.1): grammars, masks,
deterministic symbols (the paper's own bold marking), batches and sequence accuracy."""

import re

import numpy as np
import pytest

from diffmem.models.stackrnn.tasks import (KNOBS, MIN_N, TASKS, TEST_MAX_N, TRAIN_MAX_N,
                                           anbmcnm, binary_addition, deterministic,
                                           deterministic_positions, make_batch, memorisation,
                                           sequence_correct, stream, symbols, task_sizes)


def text_of(name, inputs, targets, **options):
    """The stream: the inputs, then the last target; checks targets = inputs shifted."""
    alphabet = symbols(name, **options)
    assert (inputs.sum(axis=1) == 1).all() and (targets.sum(axis=1) == 1).all()
    read, said = inputs.argmax(axis=1), targets.argmax(axis=1)
    np.testing.assert_array_equal(read[1:], said[:-1])
    return "".join(alphabet[i] for i in read) + alphabet[said[-1]]


def check_string(name, s, n):
    """An independent statement of each grammar (regular expressions and counts)."""
    if name in ("anbn", "anbncn", "anbncndn", "anb2n"):
        letters = {"anbn": "ab", "anbncn": "abc", "anbncndn": "abcd", "anb2n": "ab"}[name]
        runs = re.fullmatch("".join(f"({c}+)" for c in letters), s).groups()
        want = [n, 2 * n] if name == "anb2n" else [n] * len(letters)
        assert [len(r) for r in runs] == want
    elif name == "anbmcnm":
        a, b, c = re.fullmatch("(a+)(b+)(c+)", s).groups()
        assert len(c) == len(a) + len(b) == n
    elif name == "memorisation":
        x, y = re.fullmatch("([12]+)=([12]+)", s).groups()
        assert len(x) == n and y == x[::-1]
    else:
        a, b, r = re.fullmatch(r"(1[01]*)\+(1[01]*)=([01]+)\.", s).groups()
        assert len(a) + len(b) == n
        assert int(r[::-1], 2) == int(a, 2) + int(b, 2) and r[-1] == "1"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_strings_satisfy_their_grammar(name):
    rng = np.random.default_rng(11)
    for n in range(MIN_N[name], 13):
        for _ in range(3):
            inputs, targets, mask = TASKS[name](rng, n=n)
            assert all(a.dtype == np.float64 for a in (inputs, targets, mask))
            assert inputs.shape == targets.shape == (len(mask), len(symbols(name)))
            text = text_of(name, inputs, targets)
            check_string(name, text[:-1], n)
            # The last target is the next string's first symbol.
            if name == "memorisation":
                assert text[-1] in "12"                       # a random digit
            else:
                assert text[-1] == ("1" if name == "binary_addition" else "a")


@pytest.mark.parametrize("name", sorted(TASKS))
def test_masks(name):
    rng = np.random.default_rng(2)
    for n in range(MIN_N[name], 9):
        inputs, targets, mask = TASKS[name](rng, n=n)
        if name != "binary_addition":
            assert (mask == 1).all()
            continue
        text = text_of(name, inputs, targets)
        equals = text.index("=")
        # Target step t predicts symbol t+1: the loss is on the sum's digits and '.'.
        want = [1.0 if equals < t + 1 < len(text) - 1 else 0.0 for t in range(len(mask))]
        np.testing.assert_array_equal(mask, want)


def test_random_parts_cover_their_ranges():
    rng = np.random.default_rng(0)
    ms = {len(re.match("a+", text_of("anbmcnm", *anbmcnm(rng, n=6)[:2])).group()) for _ in
          range(60)}
    assert ms == {1, 2, 3, 4, 5}                              # a's = n - m, m in [1, 5]
    firsts = {text_of("binary_addition", *binary_addition(rng, n=5)[:2]).index("+")
              for _ in range(60)}
    assert firsts == {1, 2, 3, 4}
    digits = set(text_of("memorisation", *memorisation(rng, n=30, k=3)[:2], k=3)) - {"="}
    assert digits == {"1", "2", "3"}
    fixed = text_of("anbmcnm", *anbmcnm(rng, n=5, m=4)[:2])
    assert fixed == "abbbbccccca"


# The paper's table 1, with its bold (deterministic) characters marked 1.
TABLE_1 = {
    "anbn": [("aab", 0), ("ba", 1), ("aab", 0), ("bba", 1), ("b", 0), ("a", 1),
             ("aaaab", 0), ("bbbb", 1)],
    "anbncn": [("aaab", 0), ("bbccca", 1), ("b", 0), ("ca", 1), ("aaaab", 0),
               ("bbbbccccc", 1)],
    "anbncndn": [("aab", 0), ("bccdda", 1), ("aab", 0), ("bbcccddda", 1), ("b", 0),
                 ("cd", 1)],
    "anb2n": [("aab", 0), ("bbba", 1), ("aab", 0), ("bbbbba", 1), ("b", 0), ("b", 1)],
    "anbmcnm": [("aabc", 0), ("cca", 1), ("aabbc", 0), ("cccca", 1), ("bc", 0), ("c", 1)],
    "memorisation": [("12=", 0), ("21", 1), ("2122=", 0), ("2212", 1), ("11121=", 0),
                     ("12111", 1)],
    # Section 5.1: "101+1=" -> "011." (bold: the answer); a second by hand: 1+1=2.
    "binary_addition": [("101+1=", 0), ("011.", 1), ("1+1=", 0), ("01.", 1)],
}


@pytest.mark.parametrize("name", sorted(TABLE_1))
def test_deterministic_positions_are_the_papers_bold_symbols(name):
    text = "".join(piece for piece, _ in TABLE_1[name])
    bold = [flag for piece, flag in TABLE_1[name] for _ in piece]
    np.testing.assert_array_equal(deterministic_positions(name, text), bold)


HAND = [  # (task, stream, deterministic flags of the targets = stream[1:])
    ("anbn", "aabba", [0, 0, 1, 1]),
    ("anbn", "aba", [0, 1]),                       # n = 1: the b is free, the a is not
    ("anb2n", "abba", [0, 1, 1]),
    ("anbncn", "abca", [0, 1, 1]),
    ("anbmcnm", "aabccca", [0, 0, 0, 1, 1, 1]),
    ("anbmcnm", "abbccca", [0, 0, 0, 1, 1, 1]),
    ("memorisation", "12=212", [0, 0, 1, 1, 0]),
    ("binary_addition", "11+1=001.1", [0, 0, 0, 0, 1, 1, 1, 1, 0]),
]


@pytest.mark.parametrize("name,text,flags", HAND)
def test_deterministic_steps_hand_worked(name, text, flags):
    alphabet = symbols(name)
    index = [alphabet.index(c) for c in text]
    eye = np.eye(len(alphabet))
    np.testing.assert_array_equal(deterministic(name, eye[index[:-1]], eye[index[1:]]), flags)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_number_of_deterministic_steps(name):
    rng = np.random.default_rng(4)
    for n in range(MIN_N[name], 10):
        inputs, targets, mask = TASKS[name](rng, n=n)
        det = deterministic(name, inputs, targets)
        if name == "binary_addition":
            np.testing.assert_array_equal(det, mask)         # supervised: the answer
            continue
        # Counted by hand from the grammar: the rest of the string after its first free
        # symbol, plus the next 'a' (not for memorisation: the next digit is random).
        want = {"anbn": n, "anbncn": 2 * n, "anbncndn": 3 * n, "anb2n": 2 * n,
                "anbmcnm": n, "memorisation": n}[name]
        assert det.sum() == want


def test_stream_concatenates_strings():
    inputs, targets, mask = stream("anbn", np.random.default_rng(0), [2, 1, 3])
    assert text_of("anbn", inputs, targets) == "aabb" + "ab" + "aaabbb" + "a"
    np.testing.assert_array_equal(deterministic("anbn", inputs, targets),
                                  [0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1])
    inputs, targets, mask = stream("binary_addition", np.random.default_rng(0), [2, 3])
    text = text_of("binary_addition", inputs, targets)
    first, second = text[:-1].split(".")[:2]
    check_string("binary_addition", first + ".", 2)
    check_string("binary_addition", second + ".", 3)
    np.testing.assert_array_equal(deterministic("binary_addition", inputs, targets), mask)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_make_batch_ragged_and_padded(name):
    lo, hi = max(2, MIN_N[name]), 7
    inputs, targets, mask, lengths = make_batch(name, np.random.default_rng(3), 30, lo, hi)
    again = make_batch(name, np.random.default_rng(3), 30, lo, hi)
    np.testing.assert_array_equal(inputs, again[0])
    V = len(symbols(name))
    assert inputs.shape == targets.shape == (30, lengths.max(), V)
    det = deterministic(name, inputs, targets)
    for b, T in enumerate(lengths):
        assert not inputs[b, T:].any() and not targets[b, T:].any()
        assert not mask[b, T:].any() and not det[b, T:].any()
        text = text_of(name, inputs[b, :T], targets[b, :T])
        n = {"anbn": T // 2, "anbncn": T // 3, "anbncndn": T // 4, "anb2n": T // 3,
             "anbmcnm": T // 2, "memorisation": (T - 1) // 2}.get(name)
        if n is None:                                            # addition: from the text
            n = len(re.match(r"[01]+\+[01]+", text).group()) - 1
        assert lo <= n <= hi
        check_string(name, text[:-1], n)
        np.testing.assert_array_equal(det[b, :T], deterministic(name, inputs[b, :T],
                                                                targets[b, :T]))


def test_sequence_correct_on_hand_made_logits():
    eye = np.eye(2)
    text = [[0, 0, 1, 1, 0], [0, 1, 0, 0, 0]]               # "aabba" and "aba" (padded)
    inputs = np.zeros((2, 4, 2))
    targets = np.zeros((2, 4, 2))
    inputs[0], targets[0] = eye[text[0][:4]], eye[text[0][1:]]
    inputs[1, :2], targets[1, :2] = eye[text[1][:2]], eye[text[1][1:3]]
    det = deterministic("anbn", inputs, targets)
    np.testing.assert_array_equal(det, [[0, 0, 1, 1], [0, 1, 0, 0]])
    logits = targets * 3.0
    np.testing.assert_array_equal(sequence_correct(logits, targets, det), [True, True])
    logits[0, 1] = [5.0, 0.0]              # wrong on a free symbol (the first b): still right
    logits[1, 1] = [0.0, 5.0]              # wrong on the deterministic 'a': wrong
    np.testing.assert_array_equal(sequence_correct(logits, targets, det), [True, False])
    logits[0, 3] = [0.0, 0.0]              # a tie: argmax 'a' is the right symbol
    assert sequence_correct(logits[0], targets[0], det[0]) is True
    logits[0, 2] = [1.0, 1.0]              # a tie where 'b' is right: wrong
    assert sequence_correct(logits[0], targets[0], det[0]) is False


def test_sizes_knobs_and_paper_ranges():
    assert task_sizes("anbn") == (2, 2) and task_sizes("anbncndn") == (4, 4)
    assert task_sizes("memorisation", k=4) == (5, 5)
    assert symbols("binary_addition") == ("+", "=", ".", "0", "1")
    assert set(KNOBS.values()) == {"n"} and (TRAIN_MAX_N, TEST_MAX_N) == (19, 60)


BAD = [
    (lambda: TASKS["anbn"](np.random.default_rng(0), n=0), r"n.*>= 1"),
    (lambda: anbmcnm(np.random.default_rng(0), n=1), r"n.*>= 2"),
    (lambda: anbmcnm(np.random.default_rng(0), n=4, m=4), r"m.*\[1, 3\]"),
    (lambda: memorisation(np.random.default_rng(0), n=3, k=0), r"k.*\[1, 9\]"),
    (lambda: binary_addition(np.random.default_rng(0), n=3, first_length=3),
     r"first_length.*\[1, 2\]"),
    (lambda: TASKS["anb2n"](None, n=2), r"rng.*Generator"),
    (lambda: stream("anbn", np.random.default_rng(0), []), r"ns: expected a non-empty"),
    (lambda: stream("anbn", np.random.default_rng(0), [2], k=3), r"unknown option"),
    (lambda: stream("abc", np.random.default_rng(0), [2]), r"task: expected one of"),
    (lambda: make_batch("anbmcnm", np.random.default_rng(0), 2, 1, 5), r"lo.*>= 2"),
    (lambda: make_batch("anbn", np.random.default_rng(0), 2, 1, 5, n=3), r"'n' is drawn"),
    (lambda: make_batch("anbn", np.random.default_rng(0), 2, 1, 5, m=3), r"unknown option"),
    (lambda: deterministic_positions("anbn", "aabab"), r"position 3: expected 'b'"),
    (lambda: deterministic_positions("anbmcnm", "aacc"), r"position 2: expected 'a' or 'b'"),
    (lambda: deterministic_positions("memorisation", "12=12"), r"position 3: expected '2'"),
    (lambda: deterministic_positions("binary_addition", "1+1=1"), r"position 4: expected '0'"),
    (lambda: deterministic_positions("anbn", "abc"), r"text: expected a str over"),
    (lambda: deterministic("anbn", np.eye(2)[[0, 0]], np.eye(2)[[1, 1]]),
     r"each input must be the previous step's target"),
    (lambda: deterministic("anbn", np.eye(3)[[0, 0]], np.eye(3)[[0, 1]]), r"\[B, T, 2\]"),
    (lambda: sequence_correct(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), np.full((1, 2), 2)),
     r"deterministic: expected only 0s and 1s"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_options_raise_one_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
