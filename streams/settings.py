"""Configuration from CORRIDOR_* environment variables (and command-line options that override them)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from streams.core.policy import TrackingPolicy
    from streams.kafka_security import KafkaSecurity


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", extra="ignore")

    broker: str | None = Field(
        default=None,
        description="Kafka bootstrap servers (host:port[,host:port]); unset = start or reuse the embedded broker",
    )
    app_id: str = Field(default="corridor", description="Faust app id: consumer group and changelog prefix")
    topic_prefix: str = Field(default="corridor.", description="prefix of every public topic name")
    partitions: int = Field(default=4, ge=1, description="partitions of every keyed topic (co-partitioned)")
    replication: int = Field(default=1, ge=1, description="replication factor for created topics")
    store: str = Field(default="rocksdb://", description="Faust table store: rocksdb:// or memory://")
    data_dir: Path = Field(default=Path(".corridor/data"), description="worker state (RocksDB) directory")
    cached_units: int = Field(
        default=10_000, ge=100,
        description="units whose decoded state a worker keeps in memory (about 40 KB each with its derivation "
        "cache, docs/soak.md): more is faster when many units are active, fewer bounds the worker's memory",
    )
    cached_shipments: int = Field(
        default=5_000, ge=10,
        description="shipments whose decoded state a worker keeps in memory (about 16 KB each, docs/soak.md)",
    )
    cached_rides: int = Field(
        default=2_000, ge=10,
        description="rides (vessel calls, trains, flights) the conveyance job keeps decoded (about 4 KB each)",
    )
    lru_cache_scale: float = Field(
        default=1.0, gt=0, le=16,
        description="scales the bounds of the jobs' lru caches (about 110 MB full at 1, docs/soak.md): below 1 "
        "for a small worker, or a soak that must see them full",
    )
    rocksdb_memory_mb: int = Field(
        default=256, ge=16,
        description="memory all of a worker's RocksDB stores share (block cache and memtables under one limit)",
    )
    home: Path = Field(default=Path.home() / ".corridor", description="embedded broker state file, logs")
    web_port: int = Field(default=6066, description="worker web port (Faust web views)")
    web_host: str = Field(default="127.0.0.1", description="address the worker's web server binds and advertises")
    web_enabled: bool = False
    embedded_broker: bool = Field(
        default=False,
        description="the broker is the embedded Tansu: apply its workarounds (set automatically)",
    )
    broker_data: Path | None = Field(
        default=None,
        description="where the embedded broker keeps its topics (SeaweedFS files); unset = HOME/broker",
    )
    embedded_storage: Literal["durable", "memory"] = Field(
        default="durable",
        description="embedded broker started without `corridor broker`: durable (topics kept in broker_data) or "
        "memory (lost when it stops; the demo always uses memory)",
    )
    embedded_fetch_wait_ms: int = Field(
        default=5, ge=1, le=500,
        description="on the embedded broker, how long a fetch waits while records flow (Tansu answers a fetch only "
        "after its whole wait): shorter reads records sooner, longer polls less; a consumer whose fetches come back "
        "empty doubles its wait up to 50 ms (streams/broker/tansu.py)",
    )
    commit_interval: float = Field(default=2.8, gt=0, description="seconds between offset commits (Faust)")
    eta_min_shift_minutes: int = Field(default=30, ge=0, description="smallest ETA move that is published")
    input_sync_idle_ms: int = Field(
        default=2000, ge=0,
        description="how long a job holds a record while another of its input topics may still bring an earlier "
        "one (records are taken in timestamp order across plans, events and ticks); 0: in arrival order",
    )
    max_events_per_unit: int = Field(
        default=1000, ge=10,
        description="events one unit keeps: further new events for it go to the dead-letter topic unless older "
        "ones can be forgotten (history_days; a unit's timeline is about 230 bytes per event and must fit in a "
        "Kafka message)",
    )

    max_record_bytes: int = Field(
        default=1_000_000, ge=10_000,
        description="largest record (key and value) the worker writes; it must be within the broker's "
        "message.max.bytes. An input whose result would be bigger (a timeline, or a unit's or shipment's state) "
        "goes to the dead-letter topic, state unchanged; a dead letter too big keeps the first bytes of its input",
    )

    coalesce_timelines: bool = Field(
        default=False,
        description="write one timeline per unit per batch of input, the latest (as Kafka Streams' record cache "
        "does), instead of one per change; alerts, ETA updates and unit reports are never coalesced "
        "(docs/design/outputs.md)",
    )

    history_days: int = Field(
        default=90, ge=1,
        description="a unit at its event cap forgets events this many days older than its newest (event time) to "
        "make room; with nothing that old, new events are refused",
    )

    # -- learning from history (docs/learning.md) ---------------------------------------------------------------
    learning: bool = Field(
        default=True, description="learn segment transit, hub dwell and each source's estimate error from completed "
        "legs (worker state, per partition) and predict with them; off: predictions from the plan alone")
    learned_prior: Path | None = Field(
        default=None, description="what the job starts from before it has learned anything itself: a file written by "
        "`corridor learn` from exported or replayed history")
    learn_min_samples: int = Field(
        default=8, ge=1, description="observations a learned distribution needs before predictions use it (per "
        "carrier, else per segment, else the plan)")
    eta_relative_shift: float = Field(
        default=0.03, ge=0, le=1, description="an ETA update is also held back unless the prediction moves by "
        "this fraction of the time left until it (0.03: an ETA a week out must move 5 h); eta_min_shift_minutes "
        "is the floor")

    def learning_options(self) -> dict:
        """The engine's learning arguments: on or off, the prior (read from `learned_prior`), the sample floor."""
        prior = None
        if self.learning and self.learned_prior is not None:
            from streams.core.learning.knowledge import decode_model

            prior = decode_model(self.learned_prior.read_bytes())
        return {"learning": self.learning, "prior": prior, "min_samples": self.learn_min_samples}

    # -- who may see what (docs/security.md) --------------------------------------------------------------
    auth_keys_file: Path | None = Field(
        default=None, description="YAML file of API keys (name, sha256 or key, customers) for the query API, the "
        "page and the notify API")
    auth_jwks: str | None = Field(
        default=None, description="OIDC: JWKS URL (or file) whose keys sign the access tokens accepted")
    auth_issuer: str | None = Field(default=None, description="OIDC: required `iss` of the tokens")
    auth_audience: str | None = Field(default=None, description="OIDC: required `aud` of the tokens")
    auth_customers_claim: str = Field(
        default="corridor_customers", description="OIDC: the claim naming the token's customers (or '*')")
    forward_secret: SecretStr | None = Field(
        default=None, description="shared by the workers of a group: signs the requests they forward to each "
        "other (at least 16 bytes); required for more than one worker when credentials are configured")
    web_bind: str | None = Field(
        default=None, description="address the worker's web server binds when it differs from web_host (e.g. "
        "0.0.0.0 behind a load balancer, web_host then being the name other workers reach it by)")
    allow_open: bool = Field(
        default=False, description="serve without credentials on a non-loopback address (refused otherwise)")
    rate_limit: float = Field(default=20.0, ge=0, description="requests per second per credential (0 = no limit)")
    rate_burst: int = Field(default=60, ge=1, description="requests at once per credential")

    @property
    def bind_address(self) -> str:
        return self.web_bind or self.web_host

    # -- Kafka security (TLS, SASL): streams/kafka_security.py; docs/operations.md ----------------------------
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = Field(
        default=None, description="unset: SASL_SSL/SASL_PLAINTEXT if a SASL mechanism is set (with/without TLS "
        "files), SSL if a CA or client certificate is set, else PLAINTEXT")
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle (PEM); unset = the system's CAs")
    kafka_ssl_certfile: Path | None = Field(default=None, description="client certificate (PEM), mutual TLS")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="client private key (PEM)")
    kafka_ssl_key_password: SecretStr | None = Field(default=None, description="passphrase of the private key")
    kafka_ssl_key_password_file: Path | None = Field(default=None, description="file holding that passphrase")
    kafka_ssl_check_hostname: bool = Field(default=True, description="check the broker's name against its "
                                           "certificate (the certificate is verified against the CA either way)")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_sasl_password_file: Path | None = Field(default=None, description="file holding the SASL password")

    def kafka_security(self) -> KafkaSecurity:
        from streams.kafka_security import KafkaSecurity, read_secret

        return KafkaSecurity.infer(
            self.kafka_security_protocol,
            ssl_cafile=self.kafka_ssl_cafile, ssl_certfile=self.kafka_ssl_certfile, ssl_keyfile=self.kafka_ssl_keyfile,
            ssl_key_password=read_secret(self.kafka_ssl_key_password, self.kafka_ssl_key_password_file,
                                         "CORRIDOR_KAFKA_SSL_KEY_PASSWORD"),
            ssl_check_hostname=self.kafka_ssl_check_hostname, sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=read_secret(self.kafka_sasl_password, self.kafka_sasl_password_file,
                                      "CORRIDOR_KAFKA_SASL_PASSWORD"),
        )

    def broker_data_dir(self) -> Path:
        return self.broker_data or self.home / "broker"

    def tracking_policy(self) -> TrackingPolicy:
        from streams.core.policy import TrackingPolicy  # here: reading settings does not load the core

        return TrackingPolicy(eta_min_shift=timedelta(minutes=self.eta_min_shift_minutes),
                              max_events=self.max_events_per_unit,
                              history=timedelta(days=self.history_days),
                              eta_relative_shift=self.eta_relative_shift)  # fmt: skip
