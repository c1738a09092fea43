"""Build the Faust app from settings. Building has no side effects: nothing connects until it starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import faust

from schemas.topics import TopicNames
from streams.processing.conveyances import ConveyanceEngine
from streams.processing.engine import Engine
from streams.processing.ingest import Ingestor
from streams.processing.shipments import ShipmentEngine
from streams.settings import Settings
from streams.topology import (
    ack_guard,
    cache_bounds,
    faust_drain,
    faust_recovery,
    input_placement,
    metrics,
    raw_table,
    rocksdb_memory,
    state_check,
)
from streams.topology.batching import Batcher
from streams.topology.consumer_view import caught_up_on, heard_on


# Bytes in and out: decoding is the engine's job, so a malformed record becomes a dead letter, not a crash.
def _raw() -> dict[str, faust.Schema]:
    return {"schema": faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")}


@dataclass
class Topology:
    app: faust.App
    engine: Engine
    shipments: ShipmentEngine
    topics: TopicNames
    outputs: dict[str, faust.TopicT]
    batchers: dict[str, Batcher]  # by agent: how the worker batched its input (diagnostics, tests)
    metrics: metrics.WorkerMetrics | None = None  # served at GET /metrics (streams/topology/metrics.py)


def create_app(settings: Settings, bootstrap: str) -> Topology:
    """The tracking job. Plans, events and clock ticks share one agent (they are co-partitioned by unit),
    so a unit's records are applied in partition order and its state has a single writer."""
    faust_drain.install()
    faust_recovery.install()
    rocksdb_memory.install(settings.rocksdb_memory_mb)  # one budget for every table partition's RocksDB
    cache_bounds.rescale(settings.lru_cache_scale)  # the jobs' lru caches (docs/soak.md); 1 changes nothing
    state_check.install_clear_message()
    security = settings.kafka_security()
    app = faust.App(
        settings.app_id,
        broker=",".join(f"kafka://{b}" for b in bootstrap.split(",")),
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        topic_allow_declare=True,  # Faust declares only its internal topics (changelogs)
        consumer_auto_offset_reset="earliest",
        # Fast group joins (see shared notes): the default rebalance timeout made a worker wait 30 s.
        broker_rebalance_timeout=2.0,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        web_host=settings.web_host,
        web_bind=settings.bind_address,  # Faust binds 0.0.0.0 unless told: bind what the settings say
        web_tables_enabled=False,  # Faust's /table/ pages would expose raw state; the API is the interface
        # No linger: the agents hand a whole batch's outputs to the producer at once, so its requests are already
        # batched, and a lone record's ETA update leaves at once instead of 10 ms later. Timelines are a few KB:
        # big batches mean fewer produce round trips when a backlog is worked off.
        producer_linger_ms=0,
        producer_max_batch_size=512 * 1024,
        # The engines keep every record within max_record_bytes (key and value); the client counts headers too.
        producer_max_request_size=settings.max_record_bytes + 1024,
        broker_commit_interval=settings.commit_interval,
        broker_credentials=security.faust_credentials(),  # TLS / SASL for every client Faust makes
    )
    topics = TopicNames(settings.topic_prefix)
    # Only what an agent handled is acknowledged: Faust acknowledges records its streams skip (ack_guard).
    guard = ack_guard.install(app)
    # Delete-retention inputs have no offset gaps (compacted plans do): a jump is a stale fetch, read again.
    faust_drain.gapless(app, [topics.name(r) for r in ("event", "clock", "shipment_feed", "conveyance", "boarding",
                                                   "conveyance_feed")])
    unit_inputs = [*topics.inputs, topics.name("conveyance_feed")]  # the conveyance job's fan-out, per partition
    outputs = {name: app.topic(name, **_raw()) for name in topics.outputs}
    units = _raw_table(app, "units", settings.partitions, "per-unit tracking state (plan, history, alerts)")
    clock = _raw_table(app, "clock", settings.partitions, "per-partition watermark and due-unit index")
    policy = settings.tracking_policy()
    # State is read from memory and written to the tables once per batch; the caches are dropped whenever
    # partitions move (another worker may have written them meanwhile). A cached unit takes about 41 KB of memory
    # (its decoded state 9 KB, the incremental derivation's cache beside it the rest; measured for the soak,
    # docs/soak.md): the default 20,000 take about 800 MB once that many units have been active.
    unit_tables = [raw_table.wrap(units, settings.store), raw_table.wrap(clock, settings.store)]
    engine = Engine(*unit_tables, topics, policy, write_behind=True, cached_units=settings.cached_units,
                    max_record_bytes=settings.max_record_bytes,
                    coalesce=settings.coalesce_timelines, boardings=True,
                    **settings.learning_options())  # fmt: skip
    meters = metrics.WorkerMetrics(topics)
    shipment_engine, ship_batcher, ship_metered = _add_shipments(app, topics, settings, meters)
    convey_engine, convey_batcher, convey_metered = _add_conveyances(app, topics, settings, meters)
    batcher, metered = _batched_job(app, "track", engine, unit_tables, unit_inputs, settings, meters,
                                    internal={topics.name("shipment_feed"), topics.name("boarding")})
    # The jobs write through the Kafka client (the batchers), not Faust's producer buffer.
    faust_drain.route_direct(app, [*unit_inputs, *topics.shipment_inputs, *topics.conveyance_inputs])

    def forget() -> None:
        guard.forget()
        input_placement.forget_placements(app.consumer)
        for b in (batcher, ship_batcher, convey_batcher):
            b.drop()
        engine.forget()
        shipment_engine.forget()
        convey_engine.forget()
        metered.discard()
        ship_metered.discard()
        convey_metered.discard()

    # Only on revocation (Faust revokes every partition at the start of each rebalance, after the records handed
    # to agents are acknowledged): by the time partitions are assigned, flow may have resumed, and a batch in
    # progress then is the new assignment's. Dropping it lost its records (never acknowledged, never re-read).
    @app.on_partitions_revoked.connect
    async def _forget_on_revoke(app: faust.App, revoked: object, **kwargs: object) -> None:
        forget()

    if settings.embedded_broker:
        from streams.broker.tansu import patch_highwaters, shorten_fetch_waits

        shorten_fetch_waits(settings.embedded_fetch_wait_ms)
        patch_highwaters(app.consumer, bootstrap, security)
    _watch_broker(app, bootstrap)
    _add_ingest(app, topics, settings, outputs, meters)
    topology = Topology(app, engine, shipment_engine, topics, outputs,
                        {"track": batcher, "ship": ship_batcher, "convey": convey_batcher}, meters)
    # The engines' decoded-state caches beside the lru caches: entries and bounds (the soak waits for them full).
    caches = {"units": engine.cache_fill, "shipments": shipment_engine.cache_fill,
              "rides": lambda: (len(convey_engine._loaded), convey_engine.cached_rides)}
    metrics.install(app, meters, metrics.WorkerCollector(app, topics, {
        "track": lambda: engine.fine_watermarks, "ship": lambda: shipment_engine.fine_watermarks}, caches=caches))
    # The query API and operations page are added by streams/bootstrap.py: the topology does not know its web layer.
    return topology


def _watch_broker(app: faust.App, bootstrap: str) -> None:
    """Readiness says when the broker is gone, and the log says it once (streams/broker/watch.py)."""
    from streams.broker.watch import BrokerWatch

    watch = BrokerWatch(bootstrap)
    app.corridor_broker_watch = watch  # type: ignore[attr-defined]  # read by /readyz

    @app.task
    async def watch_broker() -> None:
        await watch.run()


def _add_ingest(app: faust.App, topics: TopicNames, settings: Settings, outputs: dict[str, faust.TopicT],
                meters: metrics.WorkerMetrics) -> None:
    """Carrier formats in (one raw topic each), canonical events and dead letters out. A record is acknowledged
    once its outputs are in the producer's buffer, which Faust flushes before it commits."""
    ingestor = metrics.MeteredIngestor(Ingestor(topics, max_record_bytes=settings.max_record_bytes), meters)
    senders = {**outputs, topics.name("event"): app.topic(topics.name("event"), **_raw()),
               topics.name("road_ping"): app.topic(topics.name("road_ping"), **_raw()),
               topics.name("conveyance"): app.topic(topics.name("conveyance"), **_raw()),
               topics.name("boarding"): app.topic(topics.name("boarding"), **_raw())}  # bay plans (BAPLIE)
    raw = app.topic(*topics.raw_topics, **_raw())
    pings = app.topic(topics.name("road_ping"), **_raw())
    geofences = _raw_table(app, "geofences", settings.partitions, "per-vehicle geofence state (road pings)")
    guard = ack_guard.install(app)
    guard.reads([*topics.raw_topics, topics.name("road_ping")])

    @app.agent(raw, name="ingest", concurrency=1)
    async def ingest(stream: faust.StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            for rec in ingestor.process_raw(msg.topic, msg.partition, msg.offset, event.key, event.value,
                                            msg.timestamp):  # fmt: skip
                senders[rec.topic].send_soon(key=rec.key, value=rec.value)
            guard.handled(msg)

    @app.agent(pings, name="geofence", concurrency=1)
    async def geofence(stream: faust.StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            for rec in ingestor.process_ping(geofences, msg.topic, msg.partition, msg.offset, event.key,  # type: ignore[arg-type]
                                             event.value):  # fmt: skip
                senders[rec.topic].send_soon(key=rec.key, value=rec.value)
            guard.handled(msg)


def _add_shipments(app: faust.App, topics: TopicNames, settings: Settings,
                   meters: metrics.WorkerMetrics) -> tuple[ShipmentEngine, Batcher, metrics.MeteredEngine]:
    """The shipment job: its own agent and tables, keyed by shipment. It shares the clock topic with the
    unit job (both agents subscribe to it), so both see the same ticks."""
    from streams.core.shipments.policy import ShipmentPolicy

    shipments = _raw_table(app, "shipments", settings.partitions, "per-shipment state (plan, units, alerts)")
    clock = _raw_table(app, "shipment_clock", settings.partitions, "shipment job watermark and due index")
    policy = ShipmentPolicy(eta_min_shift=timedelta(minutes=settings.eta_min_shift_minutes))
    tables = [raw_table.wrap(shipments, settings.store), raw_table.wrap(clock, settings.store)]
    # Fewer cached than units: a shipment's state holds its units' timelines.
    engine = ShipmentEngine(*tables, topics, policy, write_behind=True, cached_shipments=settings.cached_shipments,
                            max_record_bytes=settings.max_record_bytes)  # fmt: skip
    batcher, metered = _batched_job(app, "ship", engine, tables, topics.shipment_inputs, settings, meters)
    return engine, batcher, metered


def _add_conveyances(app: faust.App, topics: TopicNames, settings: Settings, meters: metrics.WorkerMetrics
                     ) -> tuple[ConveyanceEngine, Batcher, metrics.MeteredEngine]:  # fmt: skip
    """The conveyance job (docs/design/conveyances.md): conveyance events and boardings in, keyed by ride (it
    re-keys conveyance events itself); its manifests and calls in a table; fan-out records to the unit job."""
    rides = _raw_table(app, "rides", settings.partitions, "per-ride manifest (who is aboard) and latest calls")
    table = raw_table.wrap(rides, settings.store)
    engine = ConveyanceEngine(table, topics, settings.partitions, write_behind=True,
                              cached_rides=settings.cached_rides, max_record_bytes=settings.max_record_bytes)
    batcher, metered = _batched_job(app, "convey", engine, [table], topics.conveyance_inputs, settings, meters,
                                    internal={topics.name("boarding"), topics.name("conveyance_feed")})
    return engine, batcher, metered


def _batched_job(app: faust.App, name: str, engine: object, tables: list, inputs: list[str], settings: Settings,
                 meters: metrics.WorkerMetrics, internal: set[str] | frozenset[str] = frozenset(),
                 ) -> tuple[Batcher, metrics.MeteredEngine]:  # fmt: skip
    """One keyed job: its engine metered, run in batches over its inputs (timestamp order, acknowledged once
    written), the acknowledgements guarded and its state's input positions tracked, by one agent."""
    metered = metrics.MeteredEngine(engine, name, meters)
    batcher = Batcher(metered, app.producer, tables=_raw_tables(tables), actives=app.assignor.assigned_actives,
                      **_ordered(app, inputs, settings), internal=internal)  # fmt: skip
    metrics.meter_batches(batcher, metered, meters)
    ack_guard.install(app).reads(inputs)
    input_placement.track_state(app, batcher.state_position)

    # concurrency=1: with more, faust-streaming can commit offsets past in-flight records (issue #606).
    @app.agent(app.topic(*inputs, **_raw()), name=name, concurrency=1)
    async def job(stream: faust.StreamT) -> None:
        await batcher.run(stream)

    return batcher, metered


def _ordered(app: faust.App, inputs: list[str], settings: Settings) -> dict:
    """A job takes its inputs in timestamp order (plans before events stamped the same millisecond), and stops
    the worker if it cannot write a batch."""
    return {"topics": inputs, "caught_up": caught_up_on(app.consumer), "heard": heard_on(app.consumer),
            "max_idle": settings.input_sync_idle_ms / 1000,
            "flowing": lambda: app.flow_control.is_active(),  # built when the worker runs: it needs the loop
            # A batch that cannot be written stops the worker (a process exits non-zero): its input is read again.
            "on_failure": app.crash, "handled": ack_guard.install(app).handled, "let_go": ack_guard.let_go(app),
            # Each input partition read in offset order from where it was last sought (batching's sequence check).
            "placed": input_placement.placement_of(app.consumer),
            "gapless": getattr(app, "corridor_gapless_topics", frozenset()),
            "seek": input_placement.seeker(app.consumer)}


def _raw_tables(tables: list) -> list[raw_table.RawTable]:
    return [t for t in tables if isinstance(t, raw_table.RawTable)]


def _raw_table(app: faust.App, name: str, partitions: int, help: str) -> faust.Table:
    # Large recovery batches: a rebuild applies the changelog to RocksDB in write batches of this size.
    table = app.Table(name, partitions=partitions, key_type=bytes, value_type=bytes, help=help,
                      recovery_buffer_size=10_000)
    # Faust derives table serializers from the types (json by default) and ignores a schema's; the engine
    # encodes its own values, so store and changelog carry them as they are.
    table.key_serializer = table.value_serializer = "raw"
    return table
