"""Telling an operator who looks elsewhere that a long step ended: the terminal bell and
a desktop notification by OSC 9 (iTerm2, WezTerm, Windows Terminal, kitty) and OSC 777
(VTE terminals, foot, rxvt). Both travel over SSH; inside tmux they are wrapped in its
passthrough sequence (tmux needs `set -g allow-passthrough on`)."""

from __future__ import annotations

import os

ESC, BEL = "\x1b", "\x07"


def _clean(text: str) -> str:
    # A control character would end the sequence early; ";" separates OSC 777's fields.
    return "".join(c for c in text if c.isprintable()).replace(";", ",")


def osc_notification(title: str, body: str, tmux: bool) -> str:
    title, body = _clean(title), _clean(body)
    sequences = [f"{ESC}]9;{title}: {body}{BEL}", f"{ESC}]777;notify;{title};{body}{BEL}"]
    if tmux:
        sequences = [f"{ESC}Ptmux;" + s.replace(ESC, ESC + ESC) + f"{ESC}\\" for s in sequences]
    return "".join(sequences)


def inside_tmux() -> bool:
    return bool(os.environ.get("TMUX"))
