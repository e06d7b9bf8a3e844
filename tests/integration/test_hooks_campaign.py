"""A whole refresh with every hook configured, as `logcache run` drives it on the S3 server:
the catalog from a real HTTP server on loopback, the image built by a script that prints
its tag, validation jobs started in the background by an asynchronous submitter (each in
a session of its own) with machines scaled up and down per parcel into a ledger, the PR
opened by a command that prints its URL, and every notification written down. The only
step left to the operator is the merge."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from support.hooks import ledger, wait_until
from support.servers import http_server

from logcache.catalog import open_catalog
from logcache.demo import build_world
from logcache.stores import open_results
from logcache.validation.heartbeat import read_heartbeats
from state.config import S3Settings, load_config
from state.model import StepName, StepStatus
from state.persist import load_state

TOKEN_ENV = "HOOKS_CATALOG_TOKEN"
TOKEN = "catalog-token-never-written-7f3a"
PR_URL = "https://github.example/nubank/etl/pull/4242"

BUILD = """\
#!/bin/sh
# build.sh PATCH BRANCH: what `docker buildx build --push` would do.
echo "building with $1 on branch $2"
if [ -e fail-image ]; then echo "error: failed to push: denied"; exit 7; fi
test -s "$1" || { echo "no patch at $1"; exit 4; }
echo "pushed registry.local/etl:refresh-$2"
"""

SUBMIT = """\
#!/bin/sh
# submit.sh IMAGE LABEL VALIDATE-ARGS...: what `kubectl create job` or `sbatch` would do.
image=$1; label=$2; shift 2
if [ -e fail-submit ]; then echo "error: the server is currently unable to handle the request"; exit 5; fi
id="job-$label-$$"
mkdir -p out
echo "$label $image $id" >> submissions
setsid nohup sh -c 'while [ -e hold-jobs ]; do sleep 0.1; done; exec "$0" -m logcache validate "$@"' "$PYTHON" "$@" > "out/$id.log" 2>&1 < /dev/null &
echo $! > "out/$id.pid"
echo "job $id created"
"""

PR = """\
#!/bin/sh
# pr.sh BRANCH: what `gh pr create --fill --head BRANCH` would do.
echo "Creating pull request for $1 into main"
if [ -e fail-pr ]; then echo "pull request create failed: GraphQL: Resource not accessible"; exit 6; fi
echo "PR_URL"
"""

HOOKS = """
[image]
command = "./build.sh {patch} {branch}"
tag_pattern = "pushed (\\\\S+)"

[notify]
command = "echo {event} {message} >> notifications"

[run]
confirm = false  # driven headless on purpose: no terminal to ask before the jobs and the PR
"""

VALIDATION = """\
submit = "./submit.sh {image} {label} {campaign} --parcel-count {parcel_count} --parcel-id {parcel_id} {args}"
job_id_pattern = "job (\\\\S+) created"
logs = "cat out/{job_id}.log"
scale_up = "echo up {label} $(date +%s.%N) >> ledger"
scale_down = "if [ -e fail-scale_down ]; then echo 'An error occurred (Throttling)'; exit 9; fi; echo down {label} {job_id} $(date +%s.%N) >> ledger"
nodes = 40
hourly_cost = 0.4
"""


class _Catalog(BaseHTTPRequestHandler):
    pages: ClassVar[list[list[object]]] = []  # set per server by the fixture's subclass

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, b'{"error": "unauthorized"}')
            return
        page = int(self.path.rsplit("page=", 1)[1]) if "page=" in self.path else 0
        following = f"/runs?page={page + 1}" if page + 1 < len(self.pages) else None
        self._answer(200, json.dumps({"transactions": self.pages[page], "next": following}).encode())

    def _answer(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hooked_world(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> Iterator[Path]:
    """A demo world on the S3 server whose campaign configures every hook; yields the
    campaign folder. Its catalog is served over HTTP (two pages, a bearer token)."""
    world = tmp_path / "campaign"
    settings = S3Settings(endpoint_url=s3_endpoint, region="us-east-1", max_attempts=3)
    build_world(f"s3://{s3_bucket}/world", seed=5, scale="tiny", campaign_dir=world, s3=settings)
    campaign = world / "campaign.toml"
    runs = [json.loads(tx.to_json()) for tx in open_catalog(load_config(campaign)).transactions()]
    handler = type("Catalog", (_Catalog,), {"pages": [runs[: len(runs) // 2], runs[len(runs) // 2 :]]})
    with http_server(handler) as catalog:
        # The registry lives in git, as in the ETL's repository: the patch goes on a branch.
        registry = world / "registry"
        for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "registry before the refresh"]):
            subprocess.run(["git", *args], cwd=registry, check=True, env=git_env())
        for name, text in {"build.sh": BUILD, "submit.sh": SUBMIT.replace("$PYTHON", sys.executable), "pr.sh": PR.replace("PR_URL", PR_URL)}.items():
            (world / name).write_text(text)
            (world / name).chmod(0o755)
        text = campaign.read_text()
        text = re.sub(r'\[catalog\]\n(#.*\n)*kind = "files"\nurl = "[^"]*"\n', f'[catalog]\nkind = "http"\nurl = "{catalog}/runs"\ntoken_env = "{TOKEN_ENV}"\n', text)
        text = text.replace('format = "scala"\n', 'format = "scala"\npr_command = "./pr.sh {branch}"\n')
        text = text.replace('backend = "local"', 'backend = "command"').replace("parcel_count = 3", "parcel_count = 2")
        text = text.replace("[validation]\n", "[validation]\n" + VALIDATION, 1)
        campaign.write_text(text + HOOKS)
        assert 'kind = "http"' in campaign.read_text()
        try:
            yield world
        finally:
            kill_jobs(world)


def git_env() -> dict[str, str]:
    who = {"GIT_AUTHOR_NAME": "Operator", "GIT_AUTHOR_EMAIL": "op@example.com", "GIT_COMMITTER_NAME": "Operator", "GIT_COMMITTER_EMAIL": "op@example.com"}
    return {**os.environ, **who, TOKEN_ENV: TOKEN}


def logcache_run(world: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "logcache", "run", str(world / "campaign.toml")], capture_output=True, text=True, timeout=300, env=git_env())


def kill_jobs(world: Path) -> None:
    """Stop any job a failed test left running (each leads a session of its own)."""
    (world / "hold-jobs").unlink(missing_ok=True)
    for pid_file in (world / "out").glob("*.pid") if (world / "out").exists() else []:
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def submissions(world: Path) -> list[tuple[str, str, str]]:
    path = world / "submissions"
    return [tuple(line.split()) for line in path.read_text().splitlines()] if path.exists() else []  # type: ignore[misc]


def assert_scaled_down_once_after_each_end(world: Path) -> None:
    """Every parcel that got machines gave them back exactly once, after its job ended
    (its heartbeat's last word, done, written by the job itself)."""
    rows = ledger(world)
    labels = {label for _, label, _, _ in rows}
    assert labels and Counter((a, label) for a, label, _, _ in rows) == Counter({(a, label) for a in ("up", "down") for label in labels})
    beats = read_heartbeats(open_results(load_config(world / "campaign.toml")))
    ids = {label: job_id for label, _, job_id in submissions(world)}
    for action, label, job_id, at in rows:
        if action == "down":
            assert beats[label].state == "done"
            ended = datetime.fromisoformat(beats[label].updated_at).timestamp()
            assert at >= ended - 1.0, (label, at, ended)  # the heartbeat's time is to the second
            assert job_id == ids[label]


def test_a_whole_refresh_with_every_hook_stops_only_at_the_merge(hooked_world: Path) -> None:
    world = hooked_world
    result = logcache_run(world)

    assert result.returncode == 3, result.stdout + result.stderr
    assert "stopped at merge-pr" in result.stdout and PR_URL in result.stdout
    state = load_state(world / "campaign.state.toml")
    assert [s.name for s in state.steps if s.status is not StepStatus.DONE] == [StepName.MERGE_PR]
    tag = state.image_tag
    assert tag is not None and tag.startswith("registry.local/etl:refresh-log-cache-")
    assert state.step(StepName.BUILD_IMAGE).note == tag and f"[image] pushed {tag}" in result.stdout
    # The tag reached every validation job, and each parcel was submitted once.
    subs = submissions(world)
    assert subs and {image for _, image, _ in subs} == {tag}
    assert sorted(label for label, _, _ in subs) == sorted({label for label, _, _ in subs})
    assert_scaled_down_once_after_each_end(world)
    # The PR: the patch applied on its branch, the URL in the state and on the merge step.
    assert state.pr_url == PR_URL and state.registry_branch and tag.endswith(state.registry_branch)
    branches = subprocess.run(["git", "branch", "--list", state.registry_branch], cwd=world / "registry", capture_output=True, text=True).stdout
    assert state.registry_branch in branches
    assert state.aggregate is not None and state.aggregate.all_valid
    notes = (world / "notifications").read_text().splitlines()
    assert [n.split()[0] for n in notes] == ["all-valid", "manual-step"] and PR_URL in notes[1]
    status = subprocess.run([sys.executable, "-m", "logcache", "status", str(world / "campaign.toml")], capture_output=True, text=True, timeout=60)
    assert f"PR: {PR_URL}" in status.stdout and "no machines held" in status.stdout and "machine-hours so far, cost" in status.stdout
    for path in (world / "campaign.toml", world / "campaign.state.toml", *(world / "jobs").iterdir()):
        assert TOKEN.encode() not in path.read_bytes(), path


def test_a_run_killed_while_jobs_run_is_resumed_without_submitting_twice(hooked_world: Path) -> None:
    world = hooked_world
    (world / "hold-jobs").touch()  # the jobs start, then wait: the kill lands while they run
    proc = subprocess.Popen(
        [sys.executable, "-m", "logcache", "run", str(world / "campaign.toml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=git_env()
    )
    try:
        assert wait_until(lambda: len(submissions(world)) == 2 and _recorded_jobs(world) == 2, timeout_s=240)
    finally:
        proc.kill()
        proc.wait(30)
    state = load_state(world / "campaign.state.toml")
    assert state.step(StepName.VALIDATE).status is StepStatus.RUNNING
    assert [a for a, *_ in ledger(world)] == ["up", "up"]  # both parcels hold machines
    held = subprocess.run([sys.executable, "-m", "logcache", "status", str(world / "campaign.toml")], capture_output=True, text=True, timeout=60)
    assert "machines still held by parcels 0, 1" in held.stdout, held.stdout
    (world / "hold-jobs").unlink()

    result = logcache_run(world)

    assert result.returncode == 3, result.stdout + result.stderr
    assert len(submissions(world)) == 2  # followed by job id, never submitted again
    assert_scaled_down_once_after_each_end(world)
    state = load_state(world / "campaign.state.toml")
    assert state.aggregate is not None and state.aggregate.all_valid
    # The jobs' progress was followed though they started before this run did.
    main = [p for p in state.parcels if p.parcel_id in ("0", "1")]
    assert len(main) == 2 and all(p.tasks_done == p.tasks_total > 0 and p.last_heartbeat for p in main), main


def _recorded_jobs(world: Path) -> int:
    path = world / "jobs" / "parcels.json"
    try:
        return sum(1 for r in json.loads(path.read_text()).values() if r["job_id"])
    except (FileNotFoundError, ValueError):
        return 0


@pytest.mark.parametrize(
    ("hook", "step", "line"),
    [
        ("image", StepName.BUILD_IMAGE, "image hook exited with 7: "),
        ("pr", StepName.REGISTRY_EXPORT, "pr hook exited with 6: "),
        ("submit", StepName.VALIDATE, "submit hook exited with 5: "),
        ("scale_down", StepName.VALIDATE, "scale_down hook exited with 9: "),
    ],
)
def test_a_failed_hook_is_one_line_and_the_rerun_retries_it(hooked_world: Path, hook: str, step: StepName, line: str) -> None:
    world = hooked_world
    (world / f"fail-{hook}").touch()

    failed = logcache_run(world)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    stopped = [text for text in failed.stdout.splitlines() if text.startswith("stopped at")]
    assert len(stopped) == 1 and f"stopped at {step.value}: {step.value} failed: {line}" in stopped[0], failed.stdout
    assert "Traceback" not in failed.stderr
    state = load_state(world / "campaign.state.toml")
    assert state.step(step).status is StepStatus.FAILED and line in state.step(step).note
    later = [s for s in state.steps if [n for n in StepName].index(s.name) > [n for n in StepName].index(step)]
    assert all(s.status is StepStatus.PENDING for s in later)
    (notice,) = (world / "notifications").read_text().splitlines()
    assert notice.startswith("failure ") and f"{step.value} failed: {line}" in notice
    if hook == "pr":
        assert state.pr_url is None and state.registry_branch  # applied once; the rerun only retries the hook
    if hook == "submit":
        assert submissions(world) == [] and Counter(a for a, *_ in ledger(world)) == Counter({"up": 1, "down": 1})
    if hook == "scale_down":
        held = subprocess.run([sys.executable, "-m", "logcache", "status", str(world / "campaign.toml")], capture_output=True, text=True, timeout=60)
        assert "machines still held by parcels 0, 1" in held.stdout, held.stdout
    (world / f"fail-{hook}").unlink()

    rerun = logcache_run(world)

    assert rerun.returncode == 3, rerun.stdout + rerun.stderr
    state = load_state(world / "campaign.state.toml")
    assert [s.name for s in state.steps if s.status is not StepStatus.DONE] == [StepName.MERGE_PR]
    assert state.pr_url == PR_URL and state.image_tag and state.aggregate is not None and state.aggregate.all_valid
    assert len(submissions(world)) == len({label for label, _, _ in submissions(world)}) == 2
    rows = ledger(world)
    for label in {label for _, label, _, _ in rows}:
        actions = [a for a, lab, _, _ in rows if lab == label]
        assert actions.count("up") == actions.count("down") and actions[-1] == "down", (label, actions)
    # The failed attempt and the retry, both kept (and the scale-up before them).
    kept = {"submit": ("parcel-0.submit", 2), "scale_down": ("parcel-0.scale", 3)}.get(hook, (hook, 2))
    assert (world / "jobs" / f"{kept[0]}.log").read_text().count("--- exit ") == kept[1]


def test_a_notification_that_fails_is_a_note_not_a_failure(hooked_world: Path) -> None:
    world = hooked_world
    text = (world / "campaign.toml").read_text()
    (world / "campaign.toml").write_text(text.replace('command = "echo {event} {message} >> notifications"', 'command = "echo chat webhook 502 >&2; exit 22"'))

    result = logcache_run(world)

    assert result.returncode == 3, result.stdout + result.stderr
    notes = [line for line in result.stdout.splitlines() if "note: notify hook exited with 22" in line]
    assert len(notes) == 2, result.stdout  # all valid, then the merge waits
    assert "stopped at merge-pr" in result.stdout
