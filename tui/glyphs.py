"""The symbols the app draws, in Unicode or, where the terminal's encoding cannot show
them (`LC_ALL=C` over SSH), in plain ASCII, so the screen never fills with escapes."""

from __future__ import annotations

import codecs
import locale
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from state.model import StepStatus


@dataclass(frozen=True)
class Glyphs:
    steps: dict[StepStatus, str]
    ellipsis: str
    separator: str
    bar_full: str
    bar_empty: str
    spark: str  # from lowest to highest
    ascii: bool


UNICODE = Glyphs(
    steps={StepStatus.PENDING: "·", StepStatus.RUNNING: "▶", StepStatus.DONE: "✔", StepStatus.FAILED: "✖", StepStatus.SKIPPED: "–"},
    ellipsis="…",
    separator="·",
    bar_full="█",
    bar_empty="░",
    spark="▁▂▃▄▅▆▇█",
    ascii=False,
)
ASCII = Glyphs(
    steps={StepStatus.PENDING: ".", StepStatus.RUNNING: ">", StepStatus.DONE: "+", StepStatus.FAILED: "x", StepStatus.SKIPPED: "-"},
    ellipsis="...",
    separator="|",
    bar_full="#",
    bar_empty="-",
    spark="_.-=+*#@",
    ascii=True,
)


def glyphs_for(encoding: str | None) -> Glyphs:
    """Unicode when the output encoding is a UTF one, ASCII otherwise."""
    try:
        name = codecs.lookup(encoding or "ascii").name
    except LookupError:
        return ASCII
    return UNICODE if name.startswith("utf") else ASCII


def locale_encoding(environ: Mapping[str, str] = os.environ) -> str:
    """The terminal's encoding as its locale says (`LC_ALL`, then `LC_CTYPE`, then
    `LANG`, as the C library reads them), not `sys.stdout.encoding`: Python's UTF-8 mode
    makes that say utf-8 under `LC_ALL=C`, where the terminal shows only ASCII."""
    for var in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = environ.get(var)
        if not value:
            continue
        if value in ("C", "POSIX"):
            return "ascii"
        codeset = value.partition(".")[2].partition("@")[0]
        if codeset:
            return codeset
        break  # a locale without a codeset: its codeset is the C library's to say
    try:
        return locale.nl_langinfo(locale.CODESET) or "ascii"
    except (AttributeError, ValueError):  # no nl_langinfo (Windows)
        return getattr(sys.__stdout__, "encoding", None) or "ascii"


def terminal_glyphs() -> Glyphs:
    return glyphs_for(locale_encoding())


def bar(done: float, total: float, width: int, g: Glyphs) -> str:
    """A fixed-width bar of done/total."""
    filled = 0 if total <= 0 else max(0, min(width, round(width * done / total)))
    return g.bar_full * filled + g.bar_empty * (width - filled)


def sparkline(values: list[float], width: int, g: Glyphs) -> str:
    """The last `width` values as one line of bars scaled to their maximum."""
    shown = values[-width:]
    top = max(shown, default=0.0)
    if top <= 0:
        return g.spark[0] * len(shown)
    levels = len(g.spark) - 1
    return "".join(g.spark[round(levels * max(v, 0.0) / top)] for v in shown)


@contextmanager
def ascii_scrollbars() -> Iterator[None]:
    """Scrollbars drawn with spaces only (their ends are partial blocks otherwise), by
    replacing the scrollbar renderer as Textual documents, for as long as the app runs."""
    from textual.scrollbar import ScrollBar, ScrollBarRender

    class AsciiScrollBarRender(ScrollBarRender):
        VERTICAL_BARS = [" "] * 8
        HORIZONTAL_BARS = [" "] * 8

    previous = ScrollBar.renderer
    ScrollBar.renderer = AsciiScrollBarRender
    try:
        yield
    finally:
        ScrollBar.renderer = previous
