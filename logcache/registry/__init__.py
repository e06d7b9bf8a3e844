"""The cache registry (runbook step 4): which cached prefix and T each dataset reads.

A format (`registry_format`) parses and renders one kind of registry file; `plan_update`
classifies each name; `plan_registry` turns a campaign's discovered entries into a
RegistryPatch that is shown as a diff, exported for `git apply`, or applied on a branch.
"""

from logcache.registry.diff import unified_diff
from logcache.registry.formats import registry_format
from logcache.registry.git import GitError
from logcache.registry.model import Change, Registry, RegistryError, RegistryFormat, RegistryUpdate, RegistryValue, Status, plan_update
from logcache.registry.patch import (
    ApplyResult,
    RegistryPatch,
    apply_patch,
    commit_message,
    default_patch_path,
    export_patch,
    load_registry,
    plan_registry,
    require_work_tree,
)
from logcache.registry.scala import ScalaRegistry

__all__ = [
    "ApplyResult",
    "Change",
    "GitError",
    "Registry",
    "RegistryError",
    "RegistryFormat",
    "RegistryPatch",
    "RegistryUpdate",
    "RegistryValue",
    "ScalaRegistry",
    "Status",
    "apply_patch",
    "commit_message",
    "default_patch_path",
    "export_patch",
    "load_registry",
    "plan_registry",
    "plan_update",
    "registry_format",
    "require_work_tree",
    "unified_diff",
]
