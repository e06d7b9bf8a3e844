"""`kind = "command"`: the nightly runs printed by a command, e.g. the team's own CLI.

The command's standard output is one JSON document: `{"transactions": [...]}` or a bare
list of transactions (README, "Catalog sources"); anything it prints on stderr is kept in
the log only. It runs as a hook (`logcache.hooks.runner`): its own process group, a
timeout, and its output kept in `<work_dir>/jobs/catalog.log`.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path

from logcache.catalog.documents import CatalogSourceError, decode_page, parse_listing
from logcache.catalog.files import Transaction
from logcache.hooks.runner import HookFailed, run_hook
from logcache.hooks.template import render


class CatalogCommandFailed(CatalogSourceError):
    """The catalog command exited non-zero or timed out."""


class CommandCatalog:
    def __init__(self, template: str, campaign: Path, work_dir: Path, timeout_s: float) -> None:
        self.command = render("catalog", template, {"campaign": str(campaign)})
        self.cwd = campaign.parent
        self.work_dir = work_dir
        self.timeout_s = timeout_s

    def transactions(self) -> list[Transaction]:
        log_path = self.work_dir / "jobs" / "catalog.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # The JSON goes to a file of its own, so a warning on stderr cannot corrupt it and a
        # large listing never sits in a pipe.
        fd, out_name = tempfile.mkstemp(prefix=".catalog-", suffix=".json", dir=log_path.parent)
        os.close(fd)
        out = Path(out_name)
        try:
            try:
                run_hook("catalog", f"( {self.command} ) > {shlex.quote(str(out))}", log_path=log_path, timeout_s=self.timeout_s, cwd=self.cwd)
            except HookFailed as exc:
                raise CatalogCommandFailed(str(exc)) from None
            items, following = decode_page(out.read_bytes(), f"the catalog command `{self.command}`")
        finally:
            out.unlink(missing_ok=True)
        if following:
            raise CatalogSourceError('the catalog command printed a "next" page link; a command must print every transaction at once')
        return parse_listing(items)
