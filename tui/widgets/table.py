"""A keyed DataTable for the panes: Home and End go to the first and last row, Enter
says which row was chosen, and rows are kept in step with the data cheaply."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

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


Row = tuple[str, Sequence[object]]


class KeyedTable(DataTable[object]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]
    DEFAULT_CSS = """
    KeyedTable {
        height: 1fr;
    }
    """

    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        for label, key in columns:
            self.add_column(label, key=key)
        # Row keys in display order, kept here: DataTable rebuilds its own ordered list
        # after every cell update, which costs O(rows) per refresh.
        self._order: list[str] = []

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def sync(self, rows: Iterable[Row]) -> None:
        """Hold exactly `rows`: new ones added, gone ones removed, changed cells rewritten.
        O(rows): for tables whose size does not grow with the campaign, or on a rebuild."""
        wanted = dict(rows)
        gone = [k for k in self.rows if k.value not in wanted]
        if len(gone) > 50:
            # remove_row re-lays out the table each time: past a few, rebuilding is cheaper.
            self.clear()
        else:
            for row_key in gone:
                self.remove_row(row_key)
        for key, cells in wanted.items():
            if key not in self.rows:
                self.add_row(*cells, key=key)
            else:
                self.update_row(key, cells)
        self._order = [str(row.key.value) for row in self.ordered_rows]

    def sort_by(self, column: str) -> None:
        self.sort(column, key=str)
        self._order = [str(row.key.value) for row in self.ordered_rows]

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
        event.stop()
        self.sort_by(str(event.column_key.value))

    def action_sort_next(self) -> None:
        """Sort by the next column, in turn."""
        keys = [str(k.value) for k in self.columns]
        if keys:
            self._sort_index = (getattr(self, "_sort_index", -1) + 1) % len(keys)
            self.sort_by(keys[self._sort_index])
