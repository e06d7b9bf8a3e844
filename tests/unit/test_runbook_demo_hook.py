"""The demo stays off the production path: opening stores imports nothing of it, the
campaign config knows nothing of it, and its lifecycle rule plugs in only when asked."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from logcache.demo import build_world
from logcache.demo.lifecycle import ExpiringStore, expiring_ids
from logcache.errors import ConfigError
from logcache.stores import DESTINATION_WRAPPER_ENV, open_destination
from state.config import CampaignConfig, load_config


def test_opening_every_store_imports_no_demo_code(tmp_path: Path) -> None:
    build_world(str(tmp_path / "w"), seed=3, scale="tiny", faults={"missing-copy": 1})
    code = (
        "import sys; from logcache.stores import open_destination, open_source, open_results; from state.config import load_config; "
        f"c = load_config({str(tmp_path / 'w' / 'campaign.toml')!r}); open_destination(c); open_source(c); open_results(c); "
        "print(sorted(m for m in sys.modules if m.startswith('logcache.demo')))"
    )
    env = {k: v for k, v in os.environ.items() if k != DESTINATION_WRAPPER_ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_campaign_config_has_no_demo_settings() -> None:
    assert not [f.name for f in dataclasses.fields(CampaignConfig) if "demo" in f.name]


def test_the_lifecycle_rule_wraps_only_a_demo_world_with_that_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_world(str(tmp_path / "faulty"), seed=3, scale="tiny", faults={"missing-copy": 1})
    build_world(str(tmp_path / "clean"), seed=3, scale="tiny")
    faulty, clean = load_config(tmp_path / "faulty" / "campaign.toml"), load_config(tmp_path / "clean" / "campaign.toml")
    assert len(expiring_ids(faulty)) == 1 and expiring_ids(clean) == ()
    # Building the faulty world turned the rehearsal on for this process and its children.
    assert os.environ[DESTINATION_WRAPPER_ENV] == "logcache.demo.lifecycle:wrap_destination"
    assert isinstance(open_destination(faulty), ExpiringStore)
    assert not isinstance(open_destination(clean), ExpiringStore)
    monkeypatch.delenv(DESTINATION_WRAPPER_ENV)
    assert not isinstance(open_destination(faulty), ExpiringStore)


@pytest.mark.parametrize("named", ["os:system", "logcache.stores:nope", "logcache.demo.lifecycle"])
def test_a_wrapper_that_is_not_logcaches_own_function_is_refused(named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_world(str(tmp_path / "w"), seed=3, scale="tiny")
    monkeypatch.setenv(DESTINATION_WRAPPER_ENV, named)
    with pytest.raises(ConfigError, match=DESTINATION_WRAPPER_ENV):
        open_destination(load_config(tmp_path / "w" / "campaign.toml"))
