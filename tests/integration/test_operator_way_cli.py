"""The operator's way, the CLI's half (issue 22): applying the registry patch only on a
branch and only when nothing unchecked goes in, the report to attach, the run's one
question before it spends or publishes, and the CLI's rough edges. Every command runs as
a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.processes import logcache

from logcache.campaign import open_campaign
from logcache.demo import build_world
from logcache.runbook import queries
from logcache.runbook.steps.registry_export import apply_registry


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _fault(root: Path, kind: str) -> str:
    return next(f["entry"] for f in json.loads((root / "truth.json").read_text())["faults"] if f["kind"] == kind)


@pytest.fixture
def world(tmp_path: Path) -> Path:
    root = tmp_path / "w"
    build_world(str(root), seed=11, scale="tiny", faults={"corrupt-cache": 1})
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the world but the logs and caches: what a refused command must not touch."""
    keep = ("registry", "work", "campaign.state.toml", "campaign.state.toml.bak")
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and str(p.relative_to(root)).startswith(keep)}


def _in_git(registry: Path) -> None:
    git(registry, "init", "-q", "-b", "main")
    git(registry, "add", "-A")
    git(registry, "commit", "-q", "-m", "registry before the refresh")


def test_apply_outside_git_is_refused_in_one_line_and_writes_nothing(world: Path) -> None:
    campaign = world / "campaign.toml"
    assert logcache("run", campaign).returncode == 3  # exported, waiting at the image
    before = _snapshot(world)
    refused = logcache("registry", "export", campaign, "--apply", "--yes")
    assert refused.returncode == 2 and refused.stdout == ""
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("logcache: ") and "not in a git work tree" in last and "--out FILE" in last
    assert _snapshot(world) == before
    with open_campaign(campaign) as opened, pytest.raises(Exception, match="not in a git work tree"):
        apply_registry(opened)
    assert _snapshot(world) == before


def test_apply_with_unchecked_rows_needs_yes_and_commits_the_exclusions(world: Path) -> None:
    campaign = world / "campaign.toml"
    registry = world / "registry"
    _in_git(registry)
    assert logcache("run", campaign).returncode == 3
    corrupt = _fault(world, "corrupt-cache")
    assert logcache("registry", "leave-out", campaign, corrupt, "--reason", "the nightly run wrote it wrong").returncode == 0
    with open_campaign(campaign, write=False) as opened:
        risks = queries.apply_risks(opened)
    assert risks and all("not yet validated" in r for r in risks)  # nothing validated yet

    before = _snapshot(world)
    refused = logcache("registry", "export", campaign, "--apply")
    assert refused.returncode == 2 and refused.stdout == ""
    last = refused.stderr.strip().splitlines()[-1]
    assert "pairs not yet validated" in last and "--yes" in last
    assert _snapshot(world) == before and git(registry, "branch", "--format=%(refname:short)").split() == ["main"]

    applied = logcache("registry", "export", campaign, "--apply", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert "warning: applying with" in applied.stderr and "branch log-cache-" in applied.stdout
    body = git(registry, "log", "-1", "--format=%B")
    assert f"- {corrupt}: the nightly run wrote it wrong" in body

    # The app's apply goes through apply_registry: the same exclusions in its commit.
    git(registry, "checkout", "-q", "main")
    with open_campaign(campaign) as opened:
        said = apply_registry(opened)
    assert said.startswith("branch log-cache-") and said.split(",")[0].endswith("-2")
    assert f"- {corrupt}: the nightly run wrote it wrong" in git(registry, "log", "-1", "--format=%B")


def test_aggregate_writes_an_html_and_a_junit_report_naming_every_finding_and_exclusion(world: Path) -> None:
    campaign = world / "campaign.toml"
    text = campaign.read_text().replace('format = "scala"\n', 'format = "scala"\npr_command = "echo report: {report}; echo https://example.com/pr/1"\n')
    campaign.write_text(text)
    corrupt = _fault(world, "corrupt-cache")
    first = logcache("run", campaign, "--yes")
    assert first.returncode == 3, first.stdout + first.stderr
    html_path = world / "cache-validations.html"
    assert f"[pr] report: {html_path}" in first.stdout  # the PR hook got {report}
    entries = ["/".join(line.split(",")[:2]) for line in (world / "cache-entries.csv").read_text().splitlines()[1:]]
    healthy = next(e for e in entries if e != corrupt)
    reason = "owner asked to wait <until> Q3 & more"
    assert logcache("registry", "leave-out", campaign, healthy, "--reason", reason).returncode == 0
    assert logcache("step", "done", campaign, "build-image", "--note", "demo:1").returncode == 0
    assert logcache("run", campaign).returncode == 1

    aggregated = logcache("aggregate", campaign)
    assert aggregated.returncode == 1
    assert f"report: {html_path} (JUnit XML: {world / 'cache-validations.junit.xml'})" in aggregated.stdout
    failures = json.loads(logcache("failures", campaign, "--json").stdout)
    invalid = {f"{r['dataset']}/{r['validation']}": r for r in failures["invalid"]}
    assert invalid and len(invalid) == 1

    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page.replace("https://example.com", "")
    assert "<link" not in page and "src=" not in page
    for pair, row in invalid.items():
        assert f"{pair.split('/')[0]}/{pair.split('/')[1]}: invalid" in page
        assert str(row["sample"][0]["e"]) in page  # its sample datoms
    assert healthy in page and "owner asked to wait &lt;until&gt; Q3 &amp; more" in page

    root = ET.parse(world / "cache-validations.junit.xml").getroot()
    (suite,) = root.findall("testsuite")
    cases = {f"{c.get('classname')}/{c.get('name')}": c for c in suite.findall("testcase")}
    assert len(cases) == len(entries) == int(suite.get("tests", "0"))
    assert {p for p, c in cases.items() if c.find("failure") is not None} == set(invalid)
    skipped = [c.find("skipped") for c in cases.values() if c.find("skipped") is not None]
    assert len(skipped) == 1 and reason in (skipped[0].get("message") or "")
    assert suite.get("failures") == "1" and suite.get("skipped") == "1"
    assert not list(world.glob(".cache-validations*.tmp"))  # written atomically, nothing left over


COSTLY = """
submit = "echo job 1 created"
job_id_pattern = "job (\\\\S+) created"
scale_up = "echo up {label} >> scaled"
scale_down = "echo down {label} >> scaled"
nodes = 40
hourly_cost = 0.4
"""


def _costly(world: Path) -> Path:
    """The world's campaign with a PR hook and validation jobs on machines (that never
    run in these tests: every run here stops before them)."""
    campaign = world / "campaign.toml"
    text = campaign.read_text().replace('format = "scala"\n', 'format = "scala"\npr_command = "echo https://example.com/pr/1 >> opened; echo https://example.com/pr/1"\n')
    text = text.replace('backend = "local"', 'backend = "command"' + COSTLY)
    campaign.write_text(text)
    return campaign


def test_a_run_without_a_terminal_that_would_spend_or_publish_needs_yes_and_writes_nothing(world: Path) -> None:
    campaign = _costly(world)
    before = {p.name for p in world.iterdir()}
    refused = logcache("run", campaign)
    assert refused.returncode == 2 and refused.stdout == ""
    (line,) = refused.stderr.strip().splitlines()
    assert "registry-export" in line and "validate" in line and "--yes" in line and "[run] confirm = false" in line
    assert {p.name for p in world.iterdir()} == before  # no state, no lock, no entries

    campaign.write_text(campaign.read_text() + "\n[run]\nconfirm = false\n")
    went = logcache("run", campaign)
    assert went.returncode == 3 and "stopped at build-image" in went.stdout, went.stdout + went.stderr
    assert (world / "opened").read_text() == "https://example.com/pr/1\n"


def test_the_run_asks_once_with_parcels_nodes_cost_and_branch_and_a_no_stops_it_cleanly(world: Path) -> None:
    from logcache.runbook.driver import Stop, run_campaign
    from state.model import StepName, StepStatus

    campaign = _costly(world)
    asked: list[str] = []
    with open_campaign(campaign) as opened:
        outcome = run_campaign(opened, str(campaign), confirm=lambda q: asked.append(q) or False)
        assert outcome.stop is Stop.DECLINED and outcome.stopped_at is StepName.REGISTRY_EXPORT
        assert opened.state.step(StepName.REGISTRY_EXPORT).status is StepStatus.PENDING
        assert opened.state.step(StepName.COPY).status is StepStatus.DONE  # what costs nothing ran
    (question,) = asked
    assert "open a PR from branch log-cache-" in question
    assert "start 3 parcel jobs on 40 nodes each" in question and "machine-hours" in question and "cost " in question
    assert not (world / "opened").exists() and not (world / "scaled").exists()

    with open_campaign(campaign) as opened:
        outcome = run_campaign(opened, str(campaign), confirm=lambda q: asked.append(q) or True)
    assert outcome.stop is Stop.MANUAL and len(asked) == 2
    assert (world / "opened").exists()


def test_on_a_terminal_the_run_asks_and_a_no_exits_3(world: Path) -> None:
    campaign = _costly(world)
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "logcache", "run", str(campaign)], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    os.close(slave)
    try:
        os.write(master, b"n\n")
        out, err = proc.communicate(timeout=300)
    finally:
        os.close(master)
    assert proc.returncode == 3, out + err
    assert "this run will open a PR from branch log-cache-" in out and "go on? [y/N]" in err
    assert "not confirmed" in out and not (world / "opened").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["stauts", "C"], "did you mean `status`?"),
        (["registry", "exprot", "C"], "did you mean `export`?"),
        (["status", "C", "--jsno"], "did you mean `--json`?"),
        (["failures", "C", "--alll"], "did you mean `--all`?"),
    ],
)
def test_a_typo_gets_the_closest_name_in_one_line(args: list[str], said: str) -> None:
    done = logcache(*args)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.endswith(said) and "choose from" not in line


def test_show_without_a_pair_says_what_is_missing(world: Path) -> None:
    done = logcache("show", world / "campaign.toml")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "DATASET/VALIDATION" in line and f"logcache show {world / 'campaign.toml'} DATASET/VALIDATION" in line
    assert "arguments are required: campaign" not in line


def test_every_json_document_carries_its_schema(world: Path) -> None:
    campaign = world / "campaign.toml"
    commands = [
        ["transactions", campaign, "--pick", "--json"],
        ["discover", campaign, "--json"],
        ["copy", campaign, "--json"],
        ["plan", campaign, "--parcel-count", "2", "--json"],
        ["run", campaign, "--json"],
        ["status", campaign, "--json"],
    ]
    assert logcache("step", "done", campaign, "build-image", "--note", "demo:1").returncode == 0
    commands += [["validate", campaign, "--json"], ["aggregate", campaign, "--json"], ["failures", campaign, "--json"]]
    for args in commands:
        done = logcache(*args)
        assert done.returncode in (0, 1, 3), (args, done.stderr)
        assert json.loads(done.stdout)["schema"] == 1, args
    pair = json.loads(logcache("failures", campaign, "--json").stdout)["invalid"][0]
    shown = logcache("show", campaign, f"{pair['dataset']}/{pair['validation']}", "--json")
    assert json.loads(shown.stdout)["schema"] == 1
    lines = logcache("log", campaign, "--json").stdout.splitlines()
    assert lines and all(json.loads(line)["schema"] == 1 for line in lines)
