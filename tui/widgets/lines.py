"""Updating a one-line Static cheaply: Static.update lays the whole screen out again,
which a refresh four times a second must not do when nothing changed."""

from __future__ import annotations

from textual.widgets import Static


def set_line(static: Static, content: str, *, layout: bool = False) -> None:
    """Show `content` unless it is already shown; `layout=False` for widgets whose
    size does not follow their text (fixed-height lines)."""
    if static.content != content:
        static.update(content, layout=layout)
