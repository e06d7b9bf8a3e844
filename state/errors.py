"""The one base of every error an operator can cause (bad input, environment, a held
lock), shared by `state` and the `logcache` library.

It lives here because `state` imports nothing of `logcache`; `logcache.errors` builds on
it. Front ends catch `LogcacheError` alone, print `one_line()` and exit 2. The line is
made here, once: the message with its whitespace folded, never a Python class name.
Subclasses that carry structured fields (`LockHeld.holder`) build their message from
those fields, so a front end reads the fields instead of parsing the text.
"""


class LogcacheError(Exception):
    """Base of every error caused by input or environment, not by a bug."""

    # What a command exits with when this error ends it: 2, bad input or environment,
    # unless a subclass says otherwise (a step that ran but did not reach its goal: 1).
    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    def one_line(self) -> str:
        return str(self)


class StateError(LogcacheError):
    """A config, state or lock problem; the text is one line that says what to do."""


class ConfigFileError(StateError):
    """campaign.toml is missing, malformed, or has a wrong value."""
