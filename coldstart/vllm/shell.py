"""Just enough of POSIX sh to read how a container starts vLLM: words, quotes, variables, separators.

Manifests often start the engine from `sh -c` scripts that export variables, reference `${X}` and chain
commands. Nothing is executed: a script is split into commands of words, and each word is expanded with
the environment known at that point. An unknown variable stays visible as `${NAME}` by default (the checker
must not guess what a Secret holds); `unset="empty"` expands it to nothing, as a real shell does, for a caller
that knows the whole environment (the simulated engine).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

Word = list[tuple[str, str]]
Unset = Literal["keep", "empty"]

__all__ = ["Unset", "Word", "commands", "expand", "positional"]


def commands(script: str) -> list[list[Word]]:
    """Split a script into commands (lists of words); a word is a list of (mode, text) parts.

    mode: 'q' literal from quotes, 'u' unquoted literal, 'v' / 'V' a variable reference (unquoted/quoted).
    Separators: newline ; & | && || ( ). Comments and heredoc bodies are dropped; redirections are skipped.
    """
    found: list[list[Word]] = []
    words: list[list[tuple[str, str]]] = []
    word: list[tuple[str, str]] = []
    heredocs: list[str] = []
    i, n = 0, len(script)
    skip_next_word = False

    def end_word() -> None:
        nonlocal word, skip_next_word
        if word:
            if skip_next_word:
                skip_next_word = False
            else:
                words.append(word)
        word = []

    def end_command() -> None:
        nonlocal words
        end_word()
        if words:
            found.append(words)
        words = []

    while i < n:
        c = script[i]
        if c == "\\" and i + 1 < n:
            if script[i + 1] != "\n":
                word.append(("q", script[i + 1]))
            i += 2
        elif c == "'":
            j = script.find("'", i + 1)
            j = n if j < 0 else j
            word.append(("q", script[i + 1:j]))
            if not script[i + 1:j]:
                word.append(("q", ""))
            i = j + 1
        elif c == '"':
            i = _double_quoted(script, i + 1, word)
        elif c == "$":
            i = _dollar(script, i, word, quoted=False)
        elif c == "`":
            j = script.find("`", i + 1)
            j = n if j < 0 else j
            word.append(("u", script[i:j + 1]))
            i = j + 1
        elif c == "#" and not word:
            j = script.find("\n", i)
            i = n if j < 0 else j
        elif c in " \t":
            end_word()
            i += 1
        elif c in "\n;&|()":
            end_command()
            if c == "\n" and heredocs:
                i = _skip_heredocs(script, i + 1, heredocs)
                heredocs = []
            else:
                i += 1
        elif c in "<>":
            if word and all(m == "u" and t.isdigit() for m, t in word):
                word = []  # "2>" : the fd number is not a word
            j = i
            while j < n and script[j] in "<>&-|":
                j += 1
            op = script[i:j]
            end_word()
            if op in ("<<", "<<-"):
                m = re.match(r"\s*['\"]?([A-Za-z_0-9]+)['\"]?", script[j:])
                if m:
                    heredocs.append(m.group(1))
                    j += m.end()
            elif j < n and script[j] not in " \t\n":
                k = j
                while k < n and script[k] not in " \t\n;&|":
                    k += 1
                j = k  # target glued to the operator: 2>/dev/null, >&2
            else:
                skip_next_word = True
            i = j
        else:
            j = i
            while j < n and script[j] not in " \t\n;&|()<>'\"$`\\":
                j += 1
            word.append(("u", script[i:j]))
            i = j
    end_command()
    return found


def _double_quoted(script: str, i: int, word: list[tuple[str, str]]) -> int:
    n = len(script)
    start_len = len(word)
    while i < n and script[i] != '"':
        c = script[i]
        if c == "\\" and i + 1 < n and script[i + 1] in '"\\$`\n':
            if script[i + 1] != "\n":
                word.append(("q", script[i + 1]))
            i += 2
        elif c == "$":
            i = _dollar(script, i, word, quoted=True)
        else:
            j = i
            while j < n and script[j] not in '"\\$':
                j += 1
            j = max(j, i + 1)
            word.append(("q", script[i:j]))
            i = j
    if len(word) == start_len:
        word.append(("q", ""))
    return i + 1


def _dollar(script: str, i: int, word: list[tuple[str, str]], quoted: bool) -> int:
    """`$NAME`, `${NAME}`, `${NAME:-default}`; `$(...)` command substitution is kept as literal text."""
    mode = "V" if quoted else "v"
    rest = script[i + 1:]
    if rest.startswith("("):
        depth, j = 0, i + 1
        while j < len(script):
            depth += {"(": 1, ")": -1}.get(script[j], 0)
            j += 1
            if depth == 0:
                break
        word.append(("q" if quoted else "u", script[i:j]))
        return j
    if rest.startswith("{"):
        j = script.find("}", i)
        j = len(script) if j < 0 else j
        word.append((mode, script[i + 2:j]))
        return j + 1
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-]", rest)
    if not m:
        word.append(("q" if quoted else "u", "$"))
        return i + 1
    word.append((mode, m.group(0)))
    return i + 1 + m.end()


def _skip_heredocs(script: str, i: int, delimiters: list[str]) -> int:
    for delimiter in delimiters:
        while i < len(script):
            j = script.find("\n", i)
            line = script[i:] if j < 0 else script[i:j]
            i = len(script) if j < 0 else j + 1
            if line.strip() == delimiter:
                break
    return i


def _lookup(expr: str, env: Mapping[str, str | None], unset: Unset = "keep") -> str:
    """Value of a `${...}` expression; an unknown variable stays visible as `${NAME}` (or is empty)."""
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*|[0-9@*])(?::?([-=+?])(.*))?$", expr, re.DOTALL)
    if not m:
        return "${" + expr + "}"
    name, op, word = m.group(1), m.group(2), m.group(3) or ""
    value = env.get(name)
    if op in ("-", "=") and not value:
        return word
    if op == "+":
        return word if value else ""
    if value is None:
        return "" if unset == "empty" else "${" + name + "}"
    return value


def positional(params: list[str]) -> dict[str, str]:
    """`$0`, `$1`.., `$@`, `$*` for `sh -c SCRIPT NAME ARGS...` (Kubernetes args appended after the script)."""
    values = {str(i): p for i, p in enumerate(params[:10])}
    values["@"] = values["*"] = " ".join(params[1:])
    return values


def expand(parts: Word, env: Mapping[str, str | None], unset: Unset = "keep") -> list[str]:
    """Expand one word into fields: unquoted variables split on whitespace, quoted ones do not."""
    fields: list[str] = []
    current: str | None = None
    for mode, text in parts:
        if mode in ("q", "u"):
            current = (current or "") + text
        elif mode == "V":
            current = (current or "") + _lookup(text, env, unset)
        else:
            value = _lookup(text, env, unset)
            pieces = value.split()
            if not pieces:
                continue
            if value[:1].isspace() and current is not None:
                fields.append(current)
                current = None
            for k, piece in enumerate(pieces):
                if k == 0:
                    current = (current or "") + piece
                else:
                    fields.append(current or "")
                    current = piece
            if value[-1:].isspace():
                fields.append(current or "")
                current = None
    if current is not None:
        fields.append(current)
    return fields
