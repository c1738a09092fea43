"""Schemathesis, from the gateway's own OpenAPI document, against the gateway on the real broker: generated
requests (valid and invalid bodies, headers, formats) never get a 5xx, and every answer matches the document."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.connectors.gateway import create_app
from streams.connectors.openapi import document
from streams.connectors.sink import RawSink
from streams.feeds.registry import FORMATS
from tests.integration.connectors_support import INGEST_KEY, gateway_config

pytestmark = pytest.mark.integration
schema = schemathesis.openapi.from_dict(document(list(FORMATS)))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def gateway_url(bootstrap: str) -> Iterator[str]:
    """The gateway in a thread of its own (schemathesis calls it synchronously)."""
    from aiohttp import web

    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}
    topics = TopicNames(f"st{uuid.uuid4().hex[:8]}.")

    async def start() -> None:
        await ensure_topics(bootstrap, topics.all, 4)
        runner = web.AppRunner(create_app(gateway_config(max_body_bytes=200_000), RawSink(bootstrap, topics)),
                               access_log=None)  # fmt: skip
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        box["runner"], box["url"] = runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert started.wait(30), "gateway did not start"
    yield str(box["url"])
    asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(10)  # type: ignore[attr-defined]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_answers_as_documented(case, gateway_url):
    # Half the cases carry a valid key, so they get past authentication into the parts that read the body.
    headers = {"X-API-Key": INGEST_KEY} if hash(repr(case.body)) % 2 == 0 else {}
    if case.headers and "Authorization" in case.headers and headers:
        del case.headers["Authorization"]
    case.call_and_validate(base_url=gateway_url, headers=headers, checks=CHECKS)
