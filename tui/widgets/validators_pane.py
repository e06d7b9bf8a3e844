"""The Validators pane: one row per parcel, with a bar of bytes done, its heartbeat and
status, and a summary that agrees with the checklist's Validate step."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from logcache.progress_render import human_bytes
from logcache.runbook.queries import MachineUsage
from state.model import CampaignState, ParcelStatus, StepName, StepStatus
from tui.glyphs import Glyphs, bar
from tui.live import Live
from tui.statuses import RowStatus
from tui.widgets.lines import set_line
from tui.widgets.pane import PaneDefaults
from tui.widgets.table import KeyedTable, Number, styled

BAR_WIDTH = 10


class ValidatorsPane(PaneDefaults, Vertical):
    TAB: ClassVar[str] = "validators"
    TITLE: ClassVar[str] = "Validators"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "screen.split_stuck", "Split stuck"),
        Binding("s", "sort", "Sort"),
    ]
    DEFAULT_CSS = """
    ValidatorsPane { height: 1fr; }
    ValidatorsPane > .summary { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, glyphs: Glyphs) -> None:
        super().__init__()
        self.glyphs = glyphs

    def compose(self) -> ComposeResult:
        yield Static("no validation yet", id="parcels-summary", classes="summary", markup=False)
        yield KeyedTable(
            (("parcel", "parcel"), ("status", "status"), ("done", "done"), ("bytes", "bar"), ("beat", "beat"), ("in hand", "task"), ("job", "job")),
            id="parcels-table",
        )

    def focus_target(self) -> Widget:
        return self.query_one(KeyedTable)

    def refresh_from(self, state: CampaignState, live: Live, force: bool = False) -> None:
        step = state.step(StepName.VALIDATE)
        rows = []
        now = datetime.now(UTC)
        for p in state.parcels:
            u = live.parcels.get(p.parcel_id)
            status: StrEnum = p.status
            if p.status in (ParcelStatus.PENDING, ParcelStatus.RUNNING) and step.status is not StepStatus.RUNNING and u is None:
                # Not running in this session and not followed by a heartbeat: say so,
                # rather than a "running" the checklist contradicts.
                status = RowStatus.INTERRUPTED if step.note.startswith("interrupted") else status
            size = f"{bar(u.bytes_done, u.bytes_total, BAR_WIDTH, self.glyphs)} {human_bytes(u.bytes_done)}/{human_bytes(u.bytes_total)}" if u and u.bytes_total else ""
            age = u.heartbeat_age_s if u and u.heartbeat_age_s is not None else age_s(p.last_heartbeat, now)
            beat = Number(f"{age:.0f}s", age) if age is not None else Number("-", -1)
            job = f"{p.backend} {p.job_id}".strip()
            cells = (p.parcel_id, styled(status), Number(f"{p.tasks_done}/{p.tasks_total}", p.tasks_done), Number(size, u.bytes_done if u else 0), beat, u.task if u else "", job)
            rows.append((p.parcel_id, cells))
        self.query_one(KeyedTable).sync(rows)
        counts = Counter(p.status for p in state.parcels)
        g = self.glyphs
        text = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) if counts else "no validation yet"
        if step.status is not StepStatus.DONE and (counts or step.note):
            text += f"  {g.separator} validate {step.status.value}" + (f": {step.note}" if step.note else "")
        if live.machines is not None:
            text += f"  {g.separator} {machines_text(live.machines)}"
        if counts[ParcelStatus.STUCK]:
            text = "x: split a stuck parcel  " + text
        set_line(self.query_one("#parcels-summary", Static), text)

    def selected(self) -> str | None:
        return self.query_one(KeyedTable).selected_key()

    def action_sort(self) -> None:
        self.query_one(KeyedTable).action_sort_next()


def age_s(stamp: str | None, now: datetime) -> float | None:
    """Seconds since a heartbeat the state recorded (ISO 8601, UTC)."""
    if not stamp:
        return None
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return max((now - (at if at.tzinfo else at.replace(tzinfo=UTC))).total_seconds(), 0.0)


def machines_text(usage: MachineUsage) -> str:
    held = f"machines held by {len(usage.holding)} parcels" if usage.holding else "no machines held"
    hours = f", {usage.machine_hours:.2f} machine-h" if usage.machine_hours is not None else ""
    cost = f", cost {usage.cost:.2f}" if usage.cost is not None else ""
    return held + hours + cost
