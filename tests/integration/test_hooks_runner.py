"""The hook runner and the campaign-level hooks (image, PR, notify), run with real
scripts: streaming, quoting, failures, timeouts, cancel, and the death of logcache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.hooks import alive, wait_until, write_campaign

from logcache.hooks.image import build_image
from logcache.hooks.notify import FAILURE, notify
from logcache.hooks.pr import open_pr
from logcache.hooks.runner import HookFailed, run_hook
from logcache.hooks.template import render
from state.config import load_config
from state.errors import ConfigFileError


def test_output_streams_line_by_line_while_the_hook_runs(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        if line == "waiting for the gate":
            gate.touch()  # the hook goes on only once this line reached us

    script = f"echo 'waiting for the gate'; while [ ! -e {gate} ]; do sleep 0.05; done; echo 'through'; echo '\x1b[32mgreen\x1b[0m' >&2; printf '10%%\\r50%%\\r100%%\\n'"
    run = run_hook("build", script, log_path=tmp_path / "jobs" / "build.log", on_line=on_line, timeout_s=20)
    assert seen == ["waiting for the gate", "through", "green", "100%"]
    assert run.exit_code == 0 and run.tail == ("through", "green", "100%")
    log = (tmp_path / "jobs" / "build.log").read_bytes()
    assert b"\x1b[32mgreen" in log and b"10%\r50%\r100%" in log and log.endswith(b"--- exit 0\n")  # the log is verbatim


def test_placeholders_are_quoted_so_values_cannot_run(tmp_path: Path) -> None:
    argv = tmp_path / "argv"
    command = render("pr", f"{sys.executable} -c 'import sys, json; print(json.dumps(sys.argv[1:]))' {{branch}} {{args}} > {argv}", {
        "branch": "x; touch pwned $(touch pwned2) 'q'",
        "args": ("--filter-by-name", "a b,c"),
    })
    run_hook("pr", command, log_path=tmp_path / "pr.log", timeout_s=20)
    assert argv.read_text().strip() == '["x; touch pwned $(touch pwned2) \'q\'", "--filter-by-name", "a b,c"]'
    assert not list(tmp_path.glob("pwned*"))


def test_failure_is_one_line_with_the_hook_its_exit_code_and_last_lines(tmp_path: Path) -> None:
    with pytest.raises(HookFailed) as failed:
        run_hook("image", "for i in 1 2 3 4 5; do echo step $i; done; echo 'error: denied' >&2; exit 7", log_path=tmp_path / "image.log")
    text = failed.value.one_line()
    assert "\n" not in text
    assert text.startswith("image hook exited with 7: step 4 | step 5 | error: denied")
    assert str(tmp_path / "image.log") in text
    with pytest.raises(HookFailed, match=r"exited with 0 but printed nothing matching `tag: \(\\S\+\)`: built"):
        run_hook("image", "echo built", log_path=tmp_path / "image.log", pattern=r"tag: (\S+)")


def _pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # A grandchild in the background that ignores TERM: only the KILL after the grace ends it.
    command = f"sh -c 'trap \"\" TERM; echo $$ >> {pids}; sleep 60' & echo $$ >> {pids}; sleep 60"
    started = time.monotonic()
    with pytest.raises(HookFailed, match="slow hook timed out after 1 s"):
        run_hook("slow", command, log_path=tmp_path / "slow.log", timeout_s=1)
    assert time.monotonic() - started < 15
    assert len(_pids(pids)) == 2
    assert wait_until(lambda: not any(alive(p) for p in _pids(pids)))


def test_cancel_kills_the_group_and_interrupts(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    cancel = threading.Event()

    def on_line(line: str) -> None:
        if line == "started":
            cancel.set()

    with pytest.raises(KeyboardInterrupt):
        run_hook("submit", f"sleep 60 & echo $! >> {pids}; echo started; wait", log_path=tmp_path / "s.log", on_line=on_line, cancel=cancel)
    assert wait_until(lambda: not any(alive(p) for p in _pids(pids)))


PARENT = """
import sys
from pathlib import Path
from logcache.hooks.runner import run_hook
run_hook("image", sys.argv[1], log_path=Path(sys.argv[2]))
"""


def test_the_hook_dies_with_logcache_even_on_sigkill(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = f"sleep 120 & echo $! >> {pids}; echo $$ >> {pids}; wait"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, command, str(tmp_path / "image.log")], env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert wait_until(lambda: len(_pids(pids)) == 2, 20), "the hook never started"
        assert all(alive(p) for p in _pids(pids))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert wait_until(lambda: not any(alive(p) for p in _pids(pids)), 15), "the hook outlived logcache"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_detached_job_outlives_its_hook(tmp_path: Path) -> None:
    pid_file = tmp_path / "job.pid"
    run_hook("submit", f"setsid sh -c 'echo $$ > {pid_file}; sleep 30' > /dev/null 2>&1 < /dev/null & echo submitted", log_path=tmp_path / "s.log")
    assert wait_until(pid_file.exists)
    pid = int(pid_file.read_text())
    time.sleep(0.3)
    try:
        assert alive(pid), "a job detached with setsid must outlive its submitter"
    finally:
        os.kill(pid, signal.SIGKILL)


BUILD = """#!/bin/sh
echo "building $1 with patch $2 on branch $3"
echo "#1 [internal] load build definition"
echo "pushed quay.io/etl/itaipu:logcache-$3" >&2
"""


def test_image_hook_builds_and_returns_the_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")  # hooks run in the campaign's folder, wherever logcache was started
    script = tmp_path / "build.sh"
    script.write_text(BUILD)
    script.chmod(0o755)
    config = load_config(write_campaign(tmp_path, f'[image]\ncommand = "./{script.name} {{campaign}} {{patch}} {{branch}}"\ntag_pattern = "pushed \\\\S+:(\\\\S+)"'))
    lines: list[str] = []
    build = build_image(config, patch=tmp_path / "registry.patch", branch="log-cache/2026-11", on_line=lines.append)
    assert build is not None and build.tag == "logcache-log-cache/2026-11"
    assert lines[0] == f"building {config.path} with patch {tmp_path / 'registry.patch'} on branch log-cache/2026-11"
    assert build.log_path == tmp_path / "jobs" / "image.log" and "pushed quay.io" in build.log_path.read_text()
    assert build_image(load_config(write_campaign(tmp_path)), patch=tmp_path / "p", branch="b") is None  # no hook: a manual step


def test_pr_hook_returns_the_url(tmp_path: Path) -> None:
    script = tmp_path / "gh"
    script.write_text('#!/bin/sh\necho "Creating pull request for $2 into main in nubank/itaipu"\necho "https://github.com/nubank/itaipu/pull/6426"\n')
    script.chmod(0o755)
    path = write_campaign(tmp_path, registry=f'pr_command = "{script} --head {{branch}}"')
    pr = open_pr(load_config(path), patch=tmp_path / "p", branch="log-cache/2026-11", report=tmp_path / "r.html")
    assert pr is not None and pr.url == "https://github.com/nubank/itaipu/pull/6426"
    assert open_pr(load_config(write_campaign(tmp_path)), patch=tmp_path / "p", branch="b", report=tmp_path / "r.html") is None


def test_notify_sends_event_and_message_and_reports_a_failure_as_one_line(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    config = load_config(write_campaign(tmp_path, f'[notify]\ncommand = "printf \'%s|%s\\\\n\' {{event}} {{message}} >> {inbox}"'))
    assert notify(config, FAILURE, "copy failed:\n3 prefixes; it's 'bad'") is None
    assert inbox.read_text() == "failure|hooks: copy failed: 3 prefixes; it's 'bad'\n"
    failing = load_config(write_campaign(tmp_path, '[notify]\ncommand = "echo webhook down; exit 22"'))
    assert notify(failing, FAILURE, "x") == f"notify hook exited with 22: webhook down (output: {tmp_path / 'jobs' / 'notify.log'})"


def test_hook_config_is_checked_on_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="image.tag_pattern"):
        load_config(write_campaign(tmp_path, '[image]\ncommand = "make push"'))
    with pytest.raises(ConfigFileError, match=r"image.command.*found \{tag\}"):
        load_config(write_campaign(tmp_path, '[image]\ncommand = "make push TAG={tag}"\ntag_pattern = "x"'))
    with pytest.raises(ConfigFileError, match="image.tag_pattern.*regular expression"):
        load_config(write_campaign(tmp_path, '[image]\ncommand = "make"\ntag_pattern = "(unclosed"'))
    with pytest.raises(ConfigFileError, match=r"notify.command.*literal braces"):
        load_config(write_campaign(tmp_path, '[notify]\ncommand = "curl -d {\\"text\\": 1}"'))
