"""The campaign file the tests write by hand: the required sections with test defaults,
and whatever a test adds (`extra`: more sections or keys, as TOML text)."""

from __future__ import annotations

from pathlib import Path


def write_campaign(
    folder: Path,
    extra: str = "",
    *,
    source: str = "ephemeral",
    destination: str = "permanent",
    catalog: str = 'url = "catalog"',
    registry: str = "",
    name: str | None = None,
) -> Path:
    path = folder / "campaign.toml"
    head = f'[campaign]\nname = "{name}"\n' if name else ""
    path.write_text(
        f"""
{head}[source]
url = "{source}"
[destination]
url = "{destination}"
[logs]
url = "logs"
[catalog]
{catalog}
[registry]
path = "registry/LogCacheEntries.scala"
{registry}
{extra}
""",
        encoding="utf-8",
    )
    return path
