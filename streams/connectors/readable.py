"""Is a body readable as its format at all? The gateway's quick check before publishing (the worker's parser
judges the content): a body that fails it is answered 400 and goes to the dead-letter topic instead."""

from __future__ import annotations

import orjson
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

_JSON = {"dcsa-tnt-2.2", "dcsa-tnt-3.0", "epcis-2.0", "road-pings", "iata-one-record"}
_XML = {"iata-xfsu"}


def unreadable(fmt: str, body: bytes) -> str | None:
    """Why `body` cannot be a `fmt` message, or None if it may be one."""
    if not body.strip():
        return "the body is empty"
    if fmt in _JSON:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return f"the body is not JSON ({exc})"
        if not isinstance(doc, dict | list):
            return f"a {fmt} body is a JSON object or array, not {type(doc).__name__}"
        if fmt.startswith("dcsa-") and isinstance(doc, dict) and not isinstance(doc.get("events", doc), list | dict):
            return "a DCSA body is an event, an array of events or {\"events\": [...]}"
    elif fmt in _XML:
        try:
            ElementTree.fromstring(body)
        except (ElementTree.ParseError, DefusedXmlException) as exc:
            return f"the body is not well-formed XML ({exc})"
    return None


def dcsa_version_problem(fmt: str, body: bytes) -> str | None:
    """A DCSA endpoint takes only its own version (the sniffs tell 3.0 from 2.2)."""
    from streams.feeds.registry import FORMATS

    if (problem := unreadable(fmt, body)) is not None:
        return problem
    if not FORMATS[fmt].sniff(body):
        return f"the body is not a {fmt} message"
    return None
