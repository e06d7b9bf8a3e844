"""Dialogs: a yes/no confirmation and a one-line text prompt, both modal screens that
return their answer through `dismiss`. Each shows what Enter and Escape do; a prompt
says inline why it refuses an answer and stays open."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from state.errors import LogcacheError

# The library's check of an answer: returns when it is fine, raises LogcacheError
# (its one_line() is shown under the input) when not.
AnswerCheck = Callable[[str], object]
Answer = TypeVar("Answer")


class Dialog(ModalScreen[Answer], Generic[Answer]):
    """What every dialog shares: its frame and its key hints, and no toasts: while a
    dialog is up the app hides them (the class `-dialog`, app.tcss), on the dialog and
    on the screen below that shows through, so none covers its buttons. They show again
    when it closes, and every one is in the Log."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog .hints { width: 100%; color: $text-muted; }
    Dialog .refusal { width: 100%; color: $text-error; display: none; }
    Dialog .refusal.-shown { display: block; }
    """


    def on_screen_resume(self) -> None:
        self.app.add_class("-dialog")

    def on_screen_suspend(self) -> None:
        self.app.remove_class("-dialog")

    def on_unmount(self) -> None:
        if not any(isinstance(s, Dialog) for s in self.app.screen_stack if s is not self):
            self.app.remove_class("-dialog")


class ConfirmModal(Dialog[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Grid(classes="dialog"):
            yield Label(self.question, classes="question", markup=False)
            yield Static(f"Enter: highlighted button  ·  y: {self.yes}  ·  n, Escape: {self.no}", classes="hints", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", variant="primary", id="yes")
                yield Button(f"{self.no} (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class PromptModal(Dialog[str | None]):
    """Asks for one line (a note, a path); Enter accepts, Escape cancels. An empty answer,
    or one `check` refuses, is never accepted: the reason shows under the input."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "", *, check: AnswerCheck | None = None, needed: str = "an answer") -> None:
        super().__init__()
        self.question, self.value, self.placeholder = question, value, placeholder
        self.check, self.needed = check, needed

    def compose(self) -> ComposeResult:
        with Grid(classes="dialog"):
            yield Label(self.question, classes="question", markup=False)
            yield Input(self.value, placeholder=self.placeholder, id="answer")
            yield Static("", id="refusal", classes="refusal", markup=False)
            yield Static("Enter: accept  ·  Escape: cancel", classes="hints", markup=False)

    @property
    def refusal(self) -> str:
        """What the dialog says is wrong with the answer, or ""."""
        return str(self.query_one("#refusal", Static).content)

    def _refuse(self, text: str) -> None:
        line = self.query_one("#refusal", Static)
        line.update(text)
        line.set_class(bool(text), "-shown")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._refuse("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        answer = event.value.strip()
        if not answer:
            self._refuse(f"type {self.needed}, or Escape to cancel")
            return
        if self.check is not None:
            try:
                self.check(answer)
            except LogcacheError as exc:
                self._refuse(exc.one_line())
                return
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)
