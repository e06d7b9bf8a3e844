"""A copied prefix is verified when a fresh listing of both sides agrees and every object's
content is shown equal (`content_equal`: the same file, equal MD5 ETags, equal full-object
checksums, or else equal hashes of both sides' bytes).

S3 listings are strongly consistent, so the final listing is trustworthy.
"""

from __future__ import annotations

from logcache.copy.plan import content_equal, to_copy, under
from logcache.errors import missing_path
from logcache.storage import Store


def _sample(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")


def verify_prefix(source: Store, source_prefix: str, destination: Store, destination_prefix: str) -> str | None:
    """None when the destination prefix equals the source prefix, else why not (one line)."""
    src = to_copy(source, source_prefix)
    dst = under(destination.list(destination_prefix), destination_prefix)
    if not src:
        return missing_path(source.url_of(source_prefix))
    missing = sorted(src.keys() - dst.keys())
    differ = sorted(k for k in src.keys() & dst.keys() if not content_equal(source, src[k], destination, dst[k]))
    extra = sorted(dst.keys() - src.keys())
    problems = []
    if missing:
        problems.append(f"{len(missing)} objects missing at the destination ({_sample(missing)})")
    if differ:
        problems.append(f"{len(differ)} objects differ from the source ({_sample(differ)})")
    if extra:
        # A reader of the prefix would read these too, so the cache would be wrong.
        problems.append(f"{len(extra)} objects at the destination are not in the source ({_sample(extra)})")
    if problems:
        return f"verification of {destination.url_of(destination_prefix)} failed: " + "; ".join(problems)
    return None
