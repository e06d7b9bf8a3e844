"""The tabbed panes. Each renders from the campaign state and the live progress when
the app refreshes it; tables are keyed by name and only changed cells are rewritten."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, ProgressBar, Static

from logcache.progress_render import human_bytes, human_duration
from logcache.validation import ResultRow
from state.model import CampaignState
from tui.live import Live

STATUS_STYLE = {
    "verified": "green", "done": "green", "valid": "green", "revalidated": "green", "recopied": "cyan",
    "failed": "bold red", "conflict": "bold red", "stuck": "bold yellow", "invalid": "bold red", "open": "bold red",
    "running": "cyan", "copying": "cyan", "pending": "dim",
}


def styled(value: str) -> Text:
    return Text(value, style=STATUS_STYLE.get(value, ""))


def sync_table(table: DataTable, rows: Iterable[tuple[str, Sequence[object]]]) -> None:
    """Make `table` hold exactly `rows` (key, cells): new rows added, gone ones removed,
    and only cells whose value changed rewritten."""
    wanted = dict(rows)
    columns = list(table.columns)
    for key in [k.value for k in table.rows if k.value not in wanted]:
        table.remove_row(key)
    for key, cells in wanted.items():
        if key not in table.rows:
            table.add_row(*cells, key=key)
            continue
        current = table.get_row(key)
        for column, old, new in zip(columns, current, cells):
            if str(old) != str(new):
                # A value longer than the column's widest ("pending" -> "verified") widens it.
                table.update_cell(key, column, new, update_width=True)


class CopyPane(Vertical):
    failures_only = False

    def compose(self) -> ComposeResult:
        yield Static("no copy yet", id="copy-summary")
        yield ProgressBar(total=None, show_eta=False, id="copy-bar")
        table: DataTable = DataTable(id="copy-table", cursor_type="row", zebra_stripes=True)
        # The name goes last: at 80 columns a long one is cut, never the status.
        for label, key in (("status", "status"), ("objects", "objects"), ("bytes", "bytes"), ("dataset", "name")):
            table.add_column(label, key=key)
        yield table

    def refresh_from(self, state: CampaignState, live: Live) -> None:
        known = {d.name: d for d in state.datasets}
        rows = []
        for name in sorted(set(known) | set(live.datasets)):
            lr, ds = live.datasets.get(name), known.get(name)
            saved = ds.copy_status.value if ds else "pending"
            # The live status of this session's copy wins, except "present" (nothing to
            # copy), which says less than what the campaign recorded.
            status = saved if lr is None or lr.status == "present" else lr.status
            if self.failures_only and status not in ("failed", "conflict"):
                continue
            total = lr.objects_total if lr else (ds.objects if ds else 0)
            done = total if status == "verified" else (lr.objects_done if lr else 0)
            size = lr.bytes_total if lr else (ds.bytes if ds else 0)
            rows.append((name, (styled(status), f"{done:,}/{total:,}", human_bytes(size), name)))
        sync_table(self.query_one(DataTable), rows)
        p = live.copy
        bar = self.query_one(ProgressBar)
        summary = self.query_one("#copy-summary", Static)
        if p is None:
            verified = sum(d.copy_status.value == "verified" for d in state.datasets)
            summary.update(f"{verified}/{len(state.datasets)} datasets verified" + ("  [dim](failures only)[/]" if self.failures_only else ""))
            bar.update(total=max(len(state.datasets), 1), progress=verified)
            return
        bar.update(total=max(p.objects_total, 1), progress=p.objects_done)
        summary.update(
            f"{p.objects_done:,}/{p.objects_total:,} objects  {human_bytes(p.bytes_done)}/{human_bytes(p.bytes_total)}  "
            f"{p.objects_per_s:,.0f} obj/s  {human_bytes(p.bytes_per_s)}/s  ETA {human_duration(p.eta_s)}"
            + ("  [dim](failures only)[/]" if self.failures_only else "")
        )


class ValidatorsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("no validation yet", id="parcels-summary")
        table: DataTable = DataTable(id="parcels-table", cursor_type="row", zebra_stripes=True)
        for label, key in (("parcel", "parcel"), ("job", "job"), ("done", "done"), ("in hand", "task"), ("bytes", "bytes"), ("beat", "beat"), ("status", "status")):
            table.add_column(label, key=key)
        yield table

    def refresh_from(self, state: CampaignState, live: Live) -> None:
        rows = []
        for p in state.parcels:
            u = live.parcels.get(p.parcel_id)
            task = u.task if u else ""
            size = f"{human_bytes(u.bytes_done)}/{human_bytes(u.bytes_total)}" if u else ""
            beat = f"{u.heartbeat_age_s:.0f}s" if u and u.heartbeat_age_s is not None else "-"
            job = f"{p.backend} {p.job_id}".strip()
            rows.append((p.parcel_id, (p.parcel_id, job, f"{p.tasks_done}/{p.tasks_total}", task, size, beat, styled(p.status.value))))
        sync_table(self.query_one(DataTable), rows)
        counts: dict[str, int] = {}
        for p in state.parcels:
            counts[p.status.value] = counts.get(p.status.value, 0) + 1
        self.query_one("#parcels-summary", Static).update(
            ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ("  [b]x[/b]: split a stuck parcel" if counts.get("stuck") else "")
            if counts else "no validation yet"
        )

    def selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)


class FailedPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("no failed paths", id="failed-summary")
        table: DataTable = DataTable(id="failed-table", cursor_type="row", zebra_stripes=True)
        for label, key in (("state", "state"), ("from", "origin"), ("dataset", "dataset"), ("path", "url")):
            table.add_column(label, key=key)
        yield table

    def refresh_from(self, state: CampaignState, live: Live) -> None:
        rows = [(fp.url, (styled(fp.resolution.value), fp.origin, fp.dataset_name, fp.url)) for fp in state.failed_paths]
        sync_table(self.query_one(DataTable), rows)
        open_count = len(state.open_failed_paths())
        self.query_one("#failed-summary", Static).update(
            f"{open_count} open of {len(state.failed_paths)}" + ("  [b]c[/b]: re-copy and re-validate them" if open_count else "")
            if state.failed_paths else "no failed paths"
        )


class DiffPane(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static("the registry diff appears after discovery", id="diff-summary")
        yield Static("", id="diff-body")

    def show(self, summary: str, diff: str) -> None:
        self.query_one("#diff-summary", Static).update(summary + "  [b]e[/b]: export  [b]a[/b]: apply on a branch")
        self.query_one("#diff-body", Static).update(Syntax(diff or "(no changes)", "diff", theme="ansi_dark", word_wrap=False))


class ResultsPane(Vertical):
    invalid_only = False

    def compose(self) -> ComposeResult:
        yield Static("no aggregate yet", id="results-summary")
        table: DataTable = DataTable(id="results-table", cursor_type="row", zebra_stripes=True)
        for label, key in (("dataset", "dataset"), ("valid", "valid"), ("validation", "validation"), ("error", "error")):
            table.add_column(label, key=key)
        yield table

    def show(self, state: CampaignState, rows: list[ResultRow]) -> None:
        shown = [r for r in rows if not (self.invalid_only and r.is_valid)]
        sync_table(
            self.query_one(DataTable),
            [(f"{r.dataset}/{r.validation}", (r.dataset, styled("valid" if r.is_valid else "invalid"), r.validation, r.error_kind if not r.is_valid else "")) for r in shown],
        )
        a = state.aggregate
        if a is not None:
            verdict = "[green]all valid[/]" if a.all_valid else f"[red]{a.invalid} invalid[/] (" + ", ".join(f"{k.kind}: {k.count}" for k in a.by_error_kind) + ")"
            self.query_one("#results-summary", Static).update(f"{a.valid}/{a.rows} valid: {verdict}" + ("  [dim](invalid only)[/]" if self.invalid_only else ""))
