"""The few git operations a registry update needs, through the `git` command."""

from __future__ import annotations

import subprocess
from pathlib import Path

from logcache.registry.model import RegistryError


class GitError(RegistryError):
    """A git command failed; the message carries git's own last line."""


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH; install git or use `logcache registry export --out FILE`") from None


def _git(repo: Path, *args: str) -> str:
    proc = _run(repo, *args)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        raise GitError(f"`git {' '.join(args)}` failed in {repo}: {lines[-1] if lines else f'exit {proc.returncode}'}")
    return proc.stdout.strip()


def work_tree_root(folder: Path) -> Path | None:
    """The root of the git work tree holding `folder`, or None if there is none (or no git)."""
    try:
        proc = _run(folder, "rev-parse", "--show-toplevel")
    except GitError:
        return None
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


def ensure_committable(repo: Path, rel: str) -> None:
    """Refuse a file git does not track, or one with uncommitted changes, before touching it."""
    if _run(repo, "ls-files", "--error-unmatch", "--", rel).returncode != 0:
        raise GitError(f"{repo / rel} is not tracked by git in {repo}; commit it first, or use `--out FILE` to write a patch")
    if _git(repo, "status", "--porcelain", "--", rel):
        raise GitError(f"{repo / rel} has uncommitted changes; commit or stash them first, then retry")
    if _run(repo, "var", "GIT_COMMITTER_IDENT").returncode != 0:
        raise GitError(f"git has no user identity in {repo}; set `git config user.name` and `git config user.email`, then retry")


def create_branch(repo: Path, base: str) -> str:
    """Create and check out `base`, or `base-2`, `base-3`... if taken; returns the name."""
    name, n = base, 1
    while _run(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}").returncode == 0:
        n += 1
        name = f"{base}-{n}"
    _git(repo, "checkout", "-q", "-b", name)
    return name


def commit_file(repo: Path, rel: str, message: str) -> str:
    """Commit only `rel` (whatever else is staged stays staged); returns the commit id."""
    _git(repo, "commit", "-q", "-m", message, "--only", "--", rel)
    return _git(repo, "rev-parse", "HEAD")
