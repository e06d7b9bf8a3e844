"""The runbook checklist: one line per step with its status icon, the selected step's
note below; collapses to its icons on narrow terminals or on `b`."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from logcache.runbook import MANUAL_STEPS, SPECS
from state.model import CampaignState, StepName, StepStatus
from tui.glyphs import Glyphs
from tui.widgets.lines import set_line

ICON_STYLE = {StepStatus.RUNNING: "cyan", StepStatus.DONE: "green", StepStatus.FAILED: "bold red"}


class Checklist(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", "Run / confirm step"),
        Binding("b", "toggle_collapsed", "Checklist"),
    ]
    DEFAULT_CSS = """
    Checklist { width: 28; border-right: solid $primary-background; }
    Checklist.-collapsed { width: 5; }
    Checklist > OptionList, Checklist > OptionList:focus { height: auto; max-height: 12; border: none; padding: 0; }
    Checklist > #step-note { height: 1fr; padding: 0 1; color: $text-muted; }
    Checklist.-collapsed > #step-note { display: none; }
    """

    collapsed: reactive[bool] = reactive(False)

    class StepChosen(Message):
        """Enter on a step: run it, or confirm a manual one."""

        def __init__(self, name: StepName) -> None:
            super().__init__()
            self.name = name

    def __init__(self, glyphs: Glyphs, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.glyphs = glyphs
        self._prompts: dict[str, str] = {}
        self._state: CampaignState | None = None
        # The steps the operator does in this campaign: a step with a configured hook is not.
        self.manual: frozenset[StepName] = MANUAL_STEPS

    def compose(self) -> ComposeResult:
        yield OptionList(*[Option(SPECS[n].short_title, id=n.value) for n in StepName], id="checklist")
        yield Static("", id="step-note")

    def watch_collapsed(self, collapsed: bool) -> None:
        self.set_class(collapsed, "-collapsed")
        # The screen shows the icons' legend (ChecklistLegend) while only icons show.
        self.screen.set_class(collapsed, "-checklist-collapsed")
        self._prompts.clear()
        if self._state is not None:
            self.refresh_from(self._state)

    def action_toggle_collapsed(self) -> None:
        self.collapsed = not self.collapsed

    def select(self, name: StepName) -> None:
        self.query_one(OptionList).highlighted = list(StepName).index(name)

    def selected(self) -> StepName | None:
        option = self.query_one(OptionList).highlighted_option
        return StepName(option.id) if option is not None and option.id else None

    def prompt(self, name: StepName, status: StepStatus) -> str:
        icon = f"[{ICON_STYLE.get(status, 'dim')}]{escape(self.glyphs.steps[status])}[/]"
        if self.collapsed:
            return icon
        manual = " [dim](manual)[/]" if name in self.manual else ""
        return f"{icon} {SPECS[name].short_title}{manual}"

    def refresh_from(self, state: CampaignState) -> None:
        self._state = state
        options = self.query_one(OptionList)
        for step in state.steps:
            prompt = self.prompt(step.name, step.status)
            if self._prompts.get(step.name.value) != prompt:
                self._prompts[step.name.value] = prompt
                options.replace_option_prompt(step.name.value, prompt)
        selected = self.selected()
        if selected is not None and not self.collapsed:
            s = state.step(selected)
            when = f" {s.finished_at}" if s.finished_at else ""
            set_line(self.query_one("#step-note", Static), f"[b]{SPECS[selected].title}[/b]\n{s.status.value}{when}\n{escape(s.note)}")

    def action_choose(self) -> None:
        name = self.selected()
        if name is not None:
            self.post_message(self.StepChosen(name))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.StepChosen(StepName(event.option.id)))


class ChecklistLegend(Static):
    """One line saying what the collapsed checklist's icons mean; shown by the screen
    while the checklist is collapsed."""

    SCOPED_CSS = False  # its rule names the screen's class
    DEFAULT_CSS = """
    ChecklistLegend { display: none; height: 1; padding: 0 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    .-checklist-collapsed ChecklistLegend { display: block; }
    """

    def __init__(self, glyphs: Glyphs, *, id: str | None = None) -> None:
        shown = (StepStatus.PENDING, StepStatus.RUNNING, StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED)
        super().__init__("  ".join(f"{glyphs.steps[s]} {s.value}" for s in shown), id=id, markup=False)
