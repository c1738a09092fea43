"""EDIFACT syntax, read with pydifact: the service string advice (UNA), line breaks, UNH..UNT messages (a syntax error
spoils only the message it sits in), and segment groups. `Reject` carries a reason that rejects what is being read."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pydifact.control.characters import Characters
from pydifact.exceptions import EDISyntaxError
from pydifact.exceptions import ValidationError as EdifactValidationError
from pydifact.parser import Parser
from pydifact.segments import Segment


class Reject(Exception):
    pass


# What pydifact raises on malformed input (its ValidationError is not a ValueError).
SYNTAX_ERRORS = (EDISyntaxError, EdifactValidationError, ValueError, IndexError, KeyError, TypeError)


def element(seg: Segment, i: int, j: int = 0) -> str:
    """Component j of element i, '' when absent (pydifact gives str for simple and list for composite elements)."""
    els = seg.elements
    if i >= len(els):
        return ""
    value = els[i]
    if isinstance(value, list):
        return value[j].strip() if j < len(value) and isinstance(value[j], str) else ""
    return value.strip() if j == 0 and isinstance(value, str) else ""


@dataclass
class Message:
    kind: str
    reference: str
    segments: list[Segment]
    text: str



def _characters(text: str) -> tuple[Characters, str]:
    if text.startswith("UNA"):
        chars = Characters.from_str(text[:9])
        return chars, text
    return Characters(), text


def _strip_breaks(text: str, chars: Characters) -> str:
    if chars.segment_terminator in "\r\n":
        return text  # a newline is the terminator itself: keep it
    # line-per-segment, indented and wrapped lines alike
    return "".join(line.strip(" \t") for line in text.splitlines())


def _tokenize(text: str, chars: Characters) -> list[Segment]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydifact warns about missing directory files for every service segment
        return list(Parser().parse(text, characters=chars))


def split_messages(text: str) -> Iterator[Message]:
    """UNH..UNT messages. A syntax error spoils only the message it sits in: the interchange is re-split at UNH."""
    try:
        chars, text = _characters(text)
    except SYNTAX_ERRORS:  # pydifact raises its own ValidationError for a short UNA
        raise Reject("UNA: service string advice is malformed (6 characters after UNA expected)") from None
    text = _strip_breaks(text, chars)
    try:
        segments = _tokenize(text, chars)
        chunks = [(segments, text)]
    except SYNTAX_ERRORS:
        marker = f"{chars.segment_terminator}UNH{chars.data_separator}"
        parts = text.split(marker)
        chunks = []
        for i, part in enumerate(parts):
            body = part if i == 0 else f"UNH{chars.data_separator}{part}"
            try:
                chunks.append((_tokenize(body, chars), body))
            except SYNTAX_ERRORS:
                yield Message("!", body[:40], [], body)  # reported as unreadable, the others go on
    for segs, _text in chunks:
        current: list[Segment] | None = None
        for seg in segs:
            if seg.tag == "UNH":
                current = [seg]
            elif current is not None:
                current.append(seg)
                if seg.tag == "UNT":
                    yield _message(current, chars)
                    current = None
        if current:  # no UNT: still worth reading
            yield _message(current, chars)


def _message(segments: list[Segment], chars: Characters) -> Message:
    return Message(element(segments[0], 1).upper(), element(segments[0], 0), segments, _render(segments, chars))


def _render(segments: Sequence[Segment], chars: Characters) -> str:
    out = []
    for seg in segments:
        els = [chars.component_separator.join(e) if isinstance(e, list) else str(e) for e in seg.elements]
        out.append(chars.data_separator.join([seg.tag, *els]) + chars.segment_terminator)
    return "".join(out)



def segment_groups(segments: Sequence[Segment], starts: str, stops: Sequence[str]) -> Iterator[list[Segment]]:
    current: list[Segment] | None = None
    for seg in segments:
        if seg.tag == starts:
            if current:
                yield current
            current = [seg]
        elif seg.tag in stops:
            if current:
                yield current
            current = None
        elif current is not None:
            current.append(seg)
    if current:
        yield current
