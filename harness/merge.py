"""Joining the JSON reports of a sharded check (``diffmem check --shard i/n``) into the one
report, and the one verdict, a single run would have given.

Every shard must come from the same check: the same schema, diffmem version, fixtures
(manifest hash), held-out seed, tolerance and verdict rule (``--strict``,
``--allow-unsupported``), the same shard count, each shard once, all of them complete.
The verdict is recomputed from the joined runs with the rule a single run applies
(``report.summarise``): a shard's own OK means nothing for the whole (the coverage rule
counts held-out cases over every shard).
"""

from __future__ import annotations

import json
import pathlib

from .report import SCHEMA_VERSION, TIMING, summarise
from .verdict import Status

# What every shard of one check shares.
SAME = ("schema_version", "diffmem_version", "fixtures", "fixtures_manifest_sha256",
        "fixtures_pinned", "heldout_seed", "tolerance")


class MergeError(ValueError):
    """Reports that are not the shards of one check (one line, names the file)."""


class _Run:
    """A result of a report, read back as far as the verdict looks at it."""

    def __init__(self, d):
        self.case, self.backend, self.dtype = d["case"], d["backend"], d["dtype"]
        self.status = Status(d["status"])
        self.error, self.heldout = d["error"], bool(d["heldout"])
        self.tensors = [_Tensor(t) for t in d["tensors"]]
        self.worst_ratio, self.suspect = d["worst_ratio"], d["suspect"]

    @property
    def not_judgeable(self):
        # CaseResult.not_judgeable, on the report's fields: the untraced and repeated
        # calls' copies of a tensor are the same tensor.
        names = [t.tensor.split("/", 1)[1] if t.check in ("untraced", "repeat") else t.tensor
                 for t in self.tensors if t.judged_alone]
        return list(dict.fromkeys(names))


class _Tensor:
    def __init__(self, t):
        self.tensor, self.check = t["tensor"], t["check"]
        self.covered_by, self.judged_alone = t["covered_by"], t["judged_alone"]


def read_report(path) -> dict:
    path = pathlib.Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise MergeError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MergeError(f"{path}: not a JSON report ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        got = data.get("schema_version") if isinstance(data, dict) else type(data).__name__
        raise MergeError(f"{path}: expected a {SCHEMA_VERSION} report (diffmem check "
                         f"--shard I/N --report FILE), got schema {got!r}")
    if not isinstance(data.get("shard"), dict):
        raise MergeError(f"{path}: not a shard's report (it was written without --shard)")
    return data


def merge(reports) -> tuple:
    """``[(path, report dict)]`` of every shard -> (the joined report, its runs): the report
    with ``summary`` recomputed, ``shard`` null, ``merged_from`` the shards' files and
    ``seconds`` the shards' added; the runs for ``report.format_summary``."""
    if not reports:
        raise MergeError("no reports to merge")
    items = sorted(reports, key=lambda kv: kv[1]["shard"]["index"])
    first_path, first = items[0]
    count = first["shard"]["count"]
    summary = first["summary"]
    for path, data in items:
        for key in SAME:
            if data.get(key) != first.get(key):
                raise MergeError(f"{path}: {key} {data.get(key)!r:.80} differs from "
                                 f"{first_path}'s {first.get(key)!r:.80}: not a shard of "
                                 f"the same check")
        for key in ("strict", "allow_unsupported"):
            if data["summary"].get(key) != summary.get(key):
                raise MergeError(f"{path}: --{key.replace('_', '-')} differs from "
                                 f"{first_path}'s: not a shard of the same check")
        if data["shard"]["count"] != count:
            raise MergeError(f"{path}: shard {data['shard']['index']}/"
                             f"{data['shard']['count']}, but {first_path} is one of {count}")
        if not data.get("complete", False):
            raise MergeError(f"{path}: an interrupted shard (complete: false); run it again")
    indices = [d["shard"]["index"] for _, d in items]
    duplicated = sorted({i for i in indices if indices.count(i) > 1})
    if duplicated:
        raise MergeError(f"shard {duplicated[0]}/{count} given more than once")
    missing = sorted(set(range(1, count + 1)) - set(indices))
    if missing:
        raise MergeError(f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing: a "
                         f"merge needs every shard of the check")
    results = [r for _, d in items for r in d["results"]]
    seen = set()
    for r in results:
        key = (r["case"], r["backend"], r["dtype"])
        if key in seen:
            raise MergeError(f"run {key} appears in two shards: not shards of one split")
        seen.add(key)
    total = sum(d["shard"]["cases"] for _, d in items)
    if total != first["shard"]["cases_in_all_shards"]:
        raise MergeError(f"the shards hold {total} cases, the check had "
                         f"{first['shard']['cases_in_all_shards']}")
    runs = [_Run(r) for r in results]
    seconds = [d.get("seconds") for _, d in items]
    # The shards' results are JSON already; the summary holds finite numbers only.
    return dict(
        {k: first.get(k) for k in SAME},
        seconds=sum(seconds) if all(isinstance(s, (int, float)) for s in seconds) else None,
        timing={k: round(sum((d.get("timing") or {}).get(k, 0.0) for _, d in items), 3)
                for k in TIMING},
        complete=True, shard=None, merged_from=[str(p) for p, _ in items],
        summary=summarise(runs, summary.get("strict", False),
                          summary.get("allow_unsupported", False)),
        results=results), runs
