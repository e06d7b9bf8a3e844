"""Helpers shared by the tests of the hooks: a minimal campaign file."""

from __future__ import annotations

import os
import time
from pathlib import Path

from support import campaigns


def write_campaign(folder: Path, extra: str = "", catalog: str = 'url = "catalog"', registry: str = "") -> Path:
    return campaigns.write_campaign(folder, extra, catalog=catalog, registry=registry, name="hooks")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead: it only waits for its parent to read its exit code.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


# -- a real asynchronous submitter: jobs in the background, in sessions of their own -------

FAKE_JOB = """\
import sys, time
from pathlib import Path
from logcache.storage import LocalStore
from logcache.validation.heartbeat import HeartbeatWriter

results, label, gate, missing = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
world = gate.parent
with (world / "job-starts").open("a") as f:
    f.write(label + "\\n")
if label == "crash":
    sys.exit(3)
with HeartbeatWriter(LocalStore(Path(results)), label, 1, 100, 0.2):
    while not (gate / label).exists() and not (gate / "all").exists():
        time.sleep(0.05)
    if missing:
        print("org.apache.spark.sql.AnalysisException: Path does not exist: " + missing + ";")
    print("parcel", label, "validated")
with (world / "job-ends").open("a") as f:
    f.write(f"{label} {time.time()}\\n")
"""

SUBMIT = """\
#!/bin/sh
# submit.sh LABEL: start the job in the background, in a new session, and print its id.
label=$1
world=$(dirname "$0")
if [ -e "$world/submit-fails" ]; then rm "$world/submit-fails"; echo "sabesp: 503 from aurora" >&2; exit 1; fi
touch "$world/submitting-$label"  # the submission began: logcache recorded it first
while [ -e "$world/submit-hold-$label" ]; do sleep 0.05; done
id="job-$label-$$"
missing=""
[ "$label" = "1" ] && missing="s3a://permanent/cache/4FUNeUsqSRqxORFm0aJ-jA"
setsid nohup sh -c "$PYTHON $world/fake_job.py $world/results $label $world/gate '$missing'; echo \\$? > $world/out/$id.rc" > "$world/out/$id.out" 2>&1 < /dev/null &
echo $! > "$world/out/$id.pid"
echo "Submitted batch job $id"
while [ -e "$world/submit-linger-$label" ]; do sleep 0.05; done
"""

STATUS = """\
#!/bin/sh
# status.sh JOB_ID: RUNNING, COMPLETED or FAILED, as sacct would say.
out=$(dirname "$0")/out
if kill -0 "$(cat "$out/$1.pid")" 2>/dev/null; then echo RUNNING; exit 0; fi
if [ "$(cat "$out/$1.rc" 2>/dev/null)" = "0" ]; then echo COMPLETED; else echo "FAILED"; fi
"""

LEDGER = """\
#!/bin/sh
# ledger.sh up|down|cancel LABEL [JOB_ID]: what a real cluster would do, written down.
world=$(dirname "$0")
echo "$1 $2 ${3:-} $(date +%s.%N)" >> "$world/ledger"
if [ "$1" = cancel ]; then kill "$(cat "$world/out/$3.pid")"; fi
"""


def submitter_world(folder: Path, extra: str = "") -> Path:
    """A campaign whose [validation] submits jobs through the scripts above; returns the
    campaign file. `gate/<label>` (or `gate/all`) lets a job finish."""
    import sys

    for name, text in {"fake_job.py": FAKE_JOB, "submit.sh": SUBMIT, "status.sh": STATUS, "ledger.sh": LEDGER}.items():
        (folder / name).write_text(text.replace("$PYTHON", sys.executable))
        (folder / name).chmod(0o755)
    for sub in ("gate", "out", "results"):
        (folder / sub).mkdir(exist_ok=True)
    return write_campaign(
        folder,
        f"""
[validation]
backend = "command"
results = "results"
heartbeat_stale_s = 30
submit = "{folder}/submit.sh {{label}}"
job_id_pattern = "Submitted batch job (\\\\S+)"
status = "{folder}/status.sh {{job_id}}"
logs = "cat {folder}/out/{{job_id}}.out"
cancel = "{folder}/ledger.sh cancel {{label}} {{job_id}}"
scale_up = "{folder}/ledger.sh up {{label}}"
scale_down = "{folder}/ledger.sh down {{label}} {{job_id}}"
status_every_s = 1
nodes = 40
hourly_cost = 0.4
{extra}
""",
    )


def parcel_jobs(labels: list[str]) -> list:
    from logcache.validation.backends import ParcelJob
    from logcache.validation.plan import Parcel, Task

    return [
        ParcelJob(Parcel(i, (Task(f"raw-db{i}-s0", "log", "log-validation", 0, 1, 100),)), label, len(labels))
        for i, label in enumerate(labels)
    ]


def ledger(folder: Path) -> list[tuple[str, str, str, float]]:
    path = folder / "ledger"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        action, label, *rest = line.split()
        job_id, at = (rest[0], rest[1]) if len(rest) == 2 else ("", rest[0])
        rows.append((action, label, job_id, float(at)))
    return rows


def lines_of(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []
