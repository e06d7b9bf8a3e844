"""Operator command templates: placeholders filled with shell-quoted values.

Every value is quoted with `shlex.quote` (a sequence, such as extra arguments, with
`shlex.join`), so a branch, a message or a job id can never split into more words or run
as a command: templates write `{branch}`, never `'{branch}'`. `{{` and `}}` are literal
braces. `state.config` refuses unknown placeholders when the campaign file is loaded; the
check here catches a caller that passes fewer values than the template uses.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Mapping, Sequence

from logcache.errors import ConfigError

Value = str | Sequence[str]


def uses(template: str, name: str) -> bool:
    """Whether `template` has the placeholder `{name}` (not a literal `{{name}}`)."""
    return any(field == name for _, field, _, _ in string.Formatter().parse(template))


def render(hook: str, template: str, values: Mapping[str, Value]) -> str:
    out: list[str] = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        if name not in values:
            raise ConfigError(f"the {hook} command uses {{{name}}}, which this hook does not provide; use only {', '.join('{' + k + '}' for k in values)}")
        value = values[name]
        out.append(shlex.quote(value) if isinstance(value, str) else shlex.join(value))
    return "".join(out)
