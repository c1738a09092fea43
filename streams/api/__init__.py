"""Query API and the operations web page, served by the Faust workers themselves.

`register(topology, settings)` adds to the tracking app, when `settings.web_enabled` (streams/bootstrap.py calls
it; the topology itself does not know its web layer):
- the `api-index` agent and its tables `api_alerts` and `api_eta` (streams/api/index.py), which keep every
  alert and ETA update published per unit, co-partitioned with the `units` table, and `api_shipment_alerts` and
  `api_shipment_eta`, the same per shipment, co-partitioned with the `shipments` table;
- the web views (streams/api/views.py): `/api/...` (OpenAPI 3.1 at /api/openapi.json), `/healthz`, `/readyz`
  and the page at `/` with its assets (streams/api/web/).

Every worker answers every request: a unit's (shipment's) request is forwarded to the worker that owns the
unit's (shipment's) partition and lists are gathered from all workers (streams/api/routing.py). Every worker
of a group must therefore have the web server on (and the same settings), and each must be reachable at its
canonical URL (http://{web_host}:{web_port})."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.settings import Settings
    from streams.topology.app import Topology

_MARK = "_corridor_api"


def register(topology: Topology, settings: Settings) -> bool:
    """Add the API to the app before it starts. Idempotent; does nothing (returns False) when the web
    server is off, so the tracking job alone gains no agent, table or topic."""
    if not settings.web_enabled:
        return False
    app = topology.app
    if getattr(app, _MARK, None) is not None:
        return True
    from streams.api.index import add_index
    from streams.api.routing import Cluster
    from streams.api.store import LocalStore, ShipmentTables
    from streams.api.views import Api, add_views
    from streams.security import quietlog
    from streams.security.setup import api_guard

    guard = api_guard(settings)  # refuses (OpenExposure, ConfigError) before anything is added to the app
    quietlog.install()
    index = add_index(app, topology.topics, settings.partitions)
    units, clock = app.tables["units"], app.tables["clock"]
    shipments = ShipmentTables(app.tables["shipments"], app.tables["shipment_clock"], index.shipment_alerts,
                               index.shipment_etas, topology.shipments.policy,
                               topology.shipments.fine_watermarks)
    store = LocalStore(app, units, clock, index.alerts, index.etas, settings.partitions, topology.engine.policy,
                       topology.engine.fine_watermarks, shipments)
    api = Api(app, store, Cluster(app, "units", settings.partitions, guard.signer),
              Cluster(app, "shipments", settings.partitions, guard.signer), guard)
    _drop_faust_index(app)
    add_views(app, api)
    setattr(app, _MARK, api)
    return True


def _drop_faust_index(app: object) -> None:
    """Faust mounts its own index ({"status": "OK"}, or sensor statistics) at "/"; the page replaces it."""
    blueprints = app.web.blueprints  # type: ignore[attr-defined]
    blueprints._enabled = [(prefix, bp) for prefix, bp in blueprints._enabled
                           if bp not in ("faust.web.apps.production_index:blueprint", "faust.web.apps.stats:blueprint")]
