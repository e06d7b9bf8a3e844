"""A keyed DataTable for the panes: Home and End go to the first and last row, j and k
move like Down and Up, Enter says which row was chosen, `s` or a click on a header sorts
(by value for numbers: bytes, counts, ages) and the header shows the direction, `/`
filters the rows by text and `y` copies the selected row's text to the clipboard. Rows
are kept in step with the data cheaply."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Sequence
from enum import StrEnum
from typing import Any, ClassVar, Self

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable, Input
from textual.widgets.data_table import ColumnKey, RowKey
from textual.widgets.data_table import Row as DataRow

from state.model import ParcelStatus, Resolution
from tui.statuses import RowStatus, Verdict

# Keyed by each value's first enum; a StrEnum member equals its text, so the same word in
# another enum (CopyStatus.VERIFIED, StepStatus.DONE, ...) finds the same style.
STATUS_STYLE: dict[StrEnum, str] = {
    RowStatus.VERIFIED: "green", ParcelStatus.DONE: "green", Verdict.VALID: "green", Resolution.REVALIDATED: "green",
    Resolution.RECOPIED: "cyan", RowStatus.FAILED: "bold red", RowStatus.CONFLICT: "bold red", ParcelStatus.STUCK: "bold yellow",
    Verdict.INVALID: "bold red", Verdict.NOT_CHECKED: "bold yellow", Resolution.OPEN: "bold red", ParcelStatus.RUNNING: "cyan", RowStatus.COPYING: "cyan",
    RowStatus.PENDING: "dim", RowStatus.INTERRUPTED: "yellow",
}


def styled(status: StrEnum) -> Text:
    return Text(status.value, style=STATUS_STYLE.get(status, ""))


class Number(Text):
    """A cell shown as text ("11.4 KB", "3/10", "12s") that sorts by its value."""

    def __init__(self, text: str, value: float) -> None:
        super().__init__(text)
        self.sort_value = value


def sort_key(cell: object) -> tuple[int, float, str]:
    """Numbers by value, before text; text without regard to case."""
    value = getattr(cell, "sort_value", None)
    if isinstance(value, int | float):
        return (0, float(value), "")
    return (1, 0.0, str(cell).casefold())


# The sorted column's direction, in Unicode and in the ASCII set (tui.glyphs).
ARROWS = {False: ("▲", "▼"), True: ("^", "v")}
ARROW_ROOM = "  "  # a header keeps room for " ▲", so sorting never widens a column
# How long one turn of the app's loop adds rows for.
TURN_S = 0.02

Row = tuple[str, Sequence[object]]


class KeyedTable(DataTable[object]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("slash", "filter", "Filter rows (Escape clears)", key_display="/", show=False),
        Binding("y", "copy_row", "Copy the row's path or name", show=False),
    ]
    DEFAULT_CSS = """
    KeyedTable {
        height: 1fr;
    }
    """

    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None, copy_text: Callable[[str], str] = str) -> None:
        self._row_layout: dict[str, Any] = {}  # before DataTable's own set-up, which may clear
        # Rows shown in the next turns, in order; cells None: read from `_cells_of` then.
        self._to_add: deque[tuple[str, Sequence[object] | None]] = deque()
        self._cells_of: Callable[[str], Sequence[object] | None] = lambda _key: None
        self._adding = False  # a turn is due
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._labels = {key: label for label, key in columns}
        for label, key in columns:
            self.add_column(label + ARROW_ROOM, key=key)
        # Row keys in display order, kept here: DataTable rebuilds its own ordered list
        # after every cell update, which costs O(rows) per refresh.
        self._order: list[str] = []
        self._sorted: tuple[str, bool] | None = None  # column, descending
        self._sort_index = -1
        self.filter_text = ""
        # Every row the pane gave, before the filter: a new filter is applied to them.
        self._all: dict[str, Sequence[object]] = {}
        self.copy_text = copy_text  # what `y` copies of the selected row, from its key
        # Every row as it is now, from a pane whose refreshes rewrite only the rows on
        # screen: what a filter reads, rather than what the last rebuild left.
        self.rows_now: Callable[[], Iterable[Row]] | None = None

    # DataTable keys its list of rows in order and its line offsets (both O(rows)) by a
    # count that every cell update bumps: during a copy each refresh rebuilt them, tens of
    # milliseconds per 20,000 rows, many times that with the copy's threads holding the
    # GIL, and keys waited. A cell update never moves a row nor (one line each) changes
    # its height, so here they are kept until a row is added, removed or moved (dropped
    # after DataTable's change, which may read them midway).
    def _moved(self) -> None:
        self._row_layout.clear()

    def add_row(self, *cells: object, **kw: Any) -> RowKey:
        key = super().add_row(*cells, **kw)
        # DataTable appends the row: the layout grows by it, rather than being rebuilt
        # (O(rows) per row while a large table fills).
        layout = self._row_layout
        if "rows" in layout:
            row = self.rows[key]
            layout["rows"].append(row)
            if "offsets" in layout:
                layout["offsets"].extend((key, y) for y in range(row.height))
        return key

    def remove_row(self, row_key: RowKey | str) -> None:
        super().remove_row(row_key)
        self._moved()

    def clear(self, columns: bool = False) -> Self:
        super().clear(columns)  # which also empties the cached offsets, in place
        self._moved()
        return self

    def sort(self, *columns: ColumnKey | str, **kw: Any) -> Self:
        super().sort(*columns, **kw)
        self._moved()
        return self

    @property
    def ordered_rows(self) -> list[DataRow]:
        if "rows" not in self._row_layout:
            self._row_layout["rows"] = super().ordered_rows
        return self._row_layout["rows"]

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        if "offsets" not in self._row_layout:
            self._row_layout["offsets"] = [(row.key, y) for row in self.ordered_rows for y in range(row.height)]
        return self._row_layout["offsets"]

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # Every cell here is one line of text, as wide as its text: DataTable measures each
        # new cell through Rich instead (its markup parsed, then rendered), which froze the
        # app for seconds when a large campaign's rows arrived at once.
        columns = list(self.columns.values())
        for key in new_rows:
            if key in self.rows:
                for column, cell in zip(columns, self.get_row(key)):
                    column.content_width = max(column.content_width, cell_len(str(cell)))
        super()._update_dimensions(())

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def sync(self, rows: Iterable[Row]) -> None:
        """Hold exactly `rows`: new ones added, gone ones removed, changed cells rewritten.
        O(rows): for tables whose size does not grow with the campaign, or on a rebuild."""
        self._all = dict(rows)
        self._show(self._all)

    def sync_keys(self, keys: Sequence[str], cells_of: Callable[[str], Sequence[object] | None]) -> None:
        """`sync` for a large table, unfiltered and unsorted (a filter and a sort read every
        row): the rows held already stay as they are (their pane rewrites those on
        screen), and each new row reads its cells from `cells_of` when its turn comes (all
        at once, 20,000 rows' cells held the keys for a second)."""
        assert not self.filter_text and self._sorted is None, "sync_keys is for an unfiltered, unsorted table"
        self._keep_only(set(keys))
        self._to_add = deque((key, None) for key in keys if key not in self.rows)
        self._cells_of = cells_of
        # Its first turn too: `cells_of` may take a lock its caller holds now.
        self._next_turn_later()

    def rebuild(self, rows: Iterable[Row]) -> None:
        """Hold exactly `rows`, with every column as wide as its widest cell now, also
        where that is narrower than before (DataTable only ever widens a column)."""
        self.clear()
        for column in self.columns.values():
            column.content_width = column.label.cell_len
        self.sync(rows)

    def _show(self, rows: dict[str, Sequence[object]]) -> None:
        needle = self.filter_text.casefold()
        wanted = {k: cells for k, cells in rows.items() if needle in " ".join(map(str, cells)).casefold()} if needle else rows
        self._keep_only(wanted)
        self._to_add.clear()
        for key, cells in wanted.items():
            if key in self.rows:
                self.update_row(key, cells)
            else:
                self._to_add.append((key, cells))
        self._add_rows()

    def _keep_only(self, wanted: Container[str]) -> None:
        gone = [k for k in self.rows if k.value not in wanted]
        if len(gone) > 50:
            # remove_row re-lays out the table each time: past a few, rebuilding is cheaper.
            self.clear()
        else:
            for row_key in gone:
                self.remove_row(row_key)
        self._order = [str(row.key.value) for row in self.ordered_rows]

    def _add_rows(self) -> None:
        """Add rows still to add for `TURN_S`, the rest after the screen's next refresh. The
        20,000 rows of a large campaign, added at once, held every key for seconds; in
        turns, keys and redraws go between them as the table fills (more slowly when the
        copy's threads take the processor)."""
        until = time.perf_counter() + TURN_S
        added = 0
        while self._to_add and (added % 20 or time.perf_counter() < until):
            key, cells = self._to_add.popleft()
            cells = self._cells_of(key) if cells is None else cells
            if cells is not None:
                self.add_row(*cells, key=key)
                self._order.append(key)
            added += 1
        if self._to_add:
            self._next_turn_later()
        elif self._sorted is not None:
            self.sort(self._sorted[0], key=sort_key, reverse=self._sorted[1])
            self._order = [str(row.key.value) for row in self.ordered_rows]

    def _next_turn_later(self) -> None:
        if not self._adding:
            self._adding = True
            self.call_after_refresh(self._next_turn)

    def _next_turn(self) -> None:
        self._adding = False
        self._add_rows()

    def sort_by(self, column: str, descending: bool = False) -> None:
        self._sorted = (column, descending)
        self.sort(column, key=sort_key, reverse=descending)
        self._order = [str(row.key.value) for row in self.ordered_rows]
        up, down = ARROWS[self.app.has_class("-ascii")]
        for key, spec in self.columns.items():
            label = self._labels[str(key.value)]
            spec.label = Text(f"{label} {down if descending else up}" if key.value == column else label + ARROW_ROOM)
        self._clear_caches()
        self.refresh()

    @property
    def sorted_by(self) -> tuple[str, bool] | None:
        """The sorted column and whether it is descending."""
        return self._sorted

    def update_row(self, key: str, cells: Sequence[object]) -> None:
        current = self.get_row(key)
        for (column, spec), old, new in zip(self.columns.items(), current, cells):
            text = str(new)
            if str(old) != text:
                # A value longer than the column's widest ("pending" -> "verified") widens
                # it; a shorter one must not ask for a width update, which re-measures
                # every cell of the column.
                self.update_cell(key, column, new, update_width=len(text) > spec.content_width)

    def visible_keys(self) -> list[str]:
        """The keys of the rows on screen now: what a refresh needs to touch."""
        if not self.row_count:
            return []
        first = max(0, int(self.scroll_y))
        last = min(self.row_count, first + max(self.size.height, 1) + 1)
        return self._order[first:last]

    def refresh_visible(self, cells_of: Callable[[str], Sequence[object] | None]) -> None:
        """Rewrite the changed cells of the rows on screen; rows off screen are brought up
        to date when they scroll into view."""
        for key in self.visible_keys():
            cells = cells_of(key)
            if cells is not None:
                self.update_row(key, cells)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on the sorted column's header reverses it; on another, sorts by it."""
        event.stop()
        column = str(event.column_key.value)
        self.sort_by(column, descending=self._sorted == (column, False))

    def action_sort_next(self) -> None:
        """Sort by each column in turn, ascending then descending."""
        keys = [str(k.value) for k in self.columns]
        if keys:
            self._sort_index = (self._sort_index + 1) % (2 * len(keys))
            self.sort_by(keys[self._sort_index // 2], descending=self._sort_index % 2 == 1)

    def set_filter(self, text: str) -> None:
        """Show only the rows whose text holds `text` (any case); "" shows them all."""
        if text != self.filter_text:
            if self.rows_now is not None:
                self._all = dict(self.rows_now())
            self.filter_text = text
            self._show(self._all)

    def action_filter(self) -> None:
        bar = self._filter_bar()
        if bar is None and isinstance(self.parent, Widget):
            bar = TableFilter(self)
            self.parent.mount(bar, after=self)
        if bar is not None:
            bar.focus()

    def _filter_bar(self) -> TableFilter | None:
        siblings = self.parent.children if self.parent is not None else []
        return next((w for w in siblings if isinstance(w, TableFilter) and w.table is self), None)

    def close_filter(self, clear: bool) -> None:
        bar = self._filter_bar()
        if clear:
            self.set_filter("")
            if bar is not None:
                bar.remove()
        self.focus()

    def action_copy_row(self) -> None:
        key = self.selected_key()
        if key is None:
            self.notify("no row to copy", severity="warning")
            return
        text = self.copy_text(key)
        self.app.copy_to_clipboard(text)
        self.notify(text, title="copied to the clipboard")


class TableFilter(Input):
    """The filter line of a table: the rows follow as you type; Enter goes back to the
    table with the filter kept, Escape clears it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter")]
    DEFAULT_CSS = """
    TableFilter, TableFilter:focus { height: 1; border: none; padding: 0 1; }
    """

    def __init__(self, table: KeyedTable) -> None:
        super().__init__(table.filter_text, placeholder="filter rows: type text; Enter keeps it, Escape clears it")
        self.table = table

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.table.set_filter(event.value.strip())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.close_filter(clear=not event.value.strip())

    def action_clear(self) -> None:
        self.table.close_filter(clear=True)
