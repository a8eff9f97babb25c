"""``diffmem report merge``: the shards of a split check (``check --shard i/n``) joined into
one report and one verdict (the joining itself: ``merge.py``)."""

from __future__ import annotations

import json
import pathlib

from diffmem.usage import UsageError, check_output_path, write_file_atomically


def add_report_commands(subparsers):
    p = subparsers.add_parser("report", help="work with JSON reports (merge shards)",
                              description="Work with the JSON reports of diffmem check.")
    sub = p.add_subparsers(dest="report_command", required=True, metavar="SUBCOMMAND")
    m = sub.add_parser("merge", help="join the reports of every shard of one check",
                       description="Join the --report files of every shard of one check "
                                   "(diffmem check --shard I/N --seed S --report FILE) into "
                                   "one report with the verdict a single run gives. Exit "
                                   "status 0 when that verdict is OK, 1 when not, 2 for "
                                   "reports that are not the shards of one check.")
    m.add_argument("reports", nargs="+", metavar="REPORT.json")
    m.add_argument("-o", "--output", required=True, metavar="OUT.json",
                   help="the joined report (its folder must exist)")
    m.set_defaults(func=cmd_merge)


def cmd_merge(args) -> int:
    from .merge import MergeError, merge, read_report
    from .report import format_summary
    check_output_path(args.output, "--output")
    try:
        reports = [(path, read_report(path)) for path in args.reports]
        merged, runs = merge(reports)
    except MergeError as exc:
        raise UsageError(str(exc)) from None
    text = json.dumps(merged, indent=1, allow_nan=False) + "\n"
    write_file_atomically(pathlib.Path(args.output),
                          lambda tmp: pathlib.Path(tmp).write_text(text, "utf-8"), "--output")
    summary = merged["summary"]
    print(format_summary(runs, summary["strict"], summary["allow_unsupported"]))
    print(f"JSON report: {args.output}")
    return 0 if summary["ok"] else 1
