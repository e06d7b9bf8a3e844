"""A campaign's registry update as a patch: computed, shown, exported, or applied on a branch.

The CLI, the TUI and headless drivers all call these functions. A RegistryPatch is
computed once and then exported or applied as is, so what is applied is what was shown.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from logcache.entries import CacheEntry
from logcache.registry import git
from logcache.registry.diff import unified_diff
from logcache.registry.formats import registry_format
from logcache.registry.model import Registry, RegistryError, RegistryUpdate, Status, plan_update
from state.config import CampaignConfig
from state.persist_text import write_text_atomic


@dataclass(frozen=True)
class RegistryPatch:
    path: Path  # the registry file (symlinks resolved)
    repo: Path | None  # the git work tree holding it, if any
    rel: str  # its path in the diff: relative to `repo`, else just its name
    old_text: str
    new_text: str
    update: RegistryUpdate
    diff: str
    # Datasets left out on purpose (name -> reason): the registry keeps their previous entry.
    excluded: tuple[tuple[str, str], ...] = ()

    @property
    def apply_dir(self) -> Path:
        """Where `git apply` of this patch must run."""
        return self.repo or self.path.parent

    def summary(self) -> str:
        left_out = f", {len(self.excluded)} excluded" if self.excluded else ""
        return f"{self.update.summary()}{left_out}"

    def exclusion_lines(self) -> list[str]:
        if not self.excluded:
            return []
        return ["Excluded (they keep their previous cache entry):", *(f"- {name}: {reason}" for name, reason in self.excluded)]

    @property
    def text(self) -> str:
        """The patch file: the exclusions as a preamble (`git apply` skips text before
        the first `diff`), then the diff."""
        lines = self.exclusion_lines()
        return "".join(f"{line}\n" for line in lines) + ("\n" if lines else "") + self.diff


@dataclass(frozen=True)
class ApplyResult:
    path: Path
    branch: str | None  # None when the registry is not in a git work tree
    commit: str | None


def read_registry_text(path: Path) -> str:
    # Bytes, not read_text: universal newlines would turn CRLF files into LF ones.
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise RegistryError(f"{path}: no such registry file; check `registry.path` in the campaign file") from None
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); check `registry.path`") from None
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read the registry ({exc.strerror})") from None


def load_registry(config: CampaignConfig) -> Registry:
    return registry_format(config.registry_format).parse(read_registry_text(config.registry), str(config.registry))


def plan_registry(config: CampaignConfig, entries: Sequence[CacheEntry], excluded: Mapping[str, str] | None = None) -> RegistryPatch:
    """The update that records `entries` in the campaign's registry, with its diff; the
    `excluded` datasets (name -> reason) are left out, so they keep their entry."""
    left_out = dict(excluded or {})
    entries = [e for e in entries if e.name not in left_out]
    fmt = registry_format(config.registry_format)
    path = config.registry.resolve()
    old_text = read_registry_text(path)
    update = plan_update(fmt.parse(old_text, str(path)), entries)
    new_text = fmt.render(old_text, update.target, str(path))
    repo = git.work_tree_root(path.parent)
    rel = path.relative_to(repo.resolve()).as_posix() if repo else path.name
    return RegistryPatch(path, repo, rel, old_text, new_text, update, unified_diff(old_text, new_text, rel), tuple(sorted(left_out.items())))


def default_patch_path(config: CampaignConfig, today: date) -> Path:
    return config.work_dir / f"log-cache-{today.isoformat()}.patch"


def commit_message(patch: RegistryPatch) -> str:
    update = patch.update
    lines = [f"Update the log cache registry: {patch.summary()}"]
    for status, title in ((Status.ADDED, "Added"), (Status.CHANGED, "Changed"), (Status.KEPT, "Kept (not in this transaction)")):
        names = update.names(status)
        if names:
            lines += ["", f"{title}:", *(f"- {n}" for n in names)]
    if patch.excluded:
        lines += ["", *patch.exclusion_lines()]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot write ({exc.strerror}); check the folder's permissions and free space") from None


def _require_changes(patch: RegistryPatch) -> None:
    if patch.update.is_noop:
        raise RegistryError(f"{patch.path} already holds every discovered entry; there is nothing to change")


def export_patch(patch: RegistryPatch, out: Path) -> Path:
    """Write the patch atomically to `out`; `git apply` accepts it in `patch.apply_dir`."""
    _require_changes(patch)
    out = out.absolute()
    _write(out, patch.text)
    return out


def require_work_tree(patch: RegistryPatch, campaign: Path | str = "CAMPAIGN") -> None:
    """Refuse to apply outside a git work tree: the registry would be edited in place,
    with no branch to review and nothing to go back to. The patch file is the way there.
    Inside one, refuse what `apply_patch` would (untracked, uncommitted changes) before
    the operator is asked anything else."""
    if patch.repo is None:
        raise RegistryError(
            f"{patch.path} is not in a git work tree, so applying would edit it in place with no branch or backup;"
            f" write the patch with `logcache registry export {campaign} --out FILE` and apply it where the registry is versioned"
        )
    git.ensure_committable(patch.repo, patch.rel)


def apply_patch(patch: RegistryPatch, today: date) -> ApplyResult:
    """Edit the registry in place; inside a git work tree, commit it alone on a new branch
    `log-cache-<date>`. Refuses a registry with uncommitted changes or changed since planning."""
    _require_changes(patch)
    if patch.repo:
        git.ensure_committable(patch.repo, patch.rel)
    if read_registry_text(patch.path) != patch.old_text:
        raise RegistryError(f"{patch.path} changed since the diff was computed; run the command again")
    branch = git.create_branch(patch.repo, f"log-cache-{today.isoformat()}") if patch.repo else None
    mode = stat.S_IMODE(patch.path.stat().st_mode)
    _write(patch.path, patch.new_text)
    os.chmod(patch.path, mode)  # the temp file was created 0600
    if not patch.repo:
        return ApplyResult(patch.path, None, None)
    try:
        commit = git.commit_file(patch.repo, patch.rel, commit_message(patch))
    except git.GitError as exc:
        raise git.GitError(f"{patch.path} is edited on branch {branch} but not committed ({exc}); commit it by hand") from None
    return ApplyResult(patch.path, branch, commit)
