"""Strict parsers for LLMRec's three answer formats.

Anything that is not exactly the requested format raises :class:`ParseError` with a
``reason`` (``"refusal"``, ``"malformed"``, ``"out_of_range"``, ``"same_item"``,
``"missing_field"``) that the runner counts. Nothing is guessed: a sentence that happens to
contain two numbers is *not* read as ``pos::neg`` — that would turn chatter into edges.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

__all__ = ["REFUSAL_PATTERN", "ParseError", "parse_attributes", "parse_pos_neg", "parse_profile"]

#: phrases that mark a refusal rather than an answer.
REFUSAL_PATTERN = re.compile(
    r"\b(sorry|i cannot|i can't|i can not|i am unable|i'm unable|as an ai|cannot (help|provide|determine)|"
    r"not able to|i don't have enough)\b",
    re.IGNORECASE,
)

_POS_NEG = re.compile(r"^\s*\[?\s*(\d+)\s*\]?\s*::\s*\[?\s*(\d+)\s*\]?\s*\.?\s*$")


class ParseError(ValueError):
    """An answer that does not follow the requested format."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def _strip_fences(text: str) -> str:
    t = text.strip()
    if t.startswith("```") and t.endswith("```") and len(t) >= 6:
        t = t[3:-3].strip()
        if "\n" in t and re.match(r"^[a-zA-Z]+\n", t):  # ```text\n...```
            t = t.split("\n", 1)[1].strip()
    return t


def _check_refusal(text: str) -> None:
    if not text.strip():
        raise ParseError("malformed", "empty answer")
    if REFUSAL_PATTERN.search(text):
        raise ParseError("refusal", f"the model refused: {text.strip()[:80]!r}")


def parse_pos_neg(text: str, n_candidates: int) -> tuple[int, int]:
    """``"3::7"`` → ``(2, 6)``: 0-based positions of the liked and disliked candidate.

    Candidates are shown numbered 1..``n_candidates``; the answer must be exactly two such
    numbers separated by ``::`` (optional brackets, spaces and a final period allowed).
    """
    _check_refusal(text)
    m = _POS_NEG.match(_strip_fences(text))
    if m is None:
        raise ParseError("malformed", f"expected 'pos::neg', got {text.strip()[:80]!r}")
    pos, neg = int(m.group(1)), int(m.group(2))
    for v in (pos, neg):
        if not 1 <= v <= n_candidates:
            raise ParseError("out_of_range", f"candidate {v} is not in 1..{n_candidates}")
    if pos == neg:
        raise ParseError("same_item", f"positive and negative are the same candidate ({pos})")
    return pos - 1, neg - 1


def parse_attributes(text: str, fields: Sequence[str]) -> dict[str, str]:
    """``"Steven Spielberg::USA::English"`` → ``{"director": ..., "country": ..., "language": ...}``."""
    _check_refusal(text)
    t = _strip_fences(text)
    if "\n" in t:
        raise ParseError("malformed", f"expected one line, got {t.count(chr(10)) + 1}")
    parts = [p.strip() for p in t.split("::")]
    if len(parts) != len(fields):
        raise ParseError("malformed", f"expected {len(fields)} '::'-separated fields {list(fields)}, got {len(parts)}")
    if any(not p for p in parts):
        raise ParseError("missing_field", f"an attribute is empty in {t[:80]!r}")
    for f, v in zip(fields, parts):
        _check_not_echo(f, v)
    return dict(zip(fields, parts))


def _check_not_echo(field: str, value: str) -> None:
    # small models often echo the prompt's template ("director::country", "age: <age>")
    if value.strip("<>[]{}\"' ").lower() == field.lower():
        raise ParseError("missing_field", f"field {field!r} echoes the template ({value!r})")


def parse_profile(text: str, fields: Sequence[str]) -> dict[str, str]:
    """A profile as a JSON object or ``field: value`` lines holding every field in ``fields``."""
    _check_refusal(text)
    t = _strip_fences(text)
    found: dict[str, str] = {}
    if t.startswith("{"):
        try:
            obj = json.loads(t)
        except json.JSONDecodeError as exc:
            raise ParseError("malformed", f"invalid JSON object ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise ParseError("malformed", "expected a JSON object")
        found = {
            str(k).strip().lower(): (
                "" if v is None else ", ".join(map(str, v)) if isinstance(v, list) else str(v)
            ).strip()
            for k, v in obj.items()
        }
    else:
        for line in t.splitlines():
            if not line.strip():
                continue
            if ":" not in line:
                raise ParseError("malformed", f"line without 'field: value': {line.strip()[:60]!r}")
            k, v = line.split(":", 1)
            found[k.strip().strip("-* ").lower()] = v.strip()
    out: dict[str, str] = {}
    for f in fields:
        got = found.get(f.lower())
        if got is None:
            raise ParseError("missing_field", f"profile lacks {f!r}")
        if not got:
            raise ParseError("missing_field", f"profile field {f!r} is empty")
        _check_not_echo(f, got)
        out[f] = got
    return out
