"""What the app remembers between sessions for this operator (the theme), in
`$XDG_CONFIG_HOME/logcache/tui.json`; never in a campaign's folder."""

from __future__ import annotations

import json
import os
from pathlib import Path


def settings_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "logcache" / "tui.json"


def load_settings() -> dict[str, str]:
    try:
        raw = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def save_setting(key: str, value: str) -> None:
    """Best effort: a settings file that cannot be written costs the operator a theme, not
    the session."""
    path = settings_path()
    values = {**load_settings(), key: value}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass
