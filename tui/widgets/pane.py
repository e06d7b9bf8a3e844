"""The one shape every tab of the main screen has. The screen keeps a list of pane
classes (`main_screen.PANES`) and knows nothing else of them: it makes one tab per
class, refreshes the pane on screen from the state and the live view, focuses what the
pane names on its tab's key, and builds the help from the panes' entries.

Adding a pane: a module here with a class that satisfies `Pane`, and one entry in
`PANES`. Keys that start work answer through the screen's actions (`screen.recopy`),
which call the app's gate."""

from __future__ import annotations

from typing import ClassVar, Protocol

from textual.binding import BindingType
from textual.widget import Widget

from state.model import CampaignState
from tui.glyphs import Glyphs
from tui.live import Live


class Pane(Protocol):
    TAB: ClassVar[str]  # the tab's id, also the argument of the screen's `tab` action
    TITLE: ClassVar[str]  # the tab's label
    BINDINGS: ClassVar[list[BindingType]]

    def __init__(self, glyphs: Glyphs) -> None: ...

    def refresh_from(self, state: CampaignState, live: Live, force: bool = False) -> None:
        """Show `state` and `live`; called a few times a second while the pane is on
        screen, so cheap when nothing changed. `force`: rebuild whatever changed. The
        caller holds `live.lock`."""

    def focus_target(self) -> Widget:
        """What its tab's key focuses: its table, or the pane itself."""

    @classmethod
    def help_entries(cls) -> list[BindingType]:
        """The keys the help lists under this pane."""


class PaneDefaults:
    """What most panes share: the help lists the pane's own bindings."""

    BINDINGS: ClassVar[list[BindingType]]

    @classmethod
    def help_entries(cls) -> list[BindingType]:
        return list(cls.BINDINGS)
