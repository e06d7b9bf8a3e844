"""The app's glyphs follow the terminal's locale, not Python's UTF-8 mode."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tui.glyphs import locale_encoding

PROBE = "from tui.glyphs import terminal_glyphs; import sys; print(terminal_glyphs().ascii, sys.stdout.encoding)"


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONUTF8"))}
    done = subprocess.run([sys.executable, "-c", PROBE], check=False, env={**clean, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[0] + " " + done.stdout.split()[1].lower()


def test_lc_all_c_draws_ascii_even_in_utf8_mode() -> None:
    # UTF-8 mode makes stdout utf-8 under the C locale: the old check drew Unicode here.
    assert _probe(LC_ALL="C", PYTHONUTF8="1") == "True utf-8"


def test_a_utf8_locale_draws_unicode() -> None:
    assert _probe(LC_ALL="C.UTF-8").startswith("False")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, "ascii"),
        ({"LC_CTYPE": "POSIX", "LANG": "en_US.UTF-8"}, "ascii"),
        ({"LANG": "en_US.ISO-8859-1"}, "ISO-8859-1"),
        ({"LC_ALL": "", "LANG": "de_DE.UTF-8@euro"}, "UTF-8"),
    ],
)
def test_the_first_set_locale_variable_wins(env: dict[str, str], expected: str) -> None:
    assert locale_encoding(env) == expected
