"""`logcache completion bash|zsh`: a shell completion script, made from the parser itself
so it never lags behind the commands and their options.

    eval "$(logcache completion bash)"     # in ~/.bashrc
    eval "$(logcache completion zsh)"      # in ~/.zshrc
"""

from __future__ import annotations

import argparse

from logcache.cli.common import SubParsers

SHELLS = ("bash", "zsh")


def register(sub: SubParsers) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (bash or zsh)", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=run)


def _words(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """Each command (and `registry ACTION`) with the words that may follow it: its
    options, its fixed choices, its actions; "" holds the top level's."""
    words: dict[str, list[str]] = {}

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        found: list[str] = []
        for action in p._actions:
            found += action.option_strings
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found.append(name)
                    walk(child, f"{path} {name}".strip())
            elif not action.option_strings and action.choices:
                found += [str(c) for c in action.choices]
        words[path] = sorted(set(found))

    walk(parser, "")
    return words


def bash_script(parser: argparse.ArgumentParser) -> str:
    words = _words(parser)
    paths = "|".join(f'"{p}"' for p in sorted(words) if p)
    cases = "\n".join(f'        "{p}") words="{" ".join(w)}" ;;' for p, w in sorted(words.items()) if p)
    return f"""# logcache completion for bash (and zsh through bashcompinit)
_logcache() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" next word words
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        next="${{path:+$path }}$word"
        case "$next" in {paths}) path="$next" ;; esac
    done
    case "$path" in
{cases}
        *) words="{" ".join(words[""])}" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur") $(compgen -f -- "$cur"))
}}
complete -o filenames -F _logcache logcache
"""


def run(args: argparse.Namespace) -> int:
    from logcache.cli import build_parser

    parser = build_parser(args.commands)
    script = bash_script(parser)
    if args.shell == "zsh":
        script = "autoload -U +X bashcompinit && bashcompinit\n" + script
    print(script, end="")
    return 0
