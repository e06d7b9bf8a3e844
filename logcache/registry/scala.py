"""The seed's registry: a Scala source file whose map of entries sits between marker comments.

    // BEGIN LOG CACHE ENTRIES (maintained by `logcache registry export`)
    val entries: Map[String, LogCacheEntry] = Map(
      "raw-accounts-s0/log" -> LogCacheEntry(t = 1234L, path = "s3://bucket/cache/abc"),
    )
    // END LOG CACHE ENTRIES

One entry per line, sorted by name, each with a trailing comma (Scala 2.12.2+) so that
adding an entry never touches its neighbour. Only the entry lines are ever rewritten;
an entry whose value does not change keeps its line byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from logcache.registry.diff import split_lines
from logcache.registry.model import Registry, RegistryError, RegistryValue

BEGIN_MARKER = "// BEGIN LOG CACHE ENTRIES"
END_MARKER = "// END LOG CACHE ENTRIES"

_OPENER = re.compile(r"\s*val\s+\w+\s*(?::\s*Map\[.*\])?\s*=\s*Map\(\s*")
_CLOSER = re.compile(r"\s*\)\s*")
# Names and paths may not hold quotes or backslashes: the format never needs escapes.
_ENTRY = re.compile(
    r'\s*"(?P<name>[^"\\]+)"\s*->\s*LogCacheEntry\(\s*t\s*=\s*(?P<t>\d+)[lL]?\s*,'
    r'\s*path\s*=\s*"(?P<path>[^"\\]*)"\s*\)\s*(?P<comma>,?)\s*'
)
_ENTRY_SHAPE = '"<shard>/<kind>" -> LogCacheEntry(t = <T>L, path = "<url>"),'


@dataclass(frozen=True)
class _Line:
    name: str
    value: RegistryValue
    raw: str
    has_comma: bool


@dataclass(frozen=True)
class _Block:
    lines: list[str]  # the whole file, each line with its own line ending
    opener: int  # index of the `val ... = Map(` line
    closer: int  # index of the `)` line
    entries: list[_Line]
    indent: str
    newline: str


def _content(line: str) -> str:
    return line.rstrip("\n").rstrip("\r")


def _parse_block(text: str, origin: str) -> _Block:
    lines = split_lines(text)
    begins = [i for i, line in enumerate(lines) if _content(line).strip().startswith(BEGIN_MARKER)]
    ends = [i for i, line in enumerate(lines) if _content(line).strip().startswith(END_MARKER)]

    def fail(index: int, message: str) -> RegistryError:
        return RegistryError(f"{origin}:{index + 1}: {message}; fix the registry file and retry")

    if not begins or not ends:
        missing = BEGIN_MARKER if not begins else END_MARKER
        raise RegistryError(
            f"{origin}: no `{missing}` line; the entries must sit between the `{BEGIN_MARKER}` and `{END_MARKER}` lines"
        )
    if len(begins) > 1:
        raise fail(begins[1], f"a second `{BEGIN_MARKER}` line")
    if len(ends) > 1:
        raise fail(ends[1], f"a second `{END_MARKER}` line")
    begin, end = begins[0], ends[0]
    if end < begin:
        raise fail(end, f"`{END_MARKER}` comes before `{BEGIN_MARKER}`")
    opener, closer = begin + 1, end - 1
    if opener >= end or not _OPENER.fullmatch(_content(lines[opener])):
        raise fail(opener, "expected `val entries: Map[String, LogCacheEntry] = Map(` right after the BEGIN line")
    if closer <= opener or not _CLOSER.fullmatch(_content(lines[closer])):
        raise fail(closer, "expected the closing `)` of the map right before the END line")

    entries: list[_Line] = []
    seen: set[str] = set()
    for i in range(opener + 1, closer):
        m = _ENTRY.fullmatch(_content(lines[i]))
        if not m:
            raise fail(i, f"cannot read this line as a registry entry; expected `{_ENTRY_SHAPE}`")
        if m["name"] in seen:
            raise fail(i, f"{m['name']} appears twice")
        seen.add(m["name"])
        entries.append(_Line(m["name"], RegistryValue(int(m["t"]), m["path"]), lines[i], bool(m["comma"])))
    indent = _leading(entries[0].raw) if entries else _leading(lines[opener]) + "  "
    newline = lines[opener][len(_content(lines[opener])) :]
    return _Block(lines, opener, closer, entries, indent, newline)


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


class ScalaRegistry:
    name = "scala"

    def parse(self, text: str, origin: str = "<registry>") -> Registry:
        return Registry({e.name: e.value for e in _parse_block(text, origin).entries})

    def render(self, text: str, entries: Mapping[str, RegistryValue], origin: str = "<registry>") -> str:
        block = _parse_block(text, origin)
        old = {e.name: e for e in block.entries}
        body = []
        for name in sorted(entries):
            value = entries[name]
            line = old.get(name)
            if line is not None and line.value == value and line.has_comma:
                body.append(line.raw)
                continue
            for field in (name, value.path):
                if any(c in field for c in '"\\\r\n'):
                    raise RegistryError(f"{origin}: cannot write {field!r}: quotes, backslashes and line breaks are not allowed in names or paths")
            body.append(f'{block.indent}"{name}" -> LogCacheEntry(t = {value.t}L, path = "{value.path}"),{block.newline}')
        return "".join(block.lines[: block.opener + 1] + body + block.lines[block.closer :])
