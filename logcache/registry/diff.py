"""Unified diffs that `git apply` accepts."""

from __future__ import annotations

import difflib


def split_lines(text: str) -> list[str]:
    """The lines of `text`, each with its `\\n`, split on `\\n` only (unlike str.splitlines,
    which also splits on form feeds and other separators that git treats as text)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def unified_diff(old: str, new: str, rel: str, context: int = 3) -> str:
    """The git-style patch turning `old` into `new` for the file at `rel` (a path relative to
    the folder where `git apply` runs, with `/` separators); "" when they are equal."""
    if old == new:
        return ""
    # git marks a name holding a space with a trailing tab so that `git apply` finds its end.
    tab = "\t" if " " in rel else ""
    out = [f"diff --git a/{rel} b/{rel}\n"]
    for line in difflib.unified_diff(split_lines(old), split_lines(new), f"a/{rel}{tab}", f"b/{rel}{tab}", n=context):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
