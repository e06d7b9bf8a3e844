"""CLI conventions of the AWS and Textual ecosystems, as real processes: --version, the
environment and exit codes in --help, -q, --json shapes, --endpoint-url over the campaign
file, the campaign after a repeatable option, and a progress line drawn by Rich that a
narrow terminal folds instead of cutting."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shlex
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from support.processes import logcache

from logcache import __version__
from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from state.config import S3Settings

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def world(tmp_path: Path) -> Path:
    build_world(str(tmp_path / "w"), seed=3, scale="tiny")
    return tmp_path / "w"


def test_version_and_help_name_the_environment_and_exit_codes() -> None:
    assert logcache("--version").stdout.strip() == f"logcache {__version__}"
    out = logcache("--help").stdout
    for name in ("AWS_PROFILE", "LOGCACHE_OPERATOR", "LOGCACHE_DEBUG", "LOGCACHE_DESTINATION_WRAPPER", "NO_COLOR"):
        assert name in out, name
    for code in ("0 ", "1 ", "2 ", "3 ", "130 "):
        assert f"\n  {code}" in out, code


def test_json_shapes_of_the_reporting_commands(world: Path) -> None:
    campaign = world / "campaign.toml"
    tx = json.loads(logcache("transactions", campaign, "--json").stdout)
    assert set(tx) == {"schema", "transactions", "default", "picked"} and tx["default"] and len(tx["transactions"]) == 4
    found = logcache("discover", campaign, "--json")
    body = json.loads(found.stdout)
    assert body["transaction"] == tx["default"] and body["datasets"] == 36 and body["entries_csv"].endswith("cache-entries.csv")
    run = logcache("run", campaign, "--json")
    assert run.returncode == 3, run.stderr
    outcome = json.loads(run.stdout)
    assert outcome == {"schema": 1, "stop": "manual", "step": "build-image", "message": outcome["message"], "exit_code": 3}
    assert outcome["message"].startswith("build and push the ETL image")
    assert "-> copy" in run.stderr  # progress goes to stderr
    status = json.loads(logcache("status", campaign, "--json").stdout)
    assert status["next_step"] == "build-image"


def test_json_shapes_of_the_validation_commands(tmp_path: Path) -> None:
    build_world(str(tmp_path / "w"), seed=3, scale="tiny", faults={"corrupt-cache": 1})
    campaign = tmp_path / "w" / "campaign.toml"
    assert logcache("discover", campaign).returncode == 0 and logcache("copy", campaign).returncode == 0
    plan = json.loads(logcache("plan", campaign, "--parcel-count", "2", "--json").stdout)
    assert plan["balance"] == "size" and len(plan["parcels"]) == 2
    assert sorted(t for p in plan["parcels"] for t in p["tasks"]) == sorted({t for p in plan["parcels"] for t in p["tasks"]})
    validated = logcache("validate", campaign, "--json")
    assert validated.returncode == 1, validated.stderr  # the corrupt cache is a finding
    body = json.loads(validated.stdout)
    assert body["pairs"] == 36 and body["valid"] == 35 and body["failed_parcels"] == []
    (bad,) = body["invalid"]
    assert bad["is_valid"] is False and bad["error_kind"] and bad["dataset"]
    pair = f"{bad['dataset']}/{bad['validation']}"
    aggregated = logcache("aggregate", campaign, "--json")
    assert aggregated.returncode == 1
    summary = json.loads(aggregated.stdout)
    assert summary["summary"]["rows"] == 36 and summary["summary"]["invalid"] == 1 and summary["invalid"][0]["dataset"] == bad["dataset"]
    failures = json.loads(logcache("failures", campaign, "--json").stdout)
    assert [f"{r['dataset']}/{r['validation']}" for r in failures["invalid"]] == [pair] and failures["failed_paths"] == []
    shown = logcache("show", campaign, pair, "--json")
    assert shown.returncode == 1 and json.loads(shown.stdout)["pair"] == pair


def test_quiet_prints_results_only(world: Path) -> None:
    campaign = world / "campaign.toml"
    loud = logcache("run", campaign)
    assert "-> discover" in loud.stdout
    quiet = logcache("-q", "copy", campaign)
    assert quiet.returncode == 0
    assert quiet.stdout.splitlines()[-1] == "verified 36 of 36 datasets" and "listed" not in quiet.stdout


def test_the_campaign_after_a_repeatable_option_is_not_swallowed(world: Path) -> None:
    campaign = world / "campaign.toml"
    assert logcache("discover", campaign).returncode == 0
    result = logcache("copy", "--only", "raw-feed-s0/log", "raw-feed-s1/log", campaign, "--json")
    assert result.returncode == 0, result.stderr
    assert sorted(d["name"] for d in json.loads(result.stdout)["datasets"]) == ["raw-feed-s0/log", "raw-feed-s1/log"]
    lone = logcache("copy", "--only", campaign)
    assert lone.returncode == 2 and "--only needs at least one name" in lone.stderr


def test_endpoint_url_overrides_the_campaign_file(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> None:
    world = tmp_path / "c"
    build_world(f"s3://{s3_bucket}/w", seed=3, scale="tiny", campaign_dir=world, s3=S3Settings(endpoint_url=s3_endpoint, region="us-east-1", max_attempts=3))
    campaign = world / "campaign.toml"
    text = campaign.read_text(encoding="utf-8")
    assert s3_endpoint in text
    campaign.write_text(text.replace(s3_endpoint, "http://127.0.0.1:9"), encoding="utf-8")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    broken = logcache("transactions", campaign, env=env)
    assert broken.returncode == 2 and "127.0.0.1:9" in broken.stderr, broken.stderr
    fixed = logcache("transactions", campaign, "--endpoint-url", s3_endpoint, "--json", env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert len(json.loads(fixed.stdout)["transactions"]) == 4
    assert campaign.read_text(encoding="utf-8").count("127.0.0.1:9") == 1  # the file is not rewritten


def test_endpoint_url_reaches_the_command_backends_jobs(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> None:
    world = tmp_path / "c"
    build_world(f"s3://{s3_bucket}/v", seed=3, scale="tiny", campaign_dir=world, s3=S3Settings(endpoint_url=s3_endpoint, region="us-east-1", max_attempts=3))
    campaign = world / "campaign.toml"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    for step in ("discover", "copy"):
        assert logcache(step, campaign, env=env).returncode == 0
    campaign.write_text(campaign.read_text(encoding="utf-8").replace(s3_endpoint, "http://127.0.0.1:9"), encoding="utf-8")
    job = f"{shlex.quote(sys.executable)} -m logcache validate {{campaign}} --parcel-count {{parcel_count}} --parcel-id {{parcel_id}}"
    base = ("validate", campaign, "--backend", "command", "--endpoint-url", s3_endpoint, "--json")

    # A job re-reads the campaign file, so without {args} it could not learn the endpoint.
    state = (world / "campaign.state.toml").read_bytes()
    refused = logcache(*base, "--template", job, env=env)
    assert refused.returncode == 2 and "must pass {args}" in refused.stderr, refused.stderr
    assert (world / "campaign.state.toml").read_bytes() == state and not (world / "jobs").exists()

    done = logcache(*base, "--template", job + " {args}", env=env)
    assert done.returncode == 0, done.stderr + "".join(p.read_text() for p in (world / "jobs").glob("*.log"))
    report = json.loads(done.stdout)
    assert report["pairs"] == report["valid"] == len(read_entries(world / CSV_NAME)) > 0


def _run_in_terminal(args: list[str], columns: int) -> str:
    """The output of logcache in a pseudo-terminal `columns` wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns)}
    proc = subprocess.Popen([sys.executable, "-m", "logcache", *args], stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        proc.wait(timeout=30)
        os.close(leader)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return ANSI.sub("", b"".join(chunks).decode(errors="replace"))


def test_a_narrow_terminal_folds_the_progress_line_instead_of_cutting_it(world: Path) -> None:
    campaign = world / "campaign.toml"
    assert logcache("discover", campaign).returncode == 0
    out = _run_in_terminal(["copy", str(campaign), "--concurrency", "1"], columns=60)
    assert "copied" in out and "verified 36 of 36 datasets" in out
    progress = [chunk for chunk in re.split(r"\r|\n", out) if "objects/s" in chunk or "ETA" in chunk]
    assert progress, out
    text = " ".join(out.split())
    etas = re.findall(r"ETA (\S+)", text)
    assert etas and all(re.fullmatch(r"(\d+:)?\d\d:\d\d|--:--", eta) for eta in etas), etas


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_shell_completion_offers_commands_options_and_actions(shell: str, tmp_path: Path) -> None:
    exe = shutil.which("logcache")
    assert exe, "the logcache console script is installed"
    script = subprocess.run([exe, "completion", shell], capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "complete -o filenames -F _logcache logcache" in script.stdout
    if shell == "zsh":
        assert script.stdout.startswith("autoload -U +X bashcompinit && bashcompinit")
        return  # the same function, loaded through zsh's bash compatibility
    path = tmp_path / "completion.sh"
    path.write_text(script.stdout, encoding="utf-8")

    def offered(*words: str) -> list[str]:
        probe = f'source {path}; COMP_WORDS=(logcache {" ".join(repr(w) for w in words)}); COMP_CWORD={len(words)}; _logcache; printf "%s\\n" "${{COMPREPLY[@]}}"'
        empty = tmp_path / "empty"  # no file names to offer besides the words
        empty.mkdir(exist_ok=True)
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30, cwd=empty)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert offered("co") == ["completion", "copy"]
    assert offered("copy", "c.toml", "--o") == ["--only", "--overwrite"]
    assert offered("registry", "e") == ["export"]
    assert offered("registry", "export", "c.toml", "--a") == ["--apply"]
    assert {"tui", "demo"} <= set(offered(""))  # the app's commands too


@pytest.mark.parametrize("where", ["AWS_PROFILE", "--profile"])
def test_an_unknown_aws_profile_is_named_with_where_it_came_from(where: str, world: Path, tmp_path: Path) -> None:
    campaign = world / "campaign.toml"
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(text.replace('url = "permanent/cache"', 'url = "s3://bucket/cache"'), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    args: list[object] = ["run", campaign]
    if where == "AWS_PROFILE":
        env["AWS_PROFILE"] = "nope"
    else:
        args += ["--profile", "nope"]
    result = logcache(*args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "logcache: AWS profile 'nope' does not exist (from AWS_PROFILE); unset it, or add it to ~/.aws/config"
        if where == "AWS_PROFILE"
        else "logcache: AWS profile 'nope' does not exist (from --profile or [s3].profile); fix it or ~/.aws/config"
    )


@pytest.mark.parametrize("command", ["tui", "demo"])
def test_python_dash_m_logcache_has_the_apps_commands_as_the_console_script_does(command: str) -> None:
    done = logcache(command, "--help")
    assert done.returncode == 0, done.stderr
    assert f"usage: logcache {command}" in done.stdout
    assert command in logcache("--help").stdout


def test_an_internal_error_exits_70_in_one_line_never_as_a_finding(world: Path) -> None:
    """A bug (here: a destination wrapper that is no wrapper) is neither a refusal nor a
    finding: exit 70, as sysexits' EX_SOFTWARE, one line and no traceback."""
    logcache("discover", world / "campaign.toml")
    env = {**os.environ, "LOGCACHE_DESTINATION_WRAPPER": "logcache.errors:describe"}
    env.pop("LOGCACHE_DEBUG", None)
    done = logcache("copy", world / "campaign.toml", env=env)
    assert done.returncode == 70, done.stderr
    assert "internal error" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
