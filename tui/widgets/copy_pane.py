"""The Copy pane: one row per dataset, a summary line, and a sparkline of objects/s."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from logcache.progress_render import human_bytes, human_duration
from state.model import CampaignState, CopyStatus, DatasetState, StepName, StepStatus
from tui.glyphs import Glyphs, bar, sparkline
from tui.live import Live
from tui.statuses import RowStatus
from tui.widgets.lines import set_line
from tui.widgets.pane import PaneDefaults
from tui.widgets.table import KeyedTable, Number, styled

FAILED = (RowStatus.FAILED, RowStatus.CONFLICT)
# Up to this many rows, a rebuild rewrites every row (a few tens of milliseconds); past
# it, only the rows on screen.
EAGER_ROWS = 200


class CopyPane(PaneDefaults, Vertical):
    TAB: ClassVar[str] = "copy"
    TITLE: ClassVar[str] = "Copy"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_failures", "Failures only"),
        Binding("s", "sort", "Sort"),
    ]
    DEFAULT_CSS = """
    CopyPane { height: 1fr; }
    CopyPane > .summary { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, glyphs: Glyphs) -> None:
        super().__init__()
        self.glyphs = glyphs
        self.failures_only = False
        self._known: dict[str, DatasetState] = {}
        self._names: list[str] = []  # the rows the table holds, in order
        self._shape: tuple[object, ...] = ()
        self._counts = (0, 0)
        self._objects = 0  # the whole copy's objects
        self._state: CampaignState | None = None
        self._live: Live | None = None

    def compose(self) -> ComposeResult:
        yield Static("no copy yet", id="copy-summary", classes="summary", markup=False)
        yield Static("", id="copy-bar", classes="summary", markup=False)
        # Dataset and status first: what an operator reads; numbers scroll off at 60 columns.
        table = KeyedTable((("dataset", "name"), ("status", "status"), ("objects", "objects"), ("bytes", "bytes")), id="copy-table")
        # A filter matches what the rows say now, not what they said at the last rebuild.
        table.rows_now = self._rows_now
        yield table

    def focus_target(self) -> Widget:
        return self.query_one(KeyedTable)

    def _cells(self, name: str, live: Live) -> Sequence[object] | None:
        lr, ds = live.datasets.get(name), self._known.get(name)
        if lr is None and ds is None:
            return None
        status = self._status(name, live)
        total = lr.objects_total if lr else (ds.objects if ds else 0)
        done = total if status == RowStatus.VERIFIED else (lr.objects_done if lr else 0)
        size = lr.bytes_total if lr else (ds.bytes if ds else 0)
        return (name, styled(status), Number(f"{done:,}/{total:,}", total), Number(human_bytes(size), size))

    def _status(self, name: str, live: Live) -> StrEnum:
        lr, ds = live.datasets.get(name), self._known.get(name)
        saved: StrEnum = ds.copy_status if ds else RowStatus.PENDING
        # The live status of this session's copy wins, except "present" (nothing to copy),
        # which says less than what the campaign recorded.
        return saved if lr is None or lr.status is RowStatus.PRESENT else lr.status

    def refresh_from(self, state: CampaignState, live: Live, force: bool = False) -> None:
        """Per refresh, the work is the rows on screen plus the summary: the table is
        rebuilt only when its set of rows changes (new datasets, a filter, a failure
        while failures are shown)."""
        table = self.query_one(KeyedTable)
        self._state, self._live = state, live
        shape = (id(state.datasets), len(state.datasets), live.generation, live.failed if self.failures_only else 0, self.failures_only)
        if force or shape != self._shape:
            self._shape = shape
            self._known = {d.name: d for d in state.datasets}
            names = sorted(set(self._known) | set(live.datasets))
            if self.failures_only:
                names = [n for n in names if self._status(n, live) in FAILED]
            # A filter and a sort read every row: only without them is a large table kept
            # row by row as it is seen.
            large = len(names) > EAGER_ROWS and not table.filter_text and table.sorted_by is None
            if large and names == self._names:
                # The copy's plan names the rows the table holds already: only those on
                # screen are rewritten (every row, 20,000 of them, held keys for seconds);
                # the others when they scroll into view.
                table.refresh_visible(lambda key: self._cells(key, live))
            elif large:
                self._names = names
                table.sync_keys(names, self._cells_now)
            else:
                self._names = names
                table.sync(self._rows(live))
            verified = sum(d.copy_status is CopyStatus.VERIFIED for d in state.datasets)
            self._counts = (verified, len(state.datasets))
            self._objects = sum(d.objects for d in state.datasets)
        else:
            table.refresh_visible(lambda key: self._cells(key, live))
        self._summarise(state, live)

    def _summarise(self, state: CampaignState, live: Live) -> None:
        width = max(self.size.width - 2, 20)
        flag = "  (failures only)" if self.failures_only else ""
        p, g = live.copy, self.glyphs
        summary, line2 = self.query_one("#copy-summary", Static), self.query_one("#copy-bar", Static)
        step = state.step(StepName.COPY)
        recopying = state.step(StepName.RECOPY_FAILED).status is StepStatus.RUNNING
        # The whole copy, also while and after a re-copy reports its own (smaller)
        # progress: that one is a suffix while it runs.
        partial = p is not None and step.status is not StepStatus.RUNNING and (recopying or p.objects_total < self._objects)
        if p is None or partial:
            verified, total = self._counts
            note = f"  {g.separator} copy {step.status.value}" + (f": {step.note}" if step.note and step.status is not StepStatus.DONE else "")
            if p is not None and recopying:
                note += f"  {g.separator} re-copy {p.objects_done:,}/{p.objects_total:,} objects"
            set_line(summary, f"{verified:,}/{total:,} datasets verified{note}{flag}")
            set_line(line2, bar(verified, max(total, 1), min(width, 60), g))
            return
        eta = human_duration(p.eta_s) if p.eta_s is not None else "-"
        text = f"{p.objects_done:,}/{p.objects_total:,} objects  {human_bytes(p.bytes_done)}/{human_bytes(p.bytes_total)}  {p.objects_per_s:,.0f} obj/s  {human_bytes(p.bytes_per_s)}/s  ETA {eta}"
        if len(text) + len(flag) > width:
            # Never wrapped: at 80 columns the rate and ETA say the most.
            text = f"{p.objects_done:,}/{p.objects_total:,} obj  {p.objects_per_s:,.0f} obj/s  ETA {eta}"
        set_line(summary, text + flag)
        spark_width = max(width - 22, 8)
        set_line(line2, f"{bar(p.objects_done, max(p.objects_total, 1), 20, g)} {sparkline(list(live.rates), spark_width, g)}")

    def _rows(self, live: Live) -> list[tuple[str, Sequence[object]]]:
        return [(n, cells) for n in self._names if (cells := self._cells(n, live)) is not None]

    def _cells_now(self, name: str) -> Sequence[object] | None:
        """A row's cells as they are now, for the table's turns (outside a refresh)."""
        if self._live is None:
            return None
        with self._live.lock:
            return self._cells(name, self._live)

    def _rows_now(self) -> list[tuple[str, Sequence[object]]]:
        if self._live is None:
            return []
        with self._live.lock:
            return self._rows(self._live)

    def _rebuild(self) -> None:
        """Every row rewritten: a refresh rewrites only those on screen, and a sort reads
        them all."""
        if self._state is not None and self._live is not None:
            self._names = []
            with self._live.lock:
                self.refresh_from(self._state, self._live, force=True)

    def action_toggle_failures(self) -> None:
        self.failures_only = not self.failures_only
        self._rebuild()

    def action_sort(self) -> None:
        self._rebuild()
        self.query_one(KeyedTable).action_sort_next()
