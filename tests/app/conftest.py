from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app remembers the theme in the operator's config dir: a test's, not the host's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
