"""Typed text made tidy before it is saved: what every form of the project does to names and
addresses."""

from __future__ import annotations


def one_line(text: str | None) -> str:
    """Runs of spaces (tabs, newlines) become one space; none at either end."""
    return " ".join((text or "").split())


def tidy_lines(text: str | None) -> str:
    """A postal address as typed: each line made `one_line`, blank lines dropped, lines joined
    by a newline ("\\r\\n" from a browser's textarea included)."""
    return "\n".join(line for line in map(one_line, (text or "").splitlines()) if line)
