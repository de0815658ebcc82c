"""Read the commands a container's ``bash -c`` / ``sh -c`` script runs, as the shell would split them.

Enough of POSIX shell syntax (https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html)
to find a server launch in a generated start-up script: quoting and escapes (``shlex`` in POSIX mode),
comments, line continuations, the control operators ``&& || ; | & ( )`` and newlines between
commands, redirections (dropped with their target), and the prefixes that do not change what runs
(``exec``, ``env``, ``NAME=value`` assignments, the reserved words that open or close a compound
command such as ``until``/``do``/``done``, ``!``, ``{``, ``time``, ``nohup``, ``command``). A command
substitution (``$(...)``, backquotes) stays inside its word, unexpanded (its value is only known at
run time), and the commands inside it are not listed. Kubernetes expands ``$(NAME)`` in
``command``/``args`` before the shell runs
(https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/):
:func:`expand_kubernetes` does that, and :func:`expand_shell` the shell's ``$NAME`` / ``${NAME}``,
for the container's env vars with literal values.

Not handled: an operator written as a quoted word (``';'`` reads as the operator); function
definitions and here-documents (their bodies read as commands).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
"""Shells whose ``-c`` script is read (by basename: ``/bin/bash`` counts)."""

_PUNCTUATION = "();<>|&"
_PREFIX_WORDS = frozenset({
    "exec", "if", "then", "elif", "else", "fi", "while", "until", "do", "done", "esac", "!", "{", "}",
    "time", "nohup", "command",
})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_KUBE_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
_SHELL_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def shell_script(words: Sequence[str]) -> str | None:
    """The script of ``[<shell>, <options with c>, SCRIPT, ...]`` (a container's command + args), else None.

    Args:
        words: the container's ``command`` followed by its ``args``.
    """
    if not words or PurePosixPath(words[0]).name not in SHELLS:
        return None
    has_c, index = False, 1
    while index < len(words):
        word = words[index]
        if word in ("-o", "+o", "-O", "+O"):  # set-style option with an argument (e.g. -o pipefail)
            index += 2
            continue
        if word == "--":
            index += 1
            break
        if word[:1] in "-+" and len(word) > 1:
            has_c = has_c or (word[0] == "-" and not word.startswith("--") and "c" in word[1:])
            index += 1
            continue
        break
    return words[index] if has_c and index < len(words) else None


_HIDE = "\ue000{}\ue001"
_HIDDEN = re.compile("\ue000(\\d+)\ue001")


def _substitution_end(script: str, index: int) -> int:
    """Index just past the command substitution starting at ``index`` (``$(`` or a backquote)."""
    if script[index] == "`":
        end = index + 1
        while end < len(script) and script[end] != "`":
            end += 2 if script[end] == "\\" else 1
        return min(end + 1, len(script))
    depth, end = 0, index + 1
    while end < len(script):
        depth += {"(": 1, ")": -1}.get(script[end], 0)
        end += 1
        if depth == 0:
            break
    return end


def _logical_text(script: str, hidden: list[str]) -> str:
    """``script`` with comments removed, line continuations joined, unquoted newlines made ``;`` and each
    command substitution replaced by a placeholder word (its text appended to ``hidden``)."""
    out: list[str] = []
    quote = ""
    index = 0
    while index < len(script):
        char = script[index]
        if quote != "'" and (char == "`" or script.startswith("$(", index)):
            end = _substitution_end(script, index)
            out.append(_HIDE.format(len(hidden)))
            hidden.append(script[index:end])
            index = end
            continue
        if quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\" and index + 1 < len(script):
            if script[index + 1] == "\n":  # line continuation (inside double quotes too)
                index += 2
                continue
            out.append(script[index:index + 2])
            index += 2
            continue
        elif quote == '"':
            quote = "" if char == '"' else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (not out or out[-1][-1:].isspace() or out[-1][-1:] in _PUNCTUATION):
            while index < len(script) and script[index] != "\n":
                index += 1
            continue
        elif char == "\n":
            char = ";"
        out.append(char)
        index += 1
    return "".join(out)


def _is_operator(token: str) -> bool:
    return bool(token) and all(c in _PUNCTUATION for c in token)


def _strip_prefix(words: list[str]) -> list[str]:
    """Drop words that choose how, not what, to run: ``exec``, ``env``, ``NAME=value``, ``then``..."""
    index = 0
    while index < len(words):
        word = words[index]
        if word in _PREFIX_WORDS or _ASSIGNMENT.match(word):
            index += 1
        elif word == "env":
            index += 1
            while index < len(words) and (words[index].startswith("-") or _ASSIGNMENT.match(words[index])):
                index += 2 if words[index] in ("-u", "--unset", "-C", "--chdir", "-S") else 1
        else:
            break
    return words[index:]


def simple_commands(script: str) -> list[list[str]]:
    """The simple commands of ``script`` in order, each as its words (prefixes and redirections removed).

    Raises:
        ValueError: the script does not split into words (e.g. an unclosed quote); the message says where.
    """
    hidden: list[str] = []
    lexer = shlex.shlex(_logical_text(script, hidden), posix=True, punctuation_chars=_PUNCTUATION)
    lexer.whitespace_split = True
    lexer.commenters = ""
    tokens = [_HIDDEN.sub(lambda m: hidden[int(m.group(1))], token) for token in lexer]
    commands: list[list[str]] = []
    current: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if _is_operator(token) and ("<" in token or ">" in token):
            if current and current[-1].isdigit():  # "2>/dev/null": the fd number belongs to the redirection
                current.pop()
            index += 2  # the operator and its target
            continue
        if _is_operator(token):
            commands.append(current)
            current = []
        else:
            current.append(token)
        index += 1
    commands.append(current)
    return [words for words in (_strip_prefix(c) for c in commands) if words]


def literal_env(container: Mapping[str, Any]) -> dict[str, str]:
    """The container's env vars with literal values (``valueFrom`` ones are only known at run time)."""
    env = container.get("env") or []
    return {str(e["name"]): str(e["value"]) for e in env if isinstance(e, Mapping) and "value" in e}


def expand_kubernetes(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(NAME)`` expansion of a command/args string for the env vars it knows."""
    return _KUBE_REF.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def expand_shell(word: str, env: Mapping[str, str]) -> str:
    """The shell's ``$NAME`` / ``${NAME}`` in one word, for the env vars with literal values."""
    return _SHELL_REF.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), word)
