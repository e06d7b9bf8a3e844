"""`logcache aggregate` (runbook step 6) and `logcache failures`."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from logcache.cli.common import Exit, SubParsers, campaign_command, open_for, print_json
from logcache.cli.validate import row_line
from logcache.runbook import queries
from logcache.runbook.lifecycle import StepFailed
from logcache.runbook.next_actions import next_actions
from logcache.runbook.status import action_lines
from logcache.runbook.steps import aggregate
from logcache.validation.aggregate import pair_dataset, unchecked
from logcache.validation.report import HTML_NAME, JUNIT_NAME
from logcache.validation.result import NOT_CHECKED, ResultRow


def register(sub: SubParsers) -> None:
    p = campaign_command(sub, "aggregate", help="join every result into cache-validations.parquet; exit 0 only if all valid", json_output="the summary")
    p.set_defaults(func=run)

    q = campaign_command(
        sub, "failures", help="list the invalid pairs and failed paths, and how to re-copy and re-validate them", lock=False, json_output="the findings"
    )
    q.add_argument("--all", action="store_true", help="also those already re-copied or re-validated")
    q.set_defaults(func=run_failures)


def run(args: argparse.Namespace) -> int:
    with open_for(args, None if args.json else print) as campaign:
        try:
            result = aggregate.run(campaign)
        except StepFailed as failed:
            if failed.result is None:
                raise
            result = failed.result
        reports = {"html": str(campaign.config.work_dir / HTML_NAME), "junit": str(campaign.config.work_dir / JUNIT_NAME)}
    s = result.summary
    if args.json:
        print_json({"summary": asdict(s), "invalid": [row_json(r) for r in result.invalid], "not_checked": [row_json(r) for r in result.not_checked], "reports": reports})
        return Exit.DONE if s.all_valid else Exit.FINDINGS
    for row in [*result.invalid, *result.not_checked]:
        print(row_line(row))
    kinds = "".join(f", {k.kind}: {k.count}" for k in s.by_error_kind)
    print(f"{s.rows} rows: {s.valid} valid, {s.invalid} invalid, {s.not_checked} not checked{kinds} -> {s.path}")
    print(f"report: {reports['html']} (JUnit XML: {reports['junit']})")
    print("all valid: the registry PR can be merged" if s.all_valid else "not all valid: see `logcache failures`")
    return 0 if s.all_valid else 1


def run_failures(args: argparse.Namespace) -> int:
    with open_for(args, None, write=False) as campaign:
        rows = queries.current_results(campaign)
        excluded = campaign.state.excluded()
        invalid = [r for r in rows if not r.is_valid and not unchecked(r) and pair_dataset(r) not in excluded]
        not_checked = [r for r in rows if r.error_kind == NOT_CHECKED and pair_dataset(r) not in excluded]
        paths = campaign.state.failed_paths if args.all else campaign.state.open_failed_paths()
        todo = next_actions(campaign.config, campaign.state, queries.entries(campaign), rows, str(args.campaign))
        found = Exit.FINDINGS if invalid or not_checked or campaign.state.open_failed_paths() else Exit.DONE
        if args.json:
            print_json(
                {
                    "invalid": [row_json(r) for r in invalid],
                    "not_checked": [row_json(r) for r in not_checked],
                    "failed_paths": [asdict(fp) for fp in paths],
                    "actions": [asdict(a) for a in todo],
                    "excluded": [asdict(x) for x in campaign.state.exclusions],
                }
            )
            return found
        for row in invalid:
            print(failure_line(row))
        for row in not_checked:
            print(f"not checked {row.dataset}/{row.validation}: {row.error}; run validate again")
        if invalid:
            print(f"details: logcache show {args.campaign} DATASET/VALIDATION")
        paths = campaign.state.failed_paths if args.all else campaign.state.open_failed_paths()
        for fp in paths:
            print(f"{fp.resolution.value:11} {fp.origin:10} {fp.dataset_name or '-':50} {fp.url}")
        names = [n for n in queries.failed_datasets(campaign) if n not in excluded]
        if names:
            c = args.campaign
            print(f"re-copy:     logcache copy {c} --only {' '.join(names)}")
            print(f"re-validate: logcache validate {c} --force --filter-by-name {','.join(queries.pairs_of(campaign, names))}")
            print(f"or both:     logcache run {c}")
        for x in campaign.state.exclusions:
            print(f"excluded    {x.name}: {x.reason}")
        for line in action_lines([asdict(a) for a in todo]):
            print(line)
    return found


def row_json(row: ResultRow) -> dict[str, object]:
    """A result row for `--json`: its sample datoms as JSON, not as a string of JSON."""
    body = asdict(row)
    try:
        body["sample"] = json.loads(row.sample or "[]")
    except ValueError:
        pass  # not JSON (an old result): kept as the text it is
    return body


def failure_line(row: ResultRow) -> str:
    """One invalid pair: name, error kind, counts and the one-line error."""
    counts = f"missing {row.missing}, extra {row.extra}, duplicates {row.duplicates}"
    # A missing path is listed once, as a failed path with its re-copy, below.
    error = "a path is missing: see the failed paths" if row.error_kind == "missing-path" else row.error
    return f"invalid     {row.error_kind:12} {row.dataset}/{row.validation}  ({counts}): {error}"
