"""A real `logcache copy` process killed with SIGKILL mid-way resumes exactly where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.servers import CopyCampaign, listing


def _run_copy(campaign: Path, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "logcache", "copy", str(campaign), "--concurrency", "2", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **kw,  # type: ignore[arg-type]
    )


def test_sigkill_mid_copy_then_rerun_copies_only_what_is_missing(copy_campaign: CopyCampaign) -> None:
    client, campaign = copy_campaign.client, copy_campaign.path
    total, prefixes = copy_campaign.total, copy_campaign.prefixes
    source_before = listing(client, copy_campaign.bucket, "ephemeral/")

    proxy = copy_campaign.proxy
    proxy.hold_after = total // 5
    first = _run_copy(campaign)
    deadline = time.monotonic() + 120
    while not proxy.holding:
        assert first.poll() is None, f"copy ended before it could be killed: {first.communicate()}"
        assert time.monotonic() < deadline, "the copy made no progress"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    # The copies in flight when the process died still reach the server, as they would at S3.
    proxy.release()
    time.sleep(0.5)
    present = len(listing(client, copy_campaign.bucket, "permanent/cache/"))
    assert total // 5 <= present <= total // 5 + 2

    second = _run_copy(campaign)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    report = json.loads(out)
    assert report["ok"] and not report["interrupted"]
    assert report["objects_copied"] == total - present
    assert report["objects_skipped"] == present
    assert report["counts"] == {"verified": prefixes}

    assert listing(client, copy_campaign.bucket, "permanent/cache/") == [
        (key, size, etag) for key, size, etag in listing(client, copy_campaign.bucket, "ephemeral/")
    ]
    assert listing(client, copy_campaign.bucket, "ephemeral/") == source_before
