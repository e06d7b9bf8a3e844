"""What to do about every finding: the command that fixes it and why, or the exclusion
of a dataset that cannot be fixed now. `status`, `failures` and the app all read
`next_actions`, so no front end is left with a dead end after invalid rows.

- a copy that is missing or differs from the source: re-copy it with `--overwrite` from
  the source, then re-validate it (the re-copy step does both on `logcache run`);
- a problem of a shard's log (a missing or unreadable segment): the shard and segments,
  and how to re-validate once the log store is fixed;
- what a re-copy cannot fix (the source is gone, the source itself is wrong, the
  catalog's T is wrong): leave the dataset out of the registry patch, so it keeps its
  previous cache entry.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from logcache.entries import CSV_NAME, CacheEntry, normal_url, owner_of, read_entries, select_entries
from logcache.errors import UsageError
from logcache.stores import open_results
from logcache.validation import ResultRow
from logcache.validation.aggregate import aggregate_rows, pair_dataset
from logcache.validation.result import NOT_CHECKED
from state.config import CampaignConfig
from state.model import CampaignState, StepName, StepStatus

# Kinds a fresh copy from the source can fix: the destination lost or damaged files.
RECOPY_KINDS = frozenset({"missing-path", "mismatch", "corrupt-file", "schema"})
# The URLs inside a row's one-line error.
_URL = re.compile(r"[a-z0-9]+://\S+")


class ActionKind(StrEnum):
    RECOPY = "recopy"  # re-copy with --overwrite, then re-validate
    REVALIDATE = "revalidate"  # no result yet, or the log was fixed
    LOG = "log"  # a shard's log is at fault
    EXCLUDE = "exclude"  # cannot be fixed now: leave it out of the patch


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    command: str  # one shell line
    why: str  # one line
    names: tuple[str, ...]  # the datasets (`<shard>/<kind>`) it is about


def exclude_command(campaign_arg: str, names: Sequence[str], reason: str) -> str:
    return shlex.join(["logcache", "registry", "leave-out", campaign_arg, *names, "--reason", reason])


def recopy_command(campaign_arg: str, names: Sequence[str], pairs: Sequence[str]) -> str:
    copy = shlex.join(["logcache", "copy", campaign_arg, "--only", *names, "--overwrite"])
    return f"{copy} && {revalidate_command(campaign_arg, pairs)}"


def revalidate_command(campaign_arg: str, pairs: Sequence[str]) -> str:
    return shlex.join(["logcache", "validate", campaign_arg, "--force", "--filter-by-name", ",".join(pairs)])


def log_segments(config: CampaignConfig, text: str) -> list[str]:
    """The URLs of `text` inside the campaign's log store."""
    root = normal_url(config.logs)
    return [u.rstrip(".,;)") for u in _URL.findall(text) if normal_url(u).startswith(root)]


@dataclass
class _Findings:
    recopy: dict[str, str]  # name -> why
    gone: dict[str, str]  # name -> why a re-copy cannot fix it
    logs: dict[str, list[str]]  # shard -> segments
    log_pairs: dict[str, list[str]]  # shard -> pairs to re-validate
    unchecked: list[str]  # pairs without a result, or whose check the storage stopped


def _classify(config: CampaignConfig, state: CampaignState, entries: Sequence[CacheEntry], rows: Sequence[ResultRow]) -> _Findings:
    excluded = state.excluded()
    found = _Findings({}, {}, {}, {}, [])
    sources = {normal_url(e.source): e.name for e in entries}
    for fp in state.open_failed_paths():
        name = fp.dataset_name or owner_of(entries, fp.url)
        if not name or name in excluded:
            continue
        if normal_url(fp.url) in sources:
            found.gone.setdefault(name, f"its source {fp.url} does not exist")
        elif segments := log_segments(config, fp.url):
            shard = name.split("/")[0]
            found.logs.setdefault(shard, []).extend(segments)
        else:
            found.recopy.setdefault(name, f"missing at the destination: {fp.url}")
    validated = state.step(StepName.VALIDATE).status is StepStatus.DONE
    for row in rows:
        name = pair_dataset(row)
        if row.is_valid or name in excluded or name in found.gone:
            continue
        ds = state.dataset(name)
        if not row.checked:
            # Before the validation step is done, no result is the plan, not a finding; a
            # check the storage stopped is checked again by a plain rerun.
            if validated or row.error_kind == NOT_CHECKED:
                found.unchecked.append(f"{row.dataset}/{row.validation}")
        elif segments := log_segments(config, row.error):
            found.logs.setdefault(row.dataset, []).extend(segments)
            found.log_pairs.setdefault(row.dataset, []).append(f"{row.dataset}/{row.validation}")
        elif row.error_kind in RECOPY_KINDS and (ds is None or ds.recopies == 0):
            found.recopy.setdefault(name, f"{row.error_kind}: {row.error}")
        elif row.error_kind in RECOPY_KINDS:
            found.gone[name] = f"still {row.error_kind} after a re-copy from the source: the source itself is wrong"
        else:
            found.gone[name] = f"{row.error_kind}: {row.error}; a re-copy does not change it"
    return found


def next_actions(
    config: CampaignConfig, state: CampaignState, entries: Sequence[CacheEntry], rows: Sequence[ResultRow], campaign_arg: str
) -> list[Action]:
    """Every fix for the open failed paths and the invalid `rows` (the latest result per
    pair), most useful first; nothing for what is excluded."""
    found = _classify(config, state, entries, rows)
    pair_of = {e.name: e.pair for e in entries}
    actions: list[Action] = []
    if found.recopy:
        names = sorted(found.recopy)
        validated = state.step(StepName.VALIDATE).status is StepStatus.DONE
        recopy_open = state.step(StepName.RECOPY_FAILED).status is not StepStatus.DONE
        # Before validation the copy step itself copies them again; after it, the re-copy
        # step of `logcache run` re-copies and re-validates.
        command = (
            f"logcache run {shlex.quote(campaign_arg)}"
            if not validated or recopy_open
            else recopy_command(campaign_arg, names, [pair_of[n] for n in names if n in pair_of])
        )
        why = "; ".join(f"{n}: {w}" for n, w in sorted(found.recopy.items())[:3])
        actions.append(Action(ActionKind.RECOPY, command, f"re-copy {len(names)} datasets from the source with --overwrite, then re-validate ({why})", tuple(names)))
    for shard, segments in sorted(found.logs.items()):
        listed = ", ".join(dict.fromkeys(segments))
        pairs = found.log_pairs.get(shard) or [pair_of[n] for n in pair_of if n.split("/")[0] == shard]
        actions.append(
            Action(
                ActionKind.LOG,
                revalidate_command(campaign_arg, pairs),
                f"the log of shard {shard} is at fault (segments {listed}): fix the log store, then re-validate",
                tuple(n for n in pair_of if n.split("/")[0] == shard),
            )
        )
    if found.unchecked:
        actions.append(Action(ActionKind.REVALIDATE, revalidate_command(campaign_arg, found.unchecked), f"{len(found.unchecked)} pairs have no result yet or were not checked", ()))
    if found.gone:
        names = sorted(found.gone)
        reason = "cannot be fixed in this refresh"
        why = "; ".join(f"{n}: {w}" for n, w in sorted(found.gone.items())[:3])
        actions.append(
            Action(
                ActionKind.EXCLUDE,
                exclude_command(campaign_arg, names, reason),
                f"leave {len(names)} datasets out of the registry patch (they keep their previous entry): {why}",
                tuple(names),
            )
        )
    return actions


def actions_for(config: CampaignConfig, state: CampaignState, campaign_arg: str) -> list[Action]:
    """`next_actions` from what the campaign has on disk: its entries and latest results
    (read only, so `status` can ask while another operator drives)."""
    path = config.work_dir / CSV_NAME
    cached = read_entries(path) if path.exists() else []
    rows = aggregate_rows(cached, open_results(config)) if cached else []
    return next_actions(config, state, cached, rows, campaign_arg)


def resolve_names(entries: Sequence[CacheEntry], names: Sequence[str]) -> list[str]:
    """`<shard>/<kind>` of each name: a pair (`<dataset>/<validation>`) or anything
    `--only` accepts; an unknown name is refused."""
    by_pair = {e.pair: e.name for e in entries}
    out = [by_pair[n] for n in names if n in by_pair]
    rest = [n for n in names if n not in by_pair]
    if rest:
        out += [e.name for e in select_entries(entries, rest)]
    if not out:
        raise UsageError("name at least one dataset to exclude")
    return list(dict.fromkeys(out))
