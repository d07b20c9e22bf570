"""Strip the quoted history a mail client appends to a reply, keeping what the customer wrote now."""

from __future__ import annotations

import re

# "On Tue, 3 Mar 2026 at 10:00, Ada <ada@example.org> wrote:" and its usual translations; clients wrap
# the line, so it is matched on up to three joined lines.
_WROTE = re.compile(
    r"^(on|am|le|el|il|op|em|den|w dniu)\s.{0,300}?"
    r"(wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev|napisał)(\s.{0,200}?)?\s*:\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|forwarded message)\s*-{2,}",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*_{10,}\s*$")
# Outlook puts a block of headers above the quoted message instead of a "wrote:" line.
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|von|de|van)\s*:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(sent|date|gesendet|envoyé|to|an|à|subject|betreff|objet)\s*:", re.IGNORECASE
)


def _outlook_header_at(lines: list[str], index: int) -> bool:
    if not _OUTLOOK_FROM.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 5] if line.strip()]
    return sum(bool(_OUTLOOK_NEXT.match(line)) for line in following) >= 2


def _history_starts_at(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if _ORIGINAL.match(line) or _outlook_header_at(lines, index):
            return index
        if _RULE.match(line) and index + 1 < len(lines) and _outlook_header_at(lines, index + 1):
            return index
        for span in (1, 2, 3):
            joined = " ".join(part.strip() for part in lines[index : index + span])
            if _WROTE.match(joined):
                return index
    return None


def strip_quoted(text: str) -> str:
    """The new part of a reply; the whole text when nothing new is left, so a message is never emptied."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = _history_starts_at(lines)
    if cut is not None:
        lines = lines[:cut]
    kept = [line for line in lines if not line.lstrip().startswith(">")]
    result = "\n".join(kept).strip()
    return result or text.strip()
