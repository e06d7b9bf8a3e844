"""The operator's way through a faulted refresh in the app (issue 22): after invalid rows
the header and the Failed pane name the fix with its key, never a CLI command; a
dataset a re-copy cannot fix is left out with a reason and the PR diff pane shows it;
apply says what it would put in the registry unchecked, and is refused outside git;
run all asks its question before a hook that publishes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from test_tui import idle, text
from test_tui_operator import told
from textual.widgets import DataTable

from logcache.cli import main as cli
from logcache.demo import build_world
from state.model import StepName, StepStatus
from state.persist import load_state
from tui.app import LogcacheApp
from tui.modals import ConfirmModal, PromptModal
from tui.signals import StopSignalled
from tui.widgets.failed_pane import PAIR_PREFIX, FailedPane

SIZE = (160, 40)
# A CLI command in what the app says: `logcache <command>`.
CLI_COMMAND = re.compile(r"\blogcache (run|copy|validate|registry|aggregate|failures|step|status)\b")


def fault(root: Path, kind: str) -> str:
    truth = json.loads((root / "truth.json").read_text())
    return next(f["entry"] for f in truth["faults"] if f["kind"] == kind)


@pytest.fixture
def faulted(tmp_path: Path) -> Path:
    root = tmp_path / "w"
    build_world(str(root), seed=11, scale="tiny", faults={"corrupt-cache": 1, "missing-copy": 1})
    return root


async def until(pilot, condition: Callable[[], object], seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until `condition` holds or `seconds` pass; the caller asserts."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await pilot.pause(0.1)


async def answer_prompt(pilot, app: LogcacheApp, answer: str) -> None:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: isinstance(app.screen, PromptModal), 5)
    assert isinstance(app.screen, PromptModal), type(app.screen)
    await pilot.press(*answer, "enter")


async def test_a_faulted_demo_reaches_a_mergeable_patch_in_the_app_with_its_exclusion(faulted: Path) -> None:
    corrupt, lost = fault(faulted, "corrupt-cache"), fault(faulted, "missing-copy")
    app = LogcacheApp(faulted / "campaign.toml")
    async with app.run_test(size=SIZE) as pilot:
        said = told(app)
        await pilot.press("r")
        await idle(pilot, app)
        await answer_prompt(pilot, app, "quay-1")  # the image, a manual step; run all goes on
        await idle(pilot, app)
        state = app.campaign.state
        # The run re-copied what a re-copy fixes: the lost copy is valid again, the corrupt
        # cache was copied again and is still invalid (its source is wrong).
        assert state.dataset(corrupt).recopies == 1
        assert state.step(StepName.AGGREGATE).status is StepStatus.FAILED
        await pilot.pause(0.5)
        header = text(app, "#header")
        assert "Aggregate" not in header and "leave 1 datasets out of the patch (l in 3 Failed)" in header, header
        assert not [s for s in said if CLI_COMMAND.search(s)], said

        await pilot.press("3")
        await pilot.pause(0.5)
        actions = text(app, "#failed-actions")
        assert actions.startswith("l ") and corrupt in actions and "logcache" not in actions, actions
        table = app.query_one(FailedPane).query_one(DataTable)
        rows = [str(k.value) for k in table.rows]
        pair = next(k for k in rows if k.startswith(PAIR_PREFIX) and k.removeprefix(PAIR_PREFIX).startswith(corrupt.split("/")[0]))
        table.move_cursor(row=rows.index(pair))
        await pilot.press("l")
        await pilot.pause(0.2)
        assert isinstance(app.screen, PromptModal) and "Why?" in app.screen.question
        await pilot.press("enter")  # no reason: refused inline, the dialog stays
        assert isinstance(app.screen, PromptModal) and "a reason" in app.screen.refusal
        await pilot.press(*"the nightly run wrote it wrong", "enter")
        await idle(pilot, app)
        assert {x.name: x.reason for x in app.campaign.state.exclusions} == {corrupt: "the nightly run wrote it wrong"}

        await pilot.press("r")  # exports again, aggregates: all valid, then the merge
        await idle(pilot, app)
        assert app.campaign.state.step(StepName.AGGREGATE).status is StepStatus.DONE
        assert app.campaign.state.aggregate is not None and app.campaign.state.aggregate.excluded == 1
        await until(pilot, lambda: isinstance(app.screen, PromptModal), 3)
        assert isinstance(app.screen, PromptModal)  # the merge's URL
        await pilot.press("escape")
        await pilot.press("4")
        await pilot.pause(0.5)
        assert "1 excluded" in text(app, "#diff-summary")
        excluded = text(app, "#diff-excluded")
        assert f"- {corrupt}: the nightly run wrote it wrong" in excluded and "previous cache entry" in excluded
        assert not [s for s in said if CLI_COMMAND.search(s)], said
        await pilot.press("q")
    state = load_state(faulted / "campaign.state.toml")
    patch = Path(state.patch_path or "")
    body = patch.read_text()
    assert f"- {corrupt}: the nightly run wrote it wrong" in body
    changed = [line for line in body[body.index("diff --git") :].splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert not [line for line in changed if f'"{corrupt}"' in line]
    assert any(f'"{lost}"' in line for line in changed if line.startswith("+"))
    git(faulted / "registry", "apply", "--check", str(patch))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def exported(faulted: Path) -> Path:
    campaign = faulted / "campaign.toml"
    assert cli(["discover", str(campaign)]) == 0
    assert cli(["copy", str(campaign)]) == 0
    assert cli(["registry", "export", str(campaign)]) == 0
    return campaign


async def test_apply_outside_git_is_refused_in_a_toast_with_no_dialog(exported: Path) -> None:
    registry = exported.parent / "registry"
    before = {p: p.read_bytes() for p in registry.rglob("*") if p.is_file()}
    app = LogcacheApp(exported)
    async with app.run_test(size=SIZE) as pilot:
        said = told(app)
        await pilot.press("a")
        await until(pilot, lambda: said, 5)
        assert not isinstance(app.screen, ConfirmModal)
        (line,) = said
        assert "not in a git work tree" in line and "\n" not in line
        await pilot.press("q")
    assert {p: p.read_bytes() for p in registry.rglob("*") if p.is_file()} == before


async def test_apply_warns_about_rows_not_yet_validated_and_asks(exported: Path) -> None:
    registry = exported.parent / "registry"
    git(registry, "init", "-q", "-b", "main")
    git(registry, "add", "-A")
    git(registry, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "before")
    app = LogcacheApp(exported)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), 5)
        assert isinstance(app.screen, ConfirmModal)
        assert "pairs not yet validated" in app.screen.question and app.screen.yes == "Apply anyway"
        await pilot.press("n")
        await pilot.pause(0.2)
        assert not app.busy
        await pilot.press("q")
    assert git(registry, "branch", "--format=%(refname:short)").split() == ["main"]


def with_pr_hook(faulted: Path, extra: str = "") -> Path:
    campaign = faulted / "campaign.toml"
    hook = 'pr_command = "echo https://example.com/pr/1 >> opened; echo https://example.com/pr/1"\n'
    campaign.write_text(campaign.read_text().replace('format = "scala"\n', 'format = "scala"\n' + hook) + extra)
    return campaign


async def test_run_all_asks_once_before_the_pr_hook_and_a_no_stops_it_with_a_log_line(faulted: Path) -> None:
    app = LogcacheApp(with_pr_hook(faulted))
    async with app.run_test(size=SIZE) as pilot:
        for answer in ("n", "y"):
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal), 30)
            assert isinstance(app.screen, ConfirmModal)
            assert "open a PR from branch log-cache-" in app.screen.question
            assert app.busy == "run all"  # the work waits for the answer
            await pilot.press(answer)
            await idle(pilot, app)
            if answer == "n":
                state = app.campaign.state
                assert state.step(StepName.REGISTRY_EXPORT).status is StepStatus.PENDING
                assert state.step(StepName.COPY).status is StepStatus.DONE
                assert not (faulted / "opened").exists()
                assert any("not confirmed" in str(entry[1] if isinstance(entry, tuple) else entry.text) for entry in app.live.log)
        # Yes: the PR opened, the run went on to the image (its prompt is up).
        assert (faulted / "opened").read_text() == "https://example.com/pr/1\n"
        assert isinstance(app.screen, PromptModal)
        await pilot.press("escape")
        await pilot.press("q")


async def test_run_all_does_not_ask_when_the_campaign_says_so(faulted: Path) -> None:
    app = LogcacheApp(with_pr_hook(faulted, "\n[run]\nconfirm = false\n"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await idle(pilot, app)
        assert (faulted / "opened").exists()
        assert isinstance(app.screen, PromptModal)  # the image: no question before it
        await pilot.press("escape")
        await pilot.press("q")


async def test_a_stop_while_the_run_asks_never_hangs(faulted: Path) -> None:
    """A SIGTERM (what a service manager or a dropped session sends) while the question
    is up: the work takes the cancel for a no, and the app exits 130."""
    app = LogcacheApp(with_pr_hook(faulted))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), 30)
        assert isinstance(app.screen, ConfirmModal) and "open a PR" in app.screen.question
        app.post_message(StopSignalled(signal.SIGTERM))  # what the app's handler posts
        await until(pilot, lambda: not app.is_running, 10)
        assert not app.is_running
    assert app.return_code == 130
    assert not (faulted / "opened").exists()
    assert load_state(faulted / "campaign.state.toml").step(StepName.REGISTRY_EXPORT).status is StepStatus.PENDING
