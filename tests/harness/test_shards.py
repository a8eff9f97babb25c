"""Sharded checks: ``--shard i/n`` splits the cases the same way on every machine, whole
groups at a time, and ``diffmem report merge`` joins the shards' reports into the verdict
one run gives."""

import json

import pytest

from diffmem.cli import main
from diffmem.harness.check import fixture_refs, heldout_refs
from diffmem.harness.schedule import groups, parse_shard, shard

BUG = "diffmem.backends.scale_bugs:batch_chunk_32"   # fails the held-out wide batch only
CASES = "ntm-random-ff-n1-init,ntm-copy-ff-init,ntm-copy-ff-sharp"


def test_parse_shard():
    assert parse_shard("1/1") == (1, 1) and parse_shard("3/4") == (3, 4)
    for bad in ("0/2", "3/2", "2", "a/b", "1/0", "-1/2", ""):
        with pytest.raises(ValueError, match="--shard: expected i/n"):
            parse_shard(bad)


def test_shards_partition_the_cases_in_whole_groups_the_same_way_each_time():
    refs, shapes, _ = fixture_refs(None, "*")
    extra, extra_shapes = heldout_refs(11, 4)
    refs, shapes = refs + extra, {**shapes, **extra_shapes}
    for count in (1, 2, 3, 7):
        parts = [shard(refs, shapes, i, count) for i in range(1, count + 1)]
        names = [r.name for part in parts for r in part]
        assert sorted(names) == sorted(r.name for r in refs)          # each case once
        assert parts == [shard(list(refs), dict(shapes), i, count)    # a pure function
                         for i in range(1, count + 1)]
        where = {r.name: i for i, part in enumerate(parts) for r in part}
        for g in groups(refs, shapes):                                 # groups kept whole
            assert len({where[r.name] for r in g}) == 1
        if count > 1:
            assert all(parts)                                          # none left empty


def _check(run_check, tmp_path, name, *extra):
    report = tmp_path / f"{name}.json"
    code, out, _ = run_check("--backend", "torch", "--backend", BUG, "--dtype", "float64",
                             "--cases", CASES, "--family", "ntm", "--heldout", "1",
                             "--seed", "5", "--report", str(report), *extra)
    return code, out, report


def test_merged_shards_give_the_verdict_of_one_run(run_check, tmp_path, capsys):
    code, _, whole = _check(run_check, tmp_path, "whole")
    parts = [_check(run_check, tmp_path, f"part{i}", "--shard", f"{i}/2") for i in (1, 2)]
    assert code == 1   # the batch chunk bug fails the held-out wide batch
    assert all(f"shard {i}/2: " in out for i, (_, out, _) in zip((1, 2), parts))
    merged = tmp_path / "merged.json"
    assert main(["report", "merge", str(parts[1][2]), str(parts[0][2]),
                 "-o", str(merged)]) == code
    out = capsys.readouterr().out
    one, joined = json.loads(whole.read_text()), json.loads(merged.read_text())
    assert joined["summary"] == one["summary"] and joined["summary"]["failed"] >= 1
    assert out.rstrip().splitlines()[-2] == "FAILED"

    def runs(report):
        return sorted((r["case"], r["backend"], r["dtype"], r["status"])
                      for r in report["results"])
    assert runs(joined) == runs(one)

    # bad input: one line, exit 2
    for argv, says in (([str(parts[0][2])], "shard(s) 2/2 missing"),
                       ([str(parts[0][2]), str(parts[0][2])], "given more than once"),
                       ([str(whole)], "not a shard's report"),
                       ([str(tmp_path / "none.json")], "no such file")):
        assert main(["report", "merge", *argv, "-o", str(tmp_path / "x.json")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and says in err, err
    other = json.loads(parts[1][2].read_text())
    other["heldout_seed"] = 6
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert main(["report", "merge", str(parts[0][2]), str(tmp_path / "other.json"),
                 "-o", str(tmp_path / "x.json")]) == 2
    assert "heldout_seed 6 differs" in capsys.readouterr().err


def test_shard_usage_errors(run_check):
    code, _, err = run_check("--backend", "reference", "--shard", "3/2", "--seed", "1")
    assert code == 2 and "--shard: expected i/n" in err
    code, _, err = run_check("--backend", "reference", "--shard", "1/2", "--heldout", "2")
    assert code == 2 and "give --seed S too" in err


def _collected(tmp_path, *args, collect=True):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--pyargs", "diffmem.harness.conformance", "-q",
                           *(["--collect-only"] if collect else []),
                           "--diffmem-backend", "reference", "--diffmem-family", "ntm",
                           "--diffmem-heldout", "2", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return proc.returncode, [line for line in proc.stdout.splitlines() if "::" in line], \
        proc.stdout + proc.stderr


def test_conformance_suite_splits_the_same_way(tmp_path):
    code, whole, out = _collected(tmp_path, "--diffmem-seed", "4")
    assert code == 0 and whole, out
    parts = []
    for i in (1, 2, 3):
        code, ids, out = _collected(tmp_path, "--diffmem-seed", "4", "--diffmem-shard", f"{i}/3")
        assert code == 0 and ids, out
        parts.append(ids)
    assert sorted(sum(parts, [])) == sorted(whole)
    code, _, out = _collected(tmp_path, "--diffmem-shard", "1/3", collect=False)
    assert code == 1 and "usage-error" in out and "give --diffmem-seed S too" in out
