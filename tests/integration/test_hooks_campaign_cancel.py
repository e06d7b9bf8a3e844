"""The app's operator cancel while its run follows the jobs: the cancel goes through a
second `Submitter` on the same records (`jobs/parcels.json`), and the run that follows the
jobs sees it, so the cancelled parcel's machines are given back exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from support.hooks import ledger, parcel_jobs, submitter_world, wait_until

from logcache.validation.backends import JobEnd
from logcache.validation.jobs import Submitter, default_book, run_async
from state.config import load_config


def test_a_cancel_from_another_submitter_while_a_run_follows_gives_machines_back_once(tmp_path: Path) -> None:
    config = load_config(submitter_world(tmp_path))
    ends: list[JobEnd] = []
    follower = threading.Thread(target=lambda: ends.extend(run_async(config, parcel_jobs(["0", "1"]), force=False, watch=lambda: None, started=lambda _: None)))
    follower.start()
    try:
        assert wait_until(lambda: sum(1 for r in default_book(config).load().values() if r.job_id) == 2, timeout_s=30)

        assert Submitter(config, default_book(config)).cancel_parcels(["1"]) == ["1"]

        (tmp_path / "gate" / "0").touch()
        follower.join(60)
    finally:
        (tmp_path / "gate" / "all").touch()
        follower.join(60)
    assert not follower.is_alive() and len(ends) == 2
    assert ends[0].ok and not ends[1].ok and "cancelled by the operator" in ends[1].error
    actions = Counter((action, label) for action, label, _, _ in ledger(tmp_path))
    assert actions == Counter({("up", "0"): 1, ("down", "0"): 1, ("up", "1"): 1, ("cancel", "1"): 1, ("down", "1"): 1})
    records = default_book(config).load()
    assert records["1"].outcome == "cancelled" and not any(r.holding for r in records.values())
