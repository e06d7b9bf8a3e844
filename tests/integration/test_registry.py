"""The cache registry: Scala parse/render, update plan, git-applicable patch, apply on a branch, CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from logcache.cli import main
from logcache.demo import build_world
from logcache.entries import CSV_NAME, CacheEntry, write_entries
from logcache.registry import (
    Registry,
    RegistryError,
    RegistryValue,
    ScalaRegistry,
    Status,
    apply_patch,
    plan_registry,
    plan_update,
    registry_format,
    unified_diff,
)
from state.config import load_config

HEADER = """package common_etl.log_cache

// Hand-written code above the block stays as it is.
object LogCacheEntries {
  // BEGIN LOG CACHE ENTRIES (maintained by `logcache registry export`)
  val entries: Map[String, LogCacheEntry] = Map(
"""
FOOTER = """  )
  // END LOG CACHE ENTRIES

  def lookup(name: String): Option[LogCacheEntry] = entries.get(name)
}
"""


def line(name: str, t: int, path: str) -> str:
    return f'    "{name}" -> LogCacheEntry(t = {t}L, path = "{path}"),\n'


def registry_text(*lines: str, footer: str = FOOTER) -> str:
    return HEADER + "".join(lines) + footer


def entry(name: str, t: int, dest: str) -> CacheEntry:
    dataset, kind = name.split("/")
    return CacheEntry(dataset, kind, t, f"file:///eph/{dest}", f"s3://perm/cache/{dest}", 3, 100)


# A registry with: a (unchanged, odd spacing kept as is), b (new t), c (new path),
# d (retired: kept), and entries adding e.
ODD_A = '    "raw-a-s0/log"->LogCacheEntry( t=10 , path="s3://perm/cache/A" ),\n'
BEFORE = registry_text(
    ODD_A,
    line("raw-b-s0/log", 20, "s3://perm/cache/B"),
    line("raw-c-s0/log", 30, "s3://perm/cache/C"),
    line("raw-d-s0/log", 40, "s3://perm/cache/D"),
)
ENTRIES = [
    entry("raw-a-s0/log", 10, "A"),
    entry("raw-b-s0/log", 25, "B"),
    entry("raw-c-s0/log", 30, "C2"),
    entry("raw-e-s0/log", 50, "E"),
]


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A git identity and no user or system config, so the tests run the same anywhere."""
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test Operator")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "operator@example.com")


def git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def init_repo(repo: Path, files: dict[str, str]) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(text.encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")


def campaign(tmp_path: Path, registry: Path, entries: list[CacheEntry] | None = ENTRIES) -> Path:
    """A campaign whose work dir (with cache-entries.csv) is outside the registry's repository."""
    folder = tmp_path / "campaign"
    folder.mkdir(exist_ok=True)
    path = folder / "campaign.toml"
    path.write_text(
        "\n".join(
            [
                '[campaign]\nwork_dir = "work"',
                '[source]\nurl = "eph"',
                '[destination]\nurl = "perm"',
                '[logs]\nurl = "logs"',
                '[catalog]\nurl = "catalog"',
                f"[registry]\npath = {json.dumps(str(registry))}",
                "",
            ]
        )
    )
    if entries is not None:
        write_entries(folder / "work" / CSV_NAME, entries)
    return path


# --- format -------------------------------------------------------------------------


def test_parse_reads_every_entry_and_render_without_changes_is_identical() -> None:
    fmt = ScalaRegistry()
    reg = fmt.parse(BEFORE)
    assert reg.entries == {
        "raw-a-s0/log": RegistryValue(10, "s3://perm/cache/A"),
        "raw-b-s0/log": RegistryValue(20, "s3://perm/cache/B"),
        "raw-c-s0/log": RegistryValue(30, "s3://perm/cache/C"),
        "raw-d-s0/log": RegistryValue(40, "s3://perm/cache/D"),
    }
    assert fmt.render(BEFORE, reg.entries) == BEFORE


@pytest.mark.parametrize(
    "text",
    [
        BEFORE.replace("\n", "\r\n"),
        BEFORE.rstrip("\n"),
        registry_text(),  # an empty map
        BEFORE.replace("// Hand-written", "\f// Hand-written"),  # a form feed outside the block
    ],
    ids=["crlf", "no-final-newline", "empty-map", "form-feed"],
)
def test_round_trip_keeps_unusual_files_byte_identical(text: str) -> None:
    fmt = registry_format("scala")
    assert fmt.render(text, fmt.parse(text).entries) == text


def test_render_sorts_and_writes_new_lines_in_the_file_style() -> None:
    crlf = BEFORE.replace("\n", "\r\n")
    new = ScalaRegistry().render(crlf, {"raw-0-s0/log": RegistryValue(7, "s3://x/0"), "raw-a-s0/log": RegistryValue(10, "s3://perm/cache/A")})
    assert new == registry_text(line("raw-0-s0/log", 7, "s3://x/0"), ODD_A).replace("\n", "\r\n")


def test_a_last_entry_without_comma_gets_one_before_a_new_entry_follows() -> None:
    text = registry_text(line("raw-a-s0/log", 1, "s3://a").replace("),\n", ")\n"))
    new = ScalaRegistry().render(text, {"raw-a-s0/log": RegistryValue(1, "s3://a"), "raw-b-s0/log": RegistryValue(2, "s3://b")})
    assert new == registry_text(line("raw-a-s0/log", 1, "s3://a"), line("raw-b-s0/log", 2, "s3://b"))


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        (BEFORE.replace('"raw-b-s0/log" ->', '"raw-b-s0/log" =>'), ":8:", "registry entry"),
        (BEFORE.replace('path = "', "path = ", 1), ":8:", "registry entry"),
        (BEFORE.replace("20L", "twentyL"), ":8:", "registry entry"),
        (BEFORE.replace("raw-c-s0", "raw-b-s0"), ":9:", "appears twice"),
        (BEFORE.replace("  // BEGIN LOG CACHE ENTRIES", "  // entries"), "", "BEGIN LOG CACHE ENTRIES"),
        (BEFORE.replace("  // END LOG CACHE ENTRIES\n", ""), "", "END LOG CACHE ENTRIES"),
        (BEFORE.replace("  )\n", ""), ":10:", "closing `)`"),
        (BEFORE.replace("Map(\n", "Map(\n\n"), ":7:", "registry entry"),
    ],
    ids=["arrow", "unquoted-path", "bad-t", "duplicate", "no-begin", "no-end", "no-closer", "blank-line"],
)
def test_malformed_registry_names_file_and_line(text: str, where: str, what: str) -> None:
    with pytest.raises(RegistryError) as info:
        ScalaRegistry().parse(text, "etl/LogCacheEntries.scala")
    message = str(info.value)
    assert message.startswith("etl/LogCacheEntries.scala" + where)
    assert what in message
    assert "\n" not in message


def test_render_refuses_a_path_that_would_break_the_scala_string() -> None:
    with pytest.raises(RegistryError, match="quotes"):
        ScalaRegistry().render(BEFORE, {"raw-a-s0/log": RegistryValue(1, 's3://x/"y')})


# --- plan ---------------------------------------------------------------------------


def test_plan_classifies_each_name_and_keeps_unchanged_lines_byte_identical() -> None:
    fmt = ScalaRegistry()
    update = plan_update(fmt.parse(BEFORE), ENTRIES)
    assert update.summary() == "1 added, 2 changed, 1 unchanged, 1 kept"
    assert [(c.name, c.status) for c in update.changes] == [
        ("raw-a-s0/log", Status.UNCHANGED),
        ("raw-b-s0/log", Status.CHANGED),
        ("raw-c-s0/log", Status.CHANGED),
        ("raw-d-s0/log", Status.KEPT),
        ("raw-e-s0/log", Status.ADDED),
    ]
    new = fmt.render(BEFORE, update.target)
    assert new == registry_text(
        ODD_A,
        line("raw-b-s0/log", 25, "s3://perm/cache/B"),
        line("raw-c-s0/log", 30, "s3://perm/cache/C2"),
        line("raw-d-s0/log", 40, "s3://perm/cache/D"),
        line("raw-e-s0/log", 50, "s3://perm/cache/E"),
    )
    # Planning against the result again changes nothing.
    again = plan_update(fmt.parse(new), ENTRIES)
    assert again.is_noop and fmt.render(new, again.target) == new


def test_plan_is_independent_of_entry_order_and_rejects_conflicting_duplicates() -> None:
    current = ScalaRegistry().parse(BEFORE)
    assert plan_update(current, ENTRIES) == plan_update(current, list(reversed(ENTRIES)))
    with pytest.raises(RegistryError, match="twice"):
        plan_update(Registry({}), [entry("raw-a-s0/log", 1, "A"), entry("raw-a-s0/log", 2, "A")])


# --- diff and export ------------------------------------------------------------------


def test_diff_is_stable_and_rooted_at_the_git_work_tree(tmp_path: Path) -> None:
    repo = tmp_path / "etl"
    init_repo(repo, {"src/LogCacheEntries.scala": BEFORE})
    config = load_config(campaign(tmp_path, repo / "src" / "LogCacheEntries.scala"))
    first = plan_registry(config, ENTRIES)
    second = plan_registry(config, ENTRIES)
    assert first.diff == second.diff
    assert first.rel == "src/LogCacheEntries.scala"
    assert first.diff.startswith(
        "diff --git a/src/LogCacheEntries.scala b/src/LogCacheEntries.scala\n"
        "--- a/src/LogCacheEntries.scala\n+++ b/src/LogCacheEntries.scala\n@@ "
    )
    assert ODD_A not in "".join(x for x in first.diff.splitlines(keepends=True) if x[:1] in "+-")


def apply_in_fresh_repo(tmp_path: Path, rel: str, original: str, patch: Path) -> str:
    fresh = tmp_path / "fresh"
    init_repo(fresh, {rel: original})
    git(fresh, "apply", "--check", str(patch))
    git(fresh, "apply", str(patch))
    return (fresh / rel).read_bytes().decode()


@pytest.mark.parametrize(
    "original",
    [BEFORE, BEFORE.replace("\n", "\r\n"), registry_text(line("raw-a-s0/log", 10, "s3://perm/cache/A"), footer="  )\n  // END LOG CACHE ENTRIES\n}")],
    ids=["lf", "crlf", "no-newline-at-eof"],
)
def test_exported_patch_applies_in_a_fresh_repository(tmp_path: Path, original: str) -> None:
    repo = tmp_path / "etl"
    rel = "modules/common/LogCacheEntries.scala"
    init_repo(repo, {rel: original})
    cfg = campaign(tmp_path, repo / rel)
    out = tmp_path / "out" / "registry.patch"
    assert main(["registry", "export", str(cfg), "--out", str(out)]) == 0
    expected = plan_registry(load_config(cfg), ENTRIES).new_text
    if original.endswith("}"):
        assert "\\ No newline at end of file" in out.read_text()
    assert apply_in_fresh_repo(tmp_path, rel, original, out) == expected
    assert (repo / rel).read_bytes().decode() == original  # export never edits the registry


def test_patch_outside_git_is_relative_to_the_registry_folder(tmp_path: Path) -> None:
    reg = tmp_path / "plain" / "LogCacheEntries.scala"
    reg.parent.mkdir()
    reg.write_text(BEFORE)
    config = load_config(campaign(tmp_path, reg))
    patch = plan_registry(config, ENTRIES)
    assert patch.rel == "LogCacheEntries.scala" and patch.repo is None
    assert main(["registry", "export", str(config.path)]) == 0
    out = config.work_dir / f"log-cache-{date.today().isoformat()}.patch"
    subprocess.run(["git", "apply", "--check", str(out)], cwd=reg.parent, check=True)
    subprocess.run(["git", "apply", str(out)], cwd=reg.parent, check=True)
    assert reg.read_text() == patch.new_text


def test_unified_diff_marks_names_with_spaces_and_equal_texts_give_no_diff() -> None:
    assert unified_diff("a\n", "a\n", "x.scala") == ""
    assert unified_diff("a\n", "b\n", "my dir/x.scala").splitlines()[1] == "--- a/my dir/x.scala\t"


# --- apply ------------------------------------------------------------------------------


def test_apply_commits_only_the_registry_on_a_new_branch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "etl"
    rel = "src/LogCacheEntries.scala"
    init_repo(repo, {rel: BEFORE, "README.md": "etl\n", "other.txt": "x\n"})
    (repo / "README.md").write_text("work in progress\n")  # someone's unrelated edits
    (repo / "other.txt").write_text("staged\n")
    git(repo, "add", "other.txt")
    (repo / "src" / "LogCacheEntries.scala").chmod(0o644)
    cfg = campaign(tmp_path, repo / rel)
    expected = plan_registry(load_config(cfg), ENTRIES).new_text

    assert main(["registry", "export", str(cfg), "--apply", "--yes"]) == 0
    branch = f"log-cache-{date.today().isoformat()}"
    out = capsys.readouterr().out
    head = git(repo, "rev-parse", "HEAD").strip()
    assert f"branch {branch}" in out and f"commit {head}" in out
    assert git(repo, "branch", "--show-current").strip() == branch
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [rel]
    assert git(repo, "log", "-1", "--format=%s").strip() == "Update the log cache registry: 1 added, 2 changed, 1 unchanged, 1 kept"
    assert "- raw-d-s0/log" in git(repo, "log", "-1", "--format=%b")
    assert (repo / rel).read_bytes().decode() == expected
    assert git(repo, "show", f"HEAD:{rel}") == expected
    assert (repo / rel).stat().st_mode & 0o777 == 0o644
    # The unrelated changes are still there, uncommitted.
    assert git(repo, "status", "--porcelain").splitlines() == [" M README.md", "M  other.txt"]

    # A second refresh on the same day gets its own branch.
    write_entries(cfg.parent / "work" / CSV_NAME, [*ENTRIES, entry("raw-f-s0/log", 60, "F")])
    assert main(["registry", "export", str(cfg), "--apply", "--yes"]) == 0
    assert git(repo, "branch", "--show-current").strip() == f"{branch}-2"
    assert git(repo, "log", "-1", "--format=%s").strip().endswith("1 added, 0 changed, 4 unchanged, 1 kept")


def test_apply_refuses_a_dirty_registry_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "etl"
    init_repo(repo, {"LogCacheEntries.scala": BEFORE})
    dirty = BEFORE.replace("// Hand-written", "// Edited by hand")
    (repo / "LogCacheEntries.scala").write_text(dirty)
    cfg = campaign(tmp_path, repo / "LogCacheEntries.scala")
    capsys.readouterr()
    assert main(["registry", "export", str(cfg), "--apply"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("logcache: ") and "Error" not in err[-1] and "uncommitted changes" in err[-1]
    assert (repo / "LogCacheEntries.scala").read_text() == dirty
    assert git(repo, "branch", "--format=%(refname:short)").split() == ["main"]


def test_apply_refuses_a_registry_git_does_not_track(tmp_path: Path) -> None:
    repo = tmp_path / "etl"
    init_repo(repo, {"README.md": "etl\n"})
    (repo / "LogCacheEntries.scala").write_text(BEFORE)
    patch = plan_registry(load_config(campaign(tmp_path, repo / "LogCacheEntries.scala")), ENTRIES)
    with pytest.raises(RegistryError, match="not tracked by git"):
        apply_patch(patch, date(2026, 1, 2))
    assert (repo / "LogCacheEntries.scala").read_text() == BEFORE


def test_export_to_an_unwritable_place_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = tmp_path / "LogCacheEntries.scala"
    reg.write_text(BEFORE)
    (tmp_path / "file").write_text("")
    assert main(["registry", "export", str(campaign(tmp_path, reg)), "--out", str(tmp_path / "file" / "x.patch")]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("logcache: ") and "Error" not in last


def test_apply_refuses_a_registry_changed_since_the_plan(tmp_path: Path) -> None:
    reg = tmp_path / "LogCacheEntries.scala"
    reg.write_text(BEFORE)
    patch = plan_registry(load_config(campaign(tmp_path, reg)), ENTRIES)
    reg.write_text(BEFORE + "// later edit\n")
    with pytest.raises(RegistryError, match="changed since"):
        apply_patch(patch, date(2026, 1, 2))
    assert reg.read_text() == BEFORE + "// later edit\n"


def test_apply_outside_git_only_edits_the_file(tmp_path: Path) -> None:
    reg = tmp_path / "LogCacheEntries.scala"
    reg.write_text(BEFORE)
    patch = plan_registry(load_config(campaign(tmp_path, reg)), ENTRIES)
    result = apply_patch(patch, date(2026, 1, 2))
    assert (result.branch, result.commit) == (None, None)
    assert reg.read_text() == patch.new_text


# --- CLI ---------------------------------------------------------------------------------


def test_cli_diff_prints_the_patch_and_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = tmp_path / "LogCacheEntries.scala"
    reg.write_text(BEFORE)
    cfg = campaign(tmp_path, reg)
    assert main(["registry", "diff", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert out == plan_registry(load_config(cfg), ENTRIES).diff
    assert "\033[" not in out  # plain when not on a terminal
    assert "1 added, 2 changed, 1 unchanged, 1 kept" in err
    assert "warning: 1 registry entries are not in this transaction and are kept as they are: raw-d-s0/log" in err
    assert main(["registry", "diff", str(cfg), "--color", "always"]) == 0
    assert "\033[32m+" in capsys.readouterr().out


def test_cli_up_to_date_registry_exports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = tmp_path / "LogCacheEntries.scala"
    reg.write_text(registry_text(line("raw-a-s0/log", 10, "s3://perm/cache/A")))
    cfg = campaign(tmp_path, reg, [entry("raw-a-s0/log", 10, "A")])
    out = tmp_path / "x.patch"
    assert main(["registry", "export", str(cfg), "--out", str(out)]) == 0
    assert "nothing to change" in capsys.readouterr().err
    assert not out.exists()
    assert main(["registry", "diff", str(cfg)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("no-csv", "logcache discover"),
        ("no-registry", "no such registry file"),
        ("malformed", "LogCacheEntries.scala:8:"),
        ("no-action", ""),
        ("out-and-apply", "not allowed with"),
    ],
)
def test_cli_errors_are_one_line_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, needle: str) -> None:
    reg = tmp_path / "LogCacheEntries.scala"
    if case != "no-registry":
        reg.write_text(BEFORE.replace('"raw-b-s0/log" ->', '"raw-b-s0/log" =>') if case == "malformed" else BEFORE)
    cfg = campaign(tmp_path, reg, None if case == "no-csv" else ENTRIES)
    argv = {
        "no-action": ["registry"],
        "out-and-apply": ["registry", "export", str(cfg), "--apply", "--out", "x.patch"],
    }.get(case, ["registry", "diff", str(cfg)])
    capsys.readouterr()
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and needle in err
    if case not in ("no-action", "out-and-apply"):
        assert len(err.splitlines()) == 1 and err.startswith("logcache: ")


# --- demo world ----------------------------------------------------------------------------


def test_demo_world_discover_then_registry_export_applies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = tmp_path / "w"
    build_world(str(world), seed=5, scale="tiny", faults={})
    truth = json.loads((world / "truth.json").read_text())
    original = (world / "registry" / "LogCacheEntries.scala").read_text()
    init_repo(world / "registry", {})
    cfg = world / "campaign.toml"
    assert main(["discover", str(cfg)]) == 0
    capsys.readouterr()

    patch = tmp_path / "demo.patch"
    assert main(["registry", "export", str(cfg), "--out", str(patch)]) == 0
    err = capsys.readouterr().err
    new_names = sorted(set(truth["entries"]) - set(truth["registry_before"]))
    kept = sorted(set(truth["registry_before"]) - set(truth["entries"]))
    assert new_names and kept
    assert f"{len(new_names)} added" in err and f"{len(kept)} kept" in err and ", ".join(kept) in err
    assert f"warning: {len(truth['entries'])} datasets are not verified at the destination yet" in err  # nothing was copied
    new_text = apply_in_fresh_repo(tmp_path, "LogCacheEntries.scala", original, patch)
    after = ScalaRegistry().parse(new_text).entries
    for name, e in truth["entries"].items():
        assert after[name].t == e["t"]
        assert after[name].path.endswith("/permanent/cache/" + e["cache_id"])
    assert all(after[name] == RegistryValue(**truth["registry_before"][name]) for name in kept)
    shutil.rmtree(tmp_path / "fresh")

    assert main(["registry", "export", str(cfg), "--apply", "--yes"]) == 0
    assert (world / "registry" / "LogCacheEntries.scala").read_text() == new_text
