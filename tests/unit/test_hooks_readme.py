"""README's examples of catalog sources and hooks are campaign files that load."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from state.config import load_config

README = Path(__file__).resolve().parents[2] / "README.md"
BASE = {
    "source": 'url = "ephemeral"',
    "destination": 'url = "permanent"',
    "logs": 'url = "logs"',
    "catalog": 'url = "catalog"',
    "registry": 'path = "registry/LogCacheEntries.scala"',
}


def _examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Catalog sources")
    end = text.find("\n## ", text.index("## Hooks") + 1)
    return re.findall(r"```toml\n(.*?)```", text[start : end if end != -1 else None], re.DOTALL)


def test_readme_has_the_examples() -> None:
    blocks = "\n".join(_examples())
    for needle in ('kind = "http"', 'kind = "command"', "docker buildx", "kubectl create job", "sbatch", "aws autoscaling", "gh pr create", "curl"):
        assert needle in blocks, needle


@pytest.mark.parametrize("block", _examples())
def test_each_example_loads(block: str, tmp_path: Path) -> None:
    tables = set(tomllib.loads(block))
    if "scale_up" in block and "submit" not in block:
        # The scaling examples complete a submitter example above them.
        block = block.replace("[validation]\n", '[validation]\nsubmit = "sbatch job.sh"\njob_id_pattern = "^(\\\\d+)"\n')
    base = "\n".join(f"[{name}]\n{body}" for name, body in BASE.items() if name not in tables)
    path = tmp_path / "campaign.toml"
    path.write_text(base + "\n" + block, encoding="utf-8")
    config = load_config(path)
    if "submit" in block:
        assert config.submitter.submit and config.submitter.job_id_pattern
