"""The `cache-validations` report to attach to the PR or a CI run: one self-contained HTML
page (counts, every pair that is not valid with its sample datoms, the exclusions and
their reasons; no script, no external asset) and JUnit XML (a testcase per pair). Both
are rendered from the aggregate's rows, so they say what `cache-validations.parquet` says.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from enum import StrEnum
from html import escape
from pathlib import Path

from logcache.validation.aggregate import Aggregate, pair_dataset
from logcache.validation.result import ResultRow
from state.persist_text import write_failed, write_text_atomic

HTML_NAME = "cache-validations.html"
JUNIT_NAME = "cache-validations.junit.xml"


class Outcome(StrEnum):
    """What a pair's row means for the refresh; the report counts by it."""

    VALID = "valid"
    INVALID = "invalid"
    NOT_VALIDATED = "not validated"  # no result for the entry's T yet, or its check was stopped (not checked)
    EXCLUDED = "excluded"  # left out of the registry patch on purpose


def outcome(row: ResultRow, excluded: Mapping[str, str]) -> Outcome:
    """An excluded dataset's pair is `excluded` whatever its row: the registry keeps its
    previous entry, so this refresh's result of it decides nothing."""
    if pair_dataset(row) in excluded:
        return Outcome.EXCLUDED
    if row.is_valid:
        return Outcome.VALID
    return Outcome.INVALID if row.checked else Outcome.NOT_VALIDATED


def sample_rows(row: ResultRow) -> list[dict[str, object]]:
    """The row's sample datoms; an unreadable sample (an old result) is one cell of text."""
    try:
        sample = json.loads(row.sample or "[]")
    except ValueError:
        return [{"sample": row.sample}]
    return [s for s in sample if isinstance(s, dict)] if isinstance(sample, list) else [{"sample": row.sample}]


_FIRST = ("kind", "count", "e", "a", "v", "t", "added")

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.invalid { color: #a40000; } .valid { color: #146c2e; } .excluded, .not-validated { color: #7a5a00; }
code, .datoms td { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
"""


def _table(head: list[str], body: list[list[str]], cls: str = "") -> str:
    """A table of already-escaped cells."""
    attr = f' class="{cls}"' if cls else ""
    rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>\n" for r in body)
    return f"<table{attr}><tr>{''.join(f'<th>{escape(h)}</th>' for h in head)}</tr>\n{rows}</table>\n"


def _datoms(row: ResultRow) -> str:
    sample = sample_rows(row)
    if not sample:
        return "<p>no sample datoms</p>\n"
    # What kind of difference first, then the datom as Datomic writes it.
    keys = list(dict.fromkeys([*(k for k in _FIRST if any(k in s for s in sample)), *(k for s in sample for k in s)]))
    return _table(keys, [[escape(str(s.get(k, ""))) for k in keys] for s in sample], "datoms")


def render_html(campaign: str, at: str, rows: list[ResultRow], excluded: Mapping[str, str]) -> str:
    outcomes = [(row, outcome(row, excluded)) for row in rows]
    counts = Counter(o for _, o in outcomes)
    count_rows = [[f'<span class="{o.value.replace(" ", "-")}">{escape(o.value)}</span>', str(counts.get(o, 0))] for o in Outcome]
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>cache-validations: {escape(campaign)}</title><style>{_STYLE}</style></head><body>\n",
        f"<h1>cache-validations: {escape(campaign)}</h1>\n<p>{len(rows)} pairs, aggregated {escape(at)}</p>\n",
        _table(["outcome", "pairs"], count_rows),
    ]
    failing = [(r, o) for r, o in outcomes if o in (Outcome.INVALID, Outcome.NOT_VALIDATED)]
    parts.append(f"<h2>Pairs not valid ({len(failing)})</h2>\n")
    if not failing:
        parts.append("<p>none</p>\n")
    for row, o in failing:
        counts_line = (
            f"expected {row.rows_expected}, actual {row.rows_actual}, missing {row.missing}, extra {row.extra}, duplicates {row.duplicates}"
        )
        parts.append(
            f'<h3 class="{o.value.replace(" ", "-")}">{escape(row.dataset)}/{escape(row.validation)}: {escape(o.value)} '
            f"({escape(row.error_kind)})</h3>\n<p>T {row.cache_t}; {escape(counts_line)}</p>\n<p><code>{escape(row.error)}</code></p>\n"
        )
        parts.append(_datoms(row))
    parts.append(f"<h2>Excluded from the registry patch ({len(excluded)})</h2>\n")
    parts.append("<p>They keep their previous cache entry.</p>\n" if excluded else "<p>none</p>\n")
    if excluded:
        parts.append(_table(["dataset", "reason"], [[escape(name), escape(reason)] for name, reason in sorted(excluded.items())]))
    parts.append("</body></html>\n")
    return "".join(parts)


def render_junit(campaign: str, rows: list[ResultRow], excluded: Mapping[str, str]) -> str:
    """A testsuite of one testcase per pair: a failure for an invalid pair, an error for
    one not validated, skipped (with the reason) for an excluded one."""
    outcomes = [(row, outcome(row, excluded)) for row in rows]
    counts = Counter(o for _, o in outcomes)
    total_s = sum(r.duration_s for r in rows)
    suite = ET.Element(
        "testsuite",
        name=f"cache-validations {campaign}",
        tests=str(len(rows)),
        failures=str(counts[Outcome.INVALID]),
        errors=str(counts[Outcome.NOT_VALIDATED]),
        skipped=str(counts[Outcome.EXCLUDED]),
        time=f"{total_s:.3f}",
    )
    for row, o in outcomes:
        case = ET.SubElement(suite, "testcase", classname=row.dataset, name=row.validation, time=f"{row.duration_s:.3f}")
        if o is Outcome.INVALID:
            failure = ET.SubElement(case, "failure", message=row.error, type=row.error_kind)
            failure.text = json.dumps(sample_rows(row), ensure_ascii=False, indent=1)
        elif o is Outcome.NOT_VALIDATED:
            ET.SubElement(case, "error", message=row.error, type=row.error_kind)
        elif o is Outcome.EXCLUDED:
            ET.SubElement(case, "skipped", message=f"left out of the registry patch: {excluded[pair_dataset(row)]}")
    root = ET.Element("testsuites", name="cache-validations", tests=suite.get("tests", "0"))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_reports(work_dir: Path, campaign: str, result: Aggregate, excluded: Mapping[str, str]) -> tuple[Path, Path]:
    """Write the HTML and JUnit reports beside `cache-validations.parquet`, each
    atomically (a reader sees the old report or the new one)."""
    html, junit = work_dir / HTML_NAME, work_dir / JUNIT_NAME
    for path, text in ((html, render_html(campaign, result.summary.at, result.rows, excluded)), (junit, render_junit(campaign, result.rows, excluded))):
        try:
            write_text_atomic(path, text)
        except OSError as exc:
            raise write_failed(path, exc) from None
    return html, junit
