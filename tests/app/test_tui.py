"""The app, driven with Textual's pilot through whole demo campaigns."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from support.servers import CopyCampaign, listing
from textual.widgets import DataTable, OptionList, Static

from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from state.model import StepName, StepStatus
from state.persist import load_state
from tui.app import LogcacheApp
from tui.modals import ConfirmModal, PromptModal
from tui.widgets.copy_pane import CopyPane
from tui.widgets.failed_pane import FailedPane
from tui.widgets.results_pane import ResultsPane
from tui.widgets.validators_pane import ValidatorsPane

SIZE = (120, 40)


async def idle(pilot, app: LogcacheApp, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app's step worker is done (and its end has been handled)."""
    deadline = time.monotonic() + timeout
    await pilot.pause(0.05)
    while app.busy and time.monotonic() < deadline:
        await pilot.pause(0.1)
    assert not app.busy, f"still busy with {app.busy}"
    await pilot.pause(0.3)


def text(app: LogcacheApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def status(app: LogcacheApp, step: StepName) -> StepStatus:
    assert app.campaign is not None
    return app.campaign.state.step(step).status


async def run_highlighted(pilot, app: LogcacheApp, expect: StepName) -> None:  # type: ignore[no-untyped-def]
    checklist = app.query_one("#checklist", OptionList)
    assert checklist.highlighted_option is not None and checklist.highlighted_option.id == expect.value
    checklist.focus()
    await pilot.press("enter")


@pytest.fixture
def world(tmp_path: Path) -> Path:
    root = tmp_path / "w"
    build_world(str(root), seed=7, scale="tiny", faults={"missing-copy": 2})
    return root


async def test_a_whole_campaign_with_faults_by_keys(world: Path) -> None:
    app = LogcacheApp(world / "campaign.toml")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "next: Pick the nightly run" in text(app, "#header")

        await run_highlighted(pilot, app, StepName.PICK_TRANSACTION)
        await idle(pilot, app)
        assert status(app, StepName.PICK_TRANSACTION) is StepStatus.DONE
        assert app.campaign is not None and app.campaign.state.transaction_id
        assert f"tx {app.campaign.state.transaction_id[:8]}" in text(app, "#header")

        await run_highlighted(pilot, app, StepName.DISCOVER)
        await idle(pilot, app)
        entries = read_entries(world / CSV_NAME)
        assert status(app, StepName.DISCOVER) is StepStatus.DONE and len(entries) == 36
        await pilot.press("4")
        await pilot.pause(0.3)
        assert "added" in text(app, "#diff-summary") and "changed" in text(app, "#diff-summary")

        await pilot.press("1")
        await run_highlighted(pilot, app, StepName.COPY)
        await idle(pilot, app)
        assert status(app, StepName.COPY) is StepStatus.DONE
        app.refresh_views()
        copy_table = app.query_one(CopyPane).query_one(DataTable)
        assert copy_table.row_count == 36
        assert {str(copy_table.get_cell(k, "status")) for k in copy_table.rows} == {"verified"}
        await pilot.pause(0.1)
        # Cells that grew since their row was added ("pending" -> "verified") widen their
        # column: no value is cut.
        for key, column in copy_table.columns.items():
            assert column.content_width >= max(len(str(copy_table.get_cell(r, key))) for r in copy_table.rows), key.value
        assert "72/72 objects" in text(app, "#copy-summary") and " 0 obj/s" not in text(app, "#copy-summary")

        await run_highlighted(pilot, app, StepName.REGISTRY_EXPORT)
        await idle(pilot, app)
        patch = Path(app.campaign.state.patch_path or "")
        assert patch.is_file()
        registry = Path(app.campaign.config.registry)
        subprocess.run(["git", "apply", "--check", str(patch)], cwd=registry.parent, check=True)

        await run_highlighted(pilot, app, StepName.BUILD_IMAGE)
        await pilot.pause(0.2)
        assert isinstance(app.screen, PromptModal)
        await pilot.press(*"quay-a8334c1", "enter")
        await idle(pilot, app)
        assert status(app, StepName.BUILD_IMAGE) is StepStatus.DONE
        assert app.campaign.state.step(StepName.BUILD_IMAGE).note == "quay-a8334c1"

        await pilot.press("2")
        await run_highlighted(pilot, app, StepName.VALIDATE)
        await idle(pilot, app)
        assert status(app, StepName.VALIDATE) is StepStatus.DONE, [n.message for n in app._notifications]
        app.refresh_views()
        parcels = app.query_one(ValidatorsPane).query_one(DataTable)
        assert parcels.row_count == 3
        assert {str(parcels.get_cell(k, "status")) for k in parcels.rows} == {"done"}
        assert "2 invalid (missing-path: 2)" in app.campaign.state.step(StepName.VALIDATE).note

        # The two lost copies are offered for a re-copy at once.
        assert isinstance(app.screen, ConfirmModal) and "2 failed paths" in app.screen.question
        await pilot.press("y")
        await idle(pilot, app)
        assert status(app, StepName.RECOPY_FAILED) is StepStatus.DONE
        await pilot.press("3")
        await pilot.pause(0.3)
        failed = app.query_one(FailedPane).query_one(DataTable)
        assert failed.row_count == 2
        assert {str(failed.get_cell(k, "state")) for k in failed.rows} == {"revalidated"}
        assert "0 open of 2" in text(app, "#failed-summary")

        await run_highlighted(pilot, app, StepName.AGGREGATE)
        await idle(pilot, app)
        assert status(app, StepName.AGGREGATE) is StepStatus.DONE
        assert "all valid" in text(app, "#header")
        await pilot.press("5")
        await pilot.pause(0.3)
        assert "72/72 valid" not in text(app, "#results-summary")
        assert "36/36 valid: all valid" in text(app, "#results-summary")
        assert app.query_one(ResultsPane).query_one(DataTable).row_count == 36

        await run_highlighted(pilot, app, StepName.MERGE_PR)
        await pilot.press(*"https://git.example/pr/1", "enter")
        await idle(pilot, app)
        assert status(app, StepName.MERGE_PR) is StepStatus.DONE
        await pilot.press("q")
    state = load_state(world / "campaign.state.toml")
    assert all(s.status is StepStatus.DONE for s in state.steps)
    assert not (world / "campaign.lock").exists() or "pid" not in (world / "campaign.lock").read_text()


async def test_quit_mid_copy_then_reopen_resumes_without_recopying(copy_campaign: CopyCampaign) -> None:
    client, bucket, proxy = copy_campaign.client, copy_campaign.bucket, copy_campaign.proxy
    proxy.hold_after = copy_campaign.total // 5
    app = LogcacheApp(copy_campaign.path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#checklist", OptionList).highlighted = list(StepName).index(StepName.COPY)
        await run_highlighted(pilot, app, StepName.COPY)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not proxy.holding:
            await pilot.pause(0.05)
        await pilot.press("q")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await pilot.pause(0.2)
        proxy.release()  # the copies in flight finish; no new one starts
        await pilot.pause(0.5)
    await asyncio.sleep(0.5)
    before = listing(client, bucket, "permanent/")
    assert copy_campaign.total // 5 <= len(before) <= copy_campaign.total // 5 + 2
    state = load_state(copy_campaign.path.with_name("campaign.state.toml"))
    assert state.step(StepName.COPY).status is StepStatus.PENDING and "interrupted" in state.step(StepName.COPY).note

    app = LogcacheApp(copy_campaign.path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.campaign is not None and not app.campaign.read_only
        app.query_one("#checklist", OptionList).highlighted = list(StepName).index(StepName.COPY)
        await run_highlighted(pilot, app, StepName.COPY)
        await idle(pilot, app)
        assert status(app, StepName.COPY) is StepStatus.DONE
        note = app.campaign.state.step(StepName.COPY).note
        await pilot.press("q")
    assert f"{copy_campaign.total - len(before)} objects copied, {len(before)} already there" in note
    assert listing(client, bucket, "permanent/cache/") == listing(client, bucket, "ephemeral/")


async def test_a_campaign_locked_by_someone_else_opens_read_only(world: Path) -> None:
    from logcache.campaign import open_campaign

    with open_campaign(world / "campaign.toml"):
        app = LogcacheApp(world / "campaign.toml")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert "read-only: driven by" in text(app, "#header")
            await pilot.press("r")
            await pilot.pause(0.2)
            assert not app.busy
    assert not (world / "campaign.state.toml").exists()


async def test_a_stuck_parcel_found_through_its_heartbeat_is_split_by_key(world: Path) -> None:
    from logcache.cli import main
    from logcache.storage import open_store
    from logcache.validation.heartbeat import Heartbeat, key_of
    from state.model import ParcelState, ParcelStatus
    from state.persist import save_state

    campaign = world / "campaign.toml"
    assert main(["discover", str(campaign)]) == 0
    assert main(["copy", str(campaign)]) == 0
    state = load_state(world / "campaign.state.toml")
    state.parcels = [ParcelState("0", "command", "pid 4121", ParcelStatus.RUNNING)]
    save_state(world / "campaign.state.toml", state)
    # A parcel started by an earlier session whose job hangs: its heartbeat is an hour old.
    beat = Heartbeat("0", "running", "raw-feed-s0/log-validation", 1, 12, 10, 100, "2026-11-25T08:00:00.000Z", "2026-11-25T07:59:00.000Z", "worker-7", 4121)
    open_store(str(world / "results")).write_bytes(key_of("0"), json.dumps(asdict(beat)).encode())

    app = LogcacheApp(campaign)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and app.campaign.state.parcels[0].status is not ParcelStatus.STUCK:  # type: ignore[union-attr]
            await pilot.pause(0.2)
        app.refresh_views()
        table = app.query_one(ValidatorsPane).query_one(DataTable)
        assert str(table.get_cell("0", "status")) == "stuck"
        assert "split a stuck parcel" in text(app, "#parcels-summary")
        table.focus()
        await pilot.press("x")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(p.parcel_id.startswith("0-split1-") and p.status is ParcelStatus.DONE for p in app.campaign.state.parcels):  # type: ignore[union-attr]
            await pilot.pause(0.2)
        await pilot.pause(1.5)
        labels = {p.parcel_id: p.status for p in app.campaign.state.parcels}  # type: ignore[union-attr]
        await pilot.press("q")
    assert labels["0-split1-0"] is ParcelStatus.DONE and labels["0-split1-1"] is ParcelStatus.DONE
    from logcache.validation.orchestrate import plan_parcels

    parcel = plan_parcels(read_entries(world / CSV_NAME), 3, "size")[0]
    results = sorted(p.relative_to(world / "results").parent.as_posix() for p in (world / "results").rglob("*.parquet"))
    assert results == sorted(t.name for t in parcel.tasks), "exactly the stuck parcel's work ran again"


def test_tui_and_demo_refuse_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from logcache.cli import main

    assert main(["tui", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.toml" in err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert main(["demo", str(busy)]) == 2
    assert capsys.readouterr().err == f"logcache: {busy} is not empty and holds no campaign.toml; pick another DIR\n"
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


def folder_fingerprint(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


async def test_read_only_session_starts_no_work_from_any_key_or_palette_command(world: Path) -> None:
    from logcache.campaign import open_campaign
    from tui.main_screen import MainScreen
    from tui.widgets.checklist import Checklist

    with open_campaign(world / "campaign.toml"):
        before = folder_fingerprint(world)
        app = LogcacheApp(world / "campaign.toml")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            refusals = 0
            told: list[str] = []
            notify = app.notify
            app.notify = lambda message, *a, **k: (told.append(message), notify(message, *a, **k))[1]  # type: ignore[method-assign]

            async def refused(what: str) -> None:
                nonlocal refusals
                await pilot.pause(0.05)
                assert not app.busy and not any(w.group == "work" for w in app.workers), what
                assert isinstance(app.screen, MainScreen), f"{what} opened {app.screen}"
                said = [m for m in told if m.startswith("read-only: ")]
                assert len(said) > refusals, f"{what} did not say why nothing started"
                refusals = len(said)

            # Every key that starts work, from the screen and from each pane that shows it.
            for tab, keys in (("copy", "rceax"), ("validators", "x"), ("failed", "c"), ("diff", "ea")):
                await pilot.press({"copy": "1", "validators": "2", "failed": "3", "diff": "4"}[tab])
                await pilot.pause(0.05)
                shown = footer_text(app)
                assert "Quit" in shown and not any(w in shown for w in ("Run all", "Re-copy", "Export", "Apply", "Split")), shown
                for key in keys:
                    await pilot.press(key)
                    await refused(f"{key} in {tab}")
            # Enter on every step of the checklist, manual ones included.
            for name in StepName:
                app.query_one(Checklist).select(name)
                app.query_one("#checklist", OptionList).focus()
                await pilot.press("enter")
                await refused(f"enter on {name.value}")
            # Every palette command that starts work.
            commands = [c for c in app.get_system_commands(app.screen) if c.title.startswith(("Run all", "Re-copy", "Export", "Apply", "Split", "Step: "))]
            assert len(commands) == 6 + len(StepName)
            for command in commands:
                command.callback()
                await refused(command.title)
            assert "Run all" not in footer_text(app)
        after = folder_fingerprint(world)
    assert after == before


def footer_text(app: LogcacheApp) -> str:
    from textual.widgets import Footer

    return " ".join(str(k.render()) for k in app.screen.query_one(Footer).children)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_tui_and_demo_refuse_a_broken_campaign_folder_in_one_line(world: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    campaign = world / "campaign.toml"
    state_file = world / "campaign.state.toml"
    state_file.write_text("steps = [\n", encoding="utf-8")
    for args in (["tui", str(campaign)], ["demo", str(world)]):
        done = run_cli(*args)
        assert done.returncode == 2, done
        assert done.stderr.count("\n") == 1 and "campaign.state.toml" in done.stderr and "Traceback" not in done.stderr, done.stderr
    state_file.unlink()

    (world / "campaign.lock").unlink(missing_ok=True)
    (world / "campaign.lock").mkdir()
    for args in (["tui", str(campaign)], ["demo", str(world)]):
        done = run_cli(*args)
        assert done.returncode == 2, done
        assert done.stderr.count("\n") == 1 and "campaign.lock" in done.stderr and "Traceback" not in done.stderr, done.stderr
    (world / "campaign.lock").rmdir()

    # A folder the operator may not write (simulated: the tests may run as root, whom
    # permissions do not stop).
    import state.lock
    from logcache.cli import main

    real_open = state.lock.os.open

    def refuse(path: object, *args: object, **kwargs: object) -> int:
        if str(path).startswith(str(world)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(state.lock.os, "open", refuse)
    before = folder_fingerprint(world)
    assert main(["tui", str(campaign)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Permission denied" in err and "campaign.lock" in err
    assert folder_fingerprint(world) == before


def test_demo_says_where_it_opens_and_fresh_starts_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import tui.subcommands

    opened: list[Path] = []
    monkeypatch.setattr(tui.subcommands, "open_app", lambda campaign, break_lock=False: opened.append(campaign) or 0)
    from logcache.cli import main

    folder = tmp_path / "demo"
    assert main(["demo", str(folder)]) == 0
    (folder / "campaign.state.toml").write_text("", encoding="utf-8")
    assert main(["demo", str(folder)]) == 0
    assert (folder / "campaign.state.toml").exists(), "a plain demo resumes"
    assert main(["demo", str(folder), "--fresh"]) == 0
    assert not (folder / "campaign.state.toml").exists() and (folder / "campaign.toml").exists()
    assert opened == [folder / "campaign.toml"] * 3
    out = capsys.readouterr().out
    assert f"building a demo world in {folder}" in out and f"resuming the demo in {folder} (--fresh starts over)" in out
    assert f"removed the demo world in {folder}" in out
    # --fresh removes demo worlds only.
    real = tmp_path / "real"
    real.mkdir()
    (real / "campaign.toml").write_text("[campaign]\nname = 'prod'\n", encoding="utf-8")
    assert main(["demo", str(real), "--fresh"]) == 2
    assert (real / "campaign.toml").exists() and "not a demo world" in capsys.readouterr().err


def test_demo_output_and_help(tmp_path: Path) -> None:
    done = run_cli("demo", "--help")
    assert done.returncode == 0 and "logcache/demo-faults" in "".join(done.stdout.split()) and "--fresh" in done.stdout
    done = run_cli("demo", str(tmp_path / "d"), "--scale", "huge")
    assert done.returncode == 2 and "invalid choice: 'huge'" in done.stderr
    assert not (tmp_path / "d").exists(), "a bad scale is refused before anything is built"


async def test_the_app_checklist_shows_every_step_of_the_runbook_table(world: Path) -> None:
    from textual.widgets import OptionList

    from logcache.runbook import RUNBOOK

    app = LogcacheApp(world / "campaign.toml")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        options = app.screen.query_one("#checklist", OptionList)
        shown = [(options.get_option_at_index(i).id, str(options.get_option_at_index(i).prompt)) for i in range(options.option_count)]
        assert [name for name, _ in shown] == [spec.name.value for spec in RUNBOOK]
        for (_, prompt), spec in zip(shown, RUNBOOK):
            assert spec.short_title in prompt
            assert ("(manual)" in prompt) == spec.manual_for(app.campaign.config), prompt
        await pilot.press("q")
