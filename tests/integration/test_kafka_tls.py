"""TLS end to end: the embedded broker behind a TLS-terminating proxy that requires a client certificate
(mutual TLS, a test CA from trustme). The worker, the publisher, the reader and the admin client reach it only
through the proxy, with corridor's security settings; a plaintext client and one without a certificate fail."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
from aiokafka.errors import KafkaConnectionError

from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker, free_port
from streams.io.kafka import OutputReader, Publisher
from streams.settings import Settings
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.story import expected, journey, plan

pytestmark = pytest.mark.integration


@dataclass
class TlsProxy:
    """Accepts TLS on `port`, requires a client certificate signed by the CA, and pipes the plaintext to the
    broker. Counts the connections that completed the handshake."""

    server_ctx: ssl.SSLContext
    upstream: int
    port: int = field(default_factory=free_port)
    handshakes: int = 0
    _server: asyncio.Server | None = None
    _tasks: set = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, ssl=self.server_ctx,
                                                  ssl_handshake_timeout=5)  # fmt: skip
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        tasks = [asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))]
        self._tasks.update(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.difference_update(tasks)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("corridor-worker@example.com")
    paths = {"ca": tmp_path / "ca.pem", "server": tmp_path / "server.pem", "client_cert": tmp_path / "client.pem",
             "client_key": tmp_path / "client.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.private_key_and_cert_chain_pem.write_to_path(str(paths["server"]))
    client.cert_chain_pems[0].write_to_path(str(paths["client_cert"]))
    client.private_key_pem.write_to_path(str(paths["client_key"]))
    return paths


@pytest.fixture
async def proxied(pki: dict[str, Path]) -> AsyncIterator[TlsProxy]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki["ca"]))
    ctx.load_cert_chain(str(pki["server"]))
    ctx.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no client certificate, no connection
    proxy_port = free_port()
    # The broker advertises the proxy, so every connection a client opens after bootstrap is TLS too.
    with EmbeddedBroker(advertised_port=proxy_port) as broker:
        proxy = TlsProxy(ctx, broker.port, proxy_port)
        await proxy.start()
        try:
            yield proxy
        finally:
            await proxy.stop()


async def test_worker_and_clients_over_mutual_tls(proxied: TlsProxy, pki: dict[str, Path], tmp_path: Path):
    tag = uuid.uuid4().hex[:8]
    settings = Settings(app_id=f"tls-{tag}", topic_prefix=f"tls{tag}.", partitions=PARTITIONS, store="rocksdb://",
                        data_dir=tmp_path / "state", home=tmp_path / "home", embedded_broker=True,
                        kafka_ssl_cafile=pki["ca"], kafka_ssl_certfile=pki["client_cert"],
                        kafka_ssl_keyfile=pki["client_key"])  # fmt: skip
    security = settings.kafka_security()
    assert security.protocol == "SSL" and security.ssl_check_hostname
    bootstrap = f"127.0.0.1:{proxied.port}"
    topics = TopicNames(settings.topic_prefix)
    await ensure_topics(bootstrap, topics.all, PARTITIONS, security=security)
    records = [plan(), *journey()]
    async with (OutputReader(bootstrap, topics, security=security) as reader, running(settings, bootstrap),
                Publisher(bootstrap, topics, PARTITIONS, security=security) as pub):
        await pub.send_all(records[:1])
        await reader.wait_for(lambda r: len(r.of("eta")) >= 1)
        await pub.send_all(records[1:])
        await reader.wait_for(lambda r: any(t["status"] == "ARRIVED" for t in r.of("timeline")))
        await reader.settle()
    want = expected(records, topics, PARTITIONS)
    assert reader.of("timeline") == want[topics.name("timeline")]
    assert reader.of("alert") == want[topics.name("alert")]
    # Admin, publisher, reader and the worker's own consumer, producer and recovery clients: all through TLS.
    assert proxied.handshakes >= 5


async def test_plaintext_and_certificateless_clients_are_refused(proxied: TlsProxy, pki: dict[str, Path]):
    bootstrap = f"127.0.0.1:{proxied.port}"
    with pytest.raises(KafkaConnectionError):
        await ensure_topics(bootstrap, ["x"], 1, timeout=1.0)
    no_cert = Settings(kafka_ssl_cafile=pki["ca"]).kafka_security()
    with pytest.raises(KafkaConnectionError):
        await ensure_topics(bootstrap, ["x"], 1, timeout=1.0, security=no_cert)
    assert proxied.handshakes == 0  # neither got through the handshake
    # The right certificate, but the broker named by a name its certificate does not hold: hostname check.
    wrong_name = Settings(kafka_ssl_cafile=pki["ca"], kafka_ssl_certfile=pki["client_cert"],
                          kafka_ssl_keyfile=pki["client_key"]).kafka_security()  # fmt: skip
    ctx = wrong_name.ssl_context()
    assert ctx is not None and ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection("127.0.0.1", proxied.port, ssl=ctx, server_hostname="kafka.example.com")
