"""Input bigger than a Kafka record (issue 26, item 4): a 1.58 MB EDIFACT interchange through `corridor publish`
and through the gateway is cut at its messages and every part fits; a single oversized message is refused."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
import orjson
import pytest
from typer.testing import CliRunner

from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.cli import app
from tests.integration.connectors_support import INGEST_KEY, gateway, read_topic

pytestmark = pytest.mark.integration
SAMPLES = Path(__file__).parents[1] / "unit" / "feeds" / "samples"


def big_interchange(messages: int) -> bytes:
    """One interchange of `messages` copies of the Manila CODECO message (21 segments each: 63,000 at 3,000)."""
    text = (SAMPLES / "edifact-codeco-manila.edi").read_bytes().decode("latin-1")
    unh, unz = text.index("UNH"), text.index("UNZ")
    ref = text[unz:].split("+")[2]
    return (text[:unh] + text[unh:unz] * messages + f"UNZ+{messages}+{ref}").encode("latin-1")


def test_publish_cuts_a_big_edifact_interchange(bootstrap, tmp_path, monkeypatch):
    names = TopicNames(f"big{uuid.uuid4().hex[:8]}.")
    monkeypatch.setenv("CORRIDOR_TOPIC_PREFIX", names.prefix)
    monkeypatch.setenv("CORRIDOR_HOME", str(tmp_path / "home"))
    data = big_interchange(3000)
    assert len(data) > 1_500_000 and data.count(b"'") > 40_000
    path = tmp_path / "interchange.edi"
    path.write_bytes(data)
    result = CliRunner().invoke(app, ["publish", str(path), "--broker", bootstrap])
    assert result.exit_code == 0, result.output
    assert "records cut at message boundaries" in result.output
    raw = asyncio.run(read_topic(bootstrap, names.raw("edifact"), at_least=2))
    assert len(raw) >= 2 and all(len(m.value) <= 1_000_000 for m in raw)
    assert sum(m.value.count(b"UNH+") for m in raw) == 3000

    huge = b'[{"eventID": "' + b"x" * 1_100_000 + b'"}]'
    path.write_bytes(huge)
    result = CliRunner().invoke(app, ["publish", str(path), "--format", "dcsa-tnt-2.2", "--broker", bootstrap])
    assert result.exit_code == 2 and "one event alone" in result.output and "nothing was sent" in result.output


async def test_the_gateway_cuts_a_big_body_and_refuses_an_uncuttable_one(bootstrap):
    names = TopicNames(f"bigg{uuid.uuid4().hex[:8]}.")
    await ensure_topics(bootstrap, names.all, 4)
    data = big_interchange(3000)
    async with gateway(bootstrap, names) as url, aiohttp.ClientSession(headers={"X-API-Key": INGEST_KEY}) as http:
        async with http.post(f"{url}/ingest/edifact", data=data) as r:
            assert r.status == 202, await r.text()
            answer = await r.json()
        async with http.post(f"{url}/ingest/iata-xfsu", data=b"<a>" + b"x" * 1_100_000 + b"</a>") as r:
            assert r.status == 413
            refused = await r.json()
    assert len(answer["parts"]) >= 2 and answer["parts"][0]["offset"] == answer["offset"]
    raw = await read_topic(bootstrap, names.raw("edifact"), at_least=len(answer["parts"]))
    assert len(raw) == len(answer["parts"]) and sum(m.value.count(b"UNH+") for m in raw) == 3000
    letters = [orjson.loads(m.value) for m in await read_topic(bootstrap, names.name("dead_letter"), at_least=1)]
    assert refused["dead_letter"]["topic"] == names.name("dead_letter")
    assert len(letters) == 1 and "does not know where" in letters[0]["reason"] and letters[0]["original_size"]
