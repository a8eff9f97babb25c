"""The case studies' shared patch selection (examples/patch_selection.py), on a made-up
patch list: runs without pytorch-ntm or pytorch-dnc (their own tests also check it
through each ``patches.select``)."""

import pathlib
import sys
from collections import namedtuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples.patch_selection import select  # noqa: E402

Patch = namedtuple("Patch", "name")
PATCHES = tuple(Patch(n) for n in ("alpha", "beta", "gamma", "delta"))


def names(patches):
    return [p.name for p in patches]


def test_all_none_and_counts():
    assert select(None, PATCHES, "ENV") == PATCHES
    assert select("all", PATCHES, "ENV") == PATCHES
    assert select("none", PATCHES, "ENV") == ()
    assert select("", PATCHES, "ENV") == ()
    assert names(select("2", PATCHES, "ENV")) == ["alpha", "beta"]
    assert names(select(" 3 ", PATCHES, "ENV")) == ["alpha", "beta", "gamma"]
    assert select(0, PATCHES, "ENV") == ()
    assert select(4, PATCHES, "ENV") == PATCHES


def test_names_come_back_in_list_order():
    assert names(select("delta, alpha", PATCHES, "ENV")) == ["alpha", "delta"]
    assert names(select(["gamma", "beta"], PATCHES, "ENV")) == ["beta", "gamma"]


def test_bad_count_and_unknown_names_name_the_setting():
    with pytest.raises(ValueError, match=r"MY_ENV: expected a count 0-4, got 5"):
        select("5", PATCHES, "MY_ENV")
    with pytest.raises(ValueError, match=r"MY_ENV: unknown patch\(es\) zeta; .*alpha, beta"):
        select("alpha,zeta", PATCHES, "MY_ENV")
