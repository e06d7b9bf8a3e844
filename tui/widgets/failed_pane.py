"""The Failed pane: every failed path (with its dataset and the error) and every invalid
pair of the latest validation, under the next actions they call for, each with its key:
`c` re-copies, `l` leaves the selected dataset out of the registry patch, `v` validates
the selected pair again. Enter opens the detail of a row, `y` copies the path or the pair."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from logcache.campaign import Campaign
from logcache.runbook import queries
from logcache.runbook.queries import ResultRow
from state.model import CampaignState, FailedPath, FailedPathOrigin, Resolution
from tui import findings
from tui.glyphs import Glyphs
from tui.live import Live
from tui.widgets.pane import PaneDefaults
from tui.widgets.results_pane import outcome
from tui.widgets.table import KeyedTable, styled

PAIR_PREFIX = "pair:"
CELL_PADDING = 2  # DataTable's cell padding, both sides
SCROLLBAR = 2
MIN_ERROR = 10


def path_error(fp: FailedPath, reasons: dict[str, str]) -> str:
    if fp.note:
        return fp.note
    if reasons.get(fp.dataset_name):
        return reasons[fp.dataset_name]
    return {FailedPathOrigin.COPY: "copy failed", FailedPathOrigin.DISCOVER: "path does not exist at the source"}.get(fp.origin, "missing at the destination")


def failed_path_loader(campaign: Campaign) -> Callable[[str], list[str]]:
    """A failed path in full, for the detail screen: where it was found, what became of
    it, the error and the command that fixes it."""

    def load(url: str) -> list[str]:
        state = campaign.state
        fp = state.failed_path(url)
        if fp is None:
            return [f"{url}: no longer a failed path of this campaign"]
        reasons = {d.name: d.reason for d in state.datasets if d.reason}
        dataset = fp.dataset_name or "-"
        lines = [
            f"path:       {fp.url}",
            f"dataset:    {dataset}",
            f"found by:   {fp.origin} at {fp.found_at}",
            f"resolution: {fp.resolution.value}",
            f"error:      {path_error(fp, reasons)}",
        ]
        c = shlex.quote(str(campaign.config.path))
        if fp.resolution in (Resolution.OPEN, Resolution.RECOPIED) and fp.dataset_name:
            pairs = ",".join(queries.pairs_of(campaign, [fp.dataset_name])) or fp.dataset_name
            lines += [
                "",
                "c in the app re-copies the failed paths and re-validates their datasets; from a shell:",
                f"fix: logcache copy {c} --only {shlex.quote(fp.dataset_name)} && logcache validate {c} --force --filter-by-name {shlex.quote(pairs)}",
            ]
        elif fp.resolution is Resolution.OPEN:
            lines += ["", "c in the app re-copies the failed paths; from a shell:", f"fix: logcache run {c}"]
        return lines

    return load


def fit_errors(rows: list[tuple[str, Sequence[object]]], width: int, headers: Sequence[int]) -> list[tuple[str, Sequence[object]]]:
    """The rows with their error (the third cell) cut to the room the other columns
    leave (each as wide as its header, `headers`, or its widest cell), so the path,
    last, is whole whenever the pane is wide enough for it; the detail screen (Enter)
    shows the whole error."""
    if not rows or width <= 0:
        return rows
    others = sum(max(headers[i], *(len(str(cells[i])) for _, cells in rows)) + CELL_PADDING for i in (0, 1, 3, 4))
    room = max(width - others - CELL_PADDING - SCROLLBAR, MIN_ERROR)
    return [(key, (*cells[:2], cut(str(cells[2]), room), *cells[3:])) for key, cells in rows]


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


class FailedPane(PaneDefaults, Vertical):
    TAB: ClassVar[str] = "failed"
    TITLE: ClassVar[str] = "Failed"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "screen.recopy", "Re-copy failed"),
        Binding("l", "screen.leave_out", "Leave out"),
        Binding("v", "screen.revalidate", "Validate again"),
        Binding("enter", "choose", "Detail"),
    ]
    DEFAULT_CSS = """
    FailedPane { height: 1fr; }
    FailedPane > .summary { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    FailedPane > #failed-actions { height: auto; max-height: 8; padding: 0 1; color: $warning; display: none; }
    FailedPane > #failed-actions.-shown { display: block; }
    """

    class PairChosen(Message):
        """Enter on an invalid pair: show its detail."""

        def __init__(self, pair: str) -> None:
            super().__init__()
            self.pair = pair

    class PathChosen(Message):
        """Enter on a failed path: show it in full."""

        def __init__(self, url: str) -> None:
            super().__init__()
            self.url = url

    def __init__(self, glyphs: Glyphs) -> None:
        super().__init__()
        self._invalid: list[ResultRow] = []
        self._results: list[ResultRow] | None = None
        self._shape: tuple[object, ...] = ()
        self._state: CampaignState | None = None

    def compose(self) -> ComposeResult:
        yield Static("no failed paths", id="failed-summary", classes="summary", markup=False)
        yield Static("", id="failed-actions", markup=False)
        yield KeyedTable(
            (("dataset", "dataset"), ("state", "state"), ("error", "error"), ("from", "origin"), ("path", "url")),
            id="failed-table",
            copy_text=lambda key: key.removeprefix(PAIR_PREFIX),
        )

    def focus_target(self) -> Widget:
        return self.query_one(KeyedTable)

    def refresh_from(self, state: CampaignState, live: Live, force: bool = False) -> None:
        """Rebuilt only when the failed paths or the invalid pairs (of the latest results,
        aggregate or validation) change."""
        if live.results is not self._results:
            self._results = live.results
            self._invalid = [r for r in live.results if not r.is_valid]
        self._state = state
        open_count = len(state.open_failed_paths())
        revalidated = sum(fp.resolution is Resolution.REVALIDATED for fp in state.failed_paths)
        shape = (len(state.failed_paths), open_count, revalidated, id(self._invalid), id(live.actions))
        if shape == self._shape and not force:
            return
        self._shape = shape
        todo = self.query_one("#failed-actions", Static)
        todo.update("\n".join(findings.line(a) for a in live.actions))
        todo.set_class(bool(live.actions), "-shown")
        reasons = {d.name: d.reason for d in state.datasets if d.reason} if state.failed_paths else {}
        rows: list[tuple[str, Sequence[object]]] = []
        for fp in state.failed_paths:
            error = path_error(fp, reasons)
            rows.append((fp.url, (fp.dataset_name, styled(fp.resolution), error, fp.origin, fp.url)))
        for r in self._invalid:
            pair = f"{r.dataset}/{r.validation}"
            rows.append((PAIR_PREFIX + pair, (pair, styled(outcome(r)), f"{r.error_kind}: {r.error}" if r.error else r.error_kind, "validation", "Enter: detail")))
        table = self.query_one(KeyedTable)
        table.rebuild(fit_errors(rows, self.size.width, [c.label.cell_len for c in table.columns.values()]))
        parts = []
        if state.failed_paths:
            parts.append(f"{open_count} open of {len(state.failed_paths)} failed paths" + ("  c: re-copy and re-validate" if open_count else ""))
        if self._invalid:
            unchecked = sum(not r.checked for r in self._invalid)
            counts = [f"{len(self._invalid) - unchecked} invalid"] + ([f"{unchecked} not checked"] if unchecked else [])
            parts.append(f"{', '.join(counts)} pairs  Enter: detail")
        self.query_one("#failed-summary", Static).update("; ".join(parts) or "no failed paths, no invalid pairs")

    def on_resize(self) -> None:
        self._shape = ()  # the errors are cut to the width: rebuild at the next refresh

    def selected_pair(self) -> str | None:
        """The pair of the selected row, or the dataset (`<shard>/<kind>`) of the selected
        failed path: what `l` leaves out and `v` validates again."""
        key = self.query_one(KeyedTable).selected_key()
        if key is None:
            return None
        if key.startswith(PAIR_PREFIX):
            return key.removeprefix(PAIR_PREFIX)
        fp = self._state.failed_path(key) if self._state is not None else None
        return fp.dataset_name if fp is not None and fp.dataset_name else None

    def action_choose(self) -> None:
        key = self.query_one(KeyedTable).selected_key()
        if key is None:
            return
        if key.startswith(PAIR_PREFIX):
            self.post_message(self.PairChosen(key.removeprefix(PAIR_PREFIX)))
        else:
            self.post_message(self.PathChosen(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()
