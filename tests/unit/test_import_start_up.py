"""A command that reads no data does not import the data stack: Polars, Arrow, fastavro
and numpy cost about half a second of every short command (`status`, `step`, a job's
status hook), and many of them run during a refresh."""

import subprocess
import sys

import pytest

HEAVY = ("polars", "pyarrow", "fastavro", "numpy", "boto3", "textual")

# Every command's parser and runner, loaded as `main` loads them, without running one.
PROBE = """
import sys
from logcache.cli import build_parser
build_parser(only=sys.argv[1])
from logcache.runbook import queries, driver, status  # what the commands call
print(" ".join(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


@pytest.mark.parametrize("command", ["status", "step", "transactions", "discover", "copy", "registry", "validate", "plan", "aggregate", "show", "run", "log"])
def test_a_command_loads_without_the_data_stack(command: str) -> None:
    found = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), command], capture_output=True, text=True, check=True)
    assert found.stdout.split() == [], f"`logcache {command}` imports {found.stdout.strip()} at start-up"


def test_a_validations_parent_hands_units_out_without_the_data_stack() -> None:
    """The parent plans, spawns its workers and follows them; only the workers decode, so
    the parent's imports do not delay their start (about 0.4 s of every `validate`)."""
    probe = (
        "import sys\n"
        "from logcache.runbook.steps import validate\n"
        "from logcache.validation.backends import local\n"
        f"print(' '.join(sorted(m for m in {('polars', 'pyarrow', 'fastavro')!r} if m in sys.modules)))\n"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.split() == [], f"the validation parent imports {found.stdout.strip()}"
