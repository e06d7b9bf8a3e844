"""The asynchronous submitter driving real parcels: each job is `logcache validate
--parcel-id` started in the background in a session of its own, on a demo world with a
lost copy; the image tag reaches every job, the job logs give the lost path."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from support.hooks import ledger

from logcache.cli import main
from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from logcache.storage import open_store
from logcache.validation import latest_results, read_results
from logcache.validation.backends import JobStarted
from logcache.validation.jobs import default_book, held_machines, run_async
from logcache.validation.orchestrate import jobs_for, plan_parcels
from state.config import load_config

SUBMIT = """\
#!/bin/sh
# submit.sh IMAGE LOGCACHE-VALIDATE-ARGS...: what `kubectl create job` or `sbatch` would do.
image=$1; shift
id="job-$$"
mkdir -p out
echo "$image" > "out/$id.image"
setsid nohup "$PYTHON" -m logcache validate "$@" > "out/$id.log" 2>&1 < /dev/null &
echo "job $id created"
"""

KEYS = """\
submit = "./submit.sh {image} {campaign} --parcel-count {parcel_count} --parcel-id {parcel_id} {args}"
job_id_pattern = "job (\\\\S+) created"
logs = "cat out/{job_id}.log"
scale_up = "echo up {label} x $(date +%s.%N) >> ledger"
scale_down = "echo down {label} {job_id} $(date +%s.%N) >> ledger"
nodes = 4
hourly_cost = 1.5
"""


def test_real_parcels_through_the_async_submitter(tmp_path: Path) -> None:
    root = tmp_path / "w"
    build_world(str(root), seed=11, scale="tiny", faults={"missing-copy": 1})
    campaign = root / "campaign.toml"
    assert main(["discover", str(campaign)]) == 0
    main(["copy", str(campaign)])
    (root / "submit.sh").write_text(SUBMIT.replace("$PYTHON", sys.executable))
    (root / "submit.sh").chmod(0o755)
    text = campaign.read_text().replace('backend = "local"', 'backend = "command"')
    campaign.write_text(text.replace("[validation]\n", "[validation]\n" + KEYS, 1))
    config = load_config(campaign)
    entries = read_entries(root / CSV_NAME)
    jobs = jobs_for(config, plan_parcels(entries, 3, "size"), "size", None)
    started: list[JobStarted] = []

    ends = run_async(config, jobs, force=False, watch=lambda: None, started=started.append, image="quay.io/nubank/itaipu:4f2a9c1")

    assert len(ends) == len(jobs) == 3 and all(e.ok for e in ends), ends
    assert {s.job_id for s in started} == {e.job_id for e in ends}
    images = [p.read_text().strip() for p in (root / "out").glob("*.image")]
    assert images == ["quay.io/nubank/itaipu:4f2a9c1"] * 3  # the tag reached every job, each submitted once
    rows = latest_results(read_results(open_store(str(root / "results"))))
    assert len(rows) == len(entries)
    lost = [r for r in rows.values() if r.error_kind == "missing-path"]
    found = {url for e in ends for url in e.missing_paths}
    assert lost and found == {r.error.removeprefix("Path does not exist: ") for r in lost}
    actions = Counter((action, label) for action, label, _, _ in ledger(root))
    assert actions == Counter({("up", j.label): 1 for j in jobs} | {("down", j.label): 1 for j in jobs})
    usage = held_machines(config, default_book(config).load())
    assert usage.holding == () and usage.cost is not None and usage.cost > 0
