"""Format registry: detection order, named parsing, unknown formats."""

from __future__ import annotations

import subprocess
import sys

import pytest

from schemas.topics import RAW_FORMATS, TopicNames
from streams.feeds.registry import FORMATS, detect, parse
from tests.unit.feeds.conftest import RECEIVED, load

MINE = ["edifact", "dcsa-tnt-3.0", "dcsa-tnt-2.2", "epcis-2.0", "rail-events", "road-pings"]


def test_my_formats_are_registered_with_descriptions() -> None:
    for name in MINE:
        assert FORMATS[name].name == name and FORMATS[name].description


@pytest.mark.parametrize(
    ("sample", "name"),
    [("dcsa-tnt-220-response.json", "dcsa-tnt-2.2"), ("dcsa-tnt-300-response.json", "dcsa-tnt-3.0"),
     ("dcsa-tnt-300-request-transport.json", "dcsa-tnt-3.0"), ("edifact-codeco-manila.edi", "edifact"),
     ("edifact-iftsta-rail.edi", "edifact"), ("edifact-coarri-jakarta.edi", "edifact"),
     ("epcis-objectevent-9.6.1.jsonld", "epcis-2.0"), ("epcis-container-own.jsonld", "epcis-2.0"),
     ("rail-x8017.csv", "rail-events"), ("rail-x8017.json", "rail-events"),
     ("road-pings-duisburg.json", "road-pings")],
)  # fmt: skip
def test_detection(sample: str, name: str) -> None:
    fmt = detect(load(sample))
    assert fmt is not None and fmt.name == name


def test_parse_with_detection_and_by_name_agree() -> None:
    data = load("edifact-codeco-manila.edi")
    assert parse(data, None, RECEIVED) == parse(data, "edifact", RECEIVED)
    assert parse(data, None, RECEIVED, source="ictsi").events[0].source == "ictsi"


def test_unknown_and_undetectable() -> None:
    (r,) = parse(b"hello", None, RECEIVED).rejections
    assert r.reason.startswith("format not recognised: no adapter's sniff accepted the message")
    (r,) = parse(b"{}", "teletype", RECEIVED).rejections
    assert r.reason.startswith("unknown format 'teletype' (known: ")
    assert detect(b"") is None and detect(b"   ") is None


def test_every_format_is_registered_in_detection_order() -> None:
    assert list(FORMATS) == ["edifact", "iata-fsu", "iata-ffm", "iata-xfsu", "iata-one-record", "dcsa-tnt-3.0",
                             "dcsa-tnt-2.2", "epcis-2.0", "rail-events", "road-pings"]  # fmt: skip


def test_the_topic_contract_has_a_raw_topic_for_every_format_and_no_other() -> None:
    """schemas/topics.py names the formats (the contracts import no adapter): the two lists must not drift."""
    assert tuple(FORMATS) == RAW_FORMATS
    assert TopicNames().raw_topics == [f"corridor.raw.{name}" for name in FORMATS]


# A fresh interpreter in which one adapter module fails to import, as one with a missing name or dependency would.
_BROKEN_ADAPTER = """
import importlib.abc, importlib.machinery, sys

class Broken(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        return importlib.machinery.ModuleSpec(name, self) if name == "streams.feeds.iata.xfsu" else None
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        raise ImportError("cannot import name 'gone' (adapter broken on purpose)")

sys.meta_path.insert(0, Broken())
import streams.feeds.registry
print("registry imported with", sorted(streams.feeds.registry.FORMATS))
"""


def test_a_broken_adapter_module_stops_the_registry_with_its_error() -> None:
    """Before, the registry skipped an adapter whose module failed to import: its format vanished and its messages
    were dead-lettered as "format not recognised"."""
    result = subprocess.run([sys.executable, "-c", _BROKEN_ADAPTER], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout
    assert "ImportError: cannot import name 'gone' (adapter broken on purpose)" in result.stderr
    assert "registry imported" not in result.stdout
