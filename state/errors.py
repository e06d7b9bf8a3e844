class StateError(Exception):
    """A config, state or lock problem; the text is one line that says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    def one_line(self) -> str:
        return f"{type(self).__name__}: {self}"


class ConfigFileError(StateError):
    """campaign.toml is missing, malformed, or has a wrong value."""
