"""`logcache registry diff|export CAMPAIGN`: the registry update as a diff, a patch, or a commit."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from logcache.campaign import open_campaign
from logcache.cli.common import Exit, SubParsers, add_break_lock, add_campaign, open_for
from logcache.entries import CSV_NAME, read_entries
from logcache.errors import UsageError
from logcache.registry import RegistryPatch, Status, apply_patch, default_patch_path, export_patch, plan_registry, require_work_tree
from logcache.runbook import queries
from logcache.runbook.steps import exclude
from state.config import load_config
from state.persist import load_or_new

_COLORS = {"+": "\033[32m", "-": "\033[31m", "@": "\033[36m"}
_BOLD, _RESET = "\033[1m", "\033[0m"


def register(sub: SubParsers) -> None:
    p = sub.add_parser("registry", help="update the cache registry from the discovered entries (runbook step 4)")
    actions = p.add_subparsers(dest="registry_action", metavar="ACTION", required=True)

    d = actions.add_parser("diff", help="print the unified diff that updates the registry")
    add_campaign(d)
    d.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the diff (auto: on a terminal)")
    d.set_defaults(func=run_diff)

    e = actions.add_parser("export", help="write the update as a patch for `git apply`, or apply and commit it")
    add_campaign(e)
    how = e.add_mutually_exclusive_group()
    how.add_argument("--out", type=Path, help="the patch file (default: <work_dir>/log-cache-<date>.patch)")
    how.add_argument(
        "--apply",
        action="store_true",
        help="commit the update on a new branch log-cache-<date> of the registry's git work tree (refused outside git)",
    )
    e.add_argument("--yes", action="store_true", help="apply even though rows are invalid or not validated, or copies not verified")
    e.set_defaults(func=run_export)

    x = actions.add_parser(
        "leave-out",
        help="leave datasets out of the registry patch (they keep their previous entry), e.g. one that cannot be fixed in this refresh",
    )
    add_campaign(x)
    x.add_argument("names", nargs="+", metavar="NAME", help="<shard>/<kind>, <dataset>/<validation>, a shard, a cache id or a URL")
    x.add_argument("--reason", required=True, help="why; it goes into the patch's summary and the PR")
    add_break_lock(x)
    x.set_defaults(func=run_exclude)


def run_exclude(args: argparse.Namespace) -> int:
    with open_for(args) as campaign:
        names = exclude.run(campaign, args.names, args.reason)
        total = len(campaign.state.exclusions)
    for name in names:
        print(f"excluded {name}: {args.reason.strip()}")
    print(f"{total} datasets are left out of the registry patch; `logcache run {args.campaign}` exports it again", file=sys.stderr)
    return Exit.DONE


def _plan(campaign: Path) -> tuple[RegistryPatch, Path]:
    config = load_config(campaign)
    state = load_or_new(config.state_path, config.name)
    patch = plan_registry(config, read_entries(config.work_dir / CSV_NAME), queries.exclusions(state))
    update = patch.update
    print(f"registry {patch.path}: {patch.summary()}", file=sys.stderr)
    for line in patch.exclusion_lines():
        print(line, file=sys.stderr)
    kept = update.names(Status.KEPT)
    if kept:
        print(f"warning: {len(kept)} registry entries are not in this transaction and are kept as they are: {', '.join(kept)}", file=sys.stderr)
    if update.is_noop:
        print("the registry already holds every discovered entry; nothing to change", file=sys.stderr)
    return patch, default_patch_path(config, date.today())


def _colored(diff: str) -> str:
    out = []
    for line in diff.splitlines():
        color = _BOLD if line.startswith(("diff --git", "--- ", "+++ ")) else _COLORS.get(line[:1], "")
        out.append(f"{color}{line}{_RESET}" if color else line)
    return "".join(f"{line}\n" for line in out)


def _apply(args: argparse.Namespace, patch: RegistryPatch) -> int:
    """Commit the update on a branch: refused outside git, and refused while applying
    would put unchecked data in the registry unless `--yes` says the operator knows."""
    require_work_tree(patch, args.campaign)
    with open_campaign(args.campaign, write=False) as campaign:
        risks = queries.apply_risks(campaign)
    if risks and not args.yes:
        raise UsageError(f"not applied: {', '.join(risks)}; fix them (logcache failures {args.campaign}) or apply anyway with --yes")
    if risks:
        print(f"warning: applying with {', '.join(risks)}", file=sys.stderr)
    result = apply_patch(patch, date.today())
    print(f"edited {result.path}")
    print(f"branch {result.branch}")
    print(f"commit {result.commit}")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    patch, _ = _plan(args.campaign)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    sys.stdout.write(_colored(patch.diff) if color else patch.diff)
    sys.stdout.flush()
    return 0


def run_export(args: argparse.Namespace) -> int:
    patch, default_out = _plan(args.campaign)
    if patch.update.is_noop:
        return 0
    if args.apply:
        return _apply(args, patch)
    with open_campaign(args.campaign, write=False) as campaign:
        unverified = len(queries.entries(campaign)) - len(queries.verified_entries(campaign))
    if unverified:
        # The step of `logcache run` leaves these out; by hand the operator decides, warned.
        print(f"warning: {unverified} datasets are not verified at the destination yet; copy them before the PR merges", file=sys.stderr)
    out = export_patch(patch, args.out or default_out)
    print(out)
    print(f"apply it with: git -C {patch.apply_dir} apply {out}", file=sys.stderr)
    return 0
