"""A log of plain text lines wrapped to the widget's width, never cut: RichLog renders a
line once, at the width of the moment (at least its `min_width`, 78 by default), so a
narrower terminal, a scrollbar that appears or a checklist that expands hides the ends
of lines. This one wraps at the width it has, keeps a scrollbar's room always, and
wraps its lines again when its width changes."""

from __future__ import annotations

from collections import deque

from textual import events
from textual.widgets import RichLog


class WrappedLog(RichLog):
    DEFAULT_CSS = """
    WrappedLog { overflow-y: scroll; overflow-x: hidden; }
    """

    def __init__(self, *, max_lines: int | None = None, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, max_lines=max_lines, min_width=1)
        self._texts: deque[str] = deque(maxlen=max_lines)
        self._wrapped_at = 0

    @property
    def texts(self) -> list[str]:
        """The lines as written, before wrapping."""
        return list(self._texts)

    def add_line(self, text: str) -> None:
        self._texts.append(text)
        self.write(text)

    def clear_lines(self) -> None:
        self._texts.clear()
        self.clear()

    def on_resize(self, event: events.Resize) -> None:
        # Runs before RichLog's own handler, which renders the lines written before the
        # first size was known, at that size.
        width = self.scrollable_content_region.width
        if not width or width == self._wrapped_at:
            return
        rewrap = self._wrapped_at != 0
        self._wrapped_at = width
        if rewrap:
            self.clear()
            for text in self._texts:
                self.write(text)
