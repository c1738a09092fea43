"""The HTTP endpoints, as Faust web views (aiohttp driver) on every worker. See streams/api/__init__.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import faust
import orjson
from faust.web import Request, Response, View
from pydantic import BaseModel

from streams.api import at_risk, paging
from streams.api.models import (
    AlertPage,
    ApiError,
    AtRiskList,
    DelayedShipments,
    DelayedUnits,
    Health,
    HubList,
    HubUnits,
    Readiness,
    ShipmentDetail,
    UnitDetail,
)
from streams.api.openapi import document
from streams.api.places import LocationError, hub_place, landmarks
from streams.api.refs import RefError, parse_locode, parse_shipment_ref, parse_unit_ref
from streams.api.routing import HOP_HEADER, WORKER_HEADER, Cluster, Unavailable, signed_target
from streams.api.shipments import delayed_order as shipment_delayed_order
from streams.api.store import LocalStore, NotFound
from streams.api.units import delayed_order, hub_order
from streams.security.credentials import Forbidden, Unauthorized
from streams.security.guard import Guard, RateLimited
from streams.security.ratelimit import retry_after
from streams.security.tenants import OPEN, Tenant

log = logging.getLogger(__name__)

STATIC = {"index.html": "text/html", "app.js": "text/javascript", "shipment.js": "text/javascript",
          "app.css": "text/css", "land.json": "application/json"}


@dataclass
class Api:
    app: faust.App
    store: LocalStore
    cluster: Cluster  # owners of the units table's partitions
    shipment_cluster: Cluster | None = None  # owners of the shipments table's partitions
    guard: Guard | None = None  # credentials and rate limits; None = every caller sees everything (loopback)

    # -- answers -----------------------------------------------------------------------------------------

    def json(self, view: View, model: BaseModel | bytes, status: int = 200) -> Response:
        body = model if isinstance(model, bytes) else model.__pydantic_serializer__.to_json(model)
        return view.web.bytes(body, status=status, headers={
            "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store",
            WORKER_HEADER: self.cluster.me,
        })

    def error(self, view: View, status: int, kind: str, message: str) -> Response:
        return self.json(view, ApiError(error=kind, message=message), status)  # type: ignore[arg-type]

    async def tenant(self, request: Request) -> Tenant:
        if self.guard is None:
            return OPEN
        return await self.guard.tenant(request.method, signed_target(request.rel_url),  # type: ignore[attr-defined]
                                       request.headers, request.remote)  # type: ignore[attr-defined]

    async def guarded(self, view: View, handler: Callable[..., Any], request: Request, public: bool = False,
                      **kwargs: Any) -> Response:  # fmt: skip
        try:
            if not public:
                kwargs["tenant"] = await self.tenant(request)
            return await handler(view, request, **kwargs)
        except Unauthorized as exc:
            response = self.error(view, 401, "unauthorized", str(exc))
            given = "Authorization" in request.headers
            response.headers["WWW-Authenticate"] = 'Bearer realm="corridor"' + \
                (', error="invalid_token"' if given else "")  # type: ignore[attr-defined]  # fmt: skip
            return response
        except Forbidden as exc:
            return self.error(view, 403, "forbidden", str(exc))
        except RateLimited as exc:
            response = self.error(view, 429, "too_many_requests", str(exc))
            response.headers["Retry-After"] = retry_after(exc.wait)  # type: ignore[attr-defined]
            return response
        except RefError as exc:
            return self.error(view, 400, "bad_request", str(exc))
        except NotFound as exc:
            return self.error(view, 404, "not_found", str(exc))
        except Unavailable as exc:
            response = self.error(view, 503, "unavailable", str(exc))
            response.headers["Retry-After"] = "1"  # type: ignore[attr-defined]
            return response
        except Exception as exc:
            log.exception("api: %s failed", request.url)
            return self.error(view, 500, "internal", f"internal error ({exc.__class__.__name__}); see the worker log")

    def forwarded(self, request: Request) -> bool:
        return HOP_HEADER in request.headers

    def coverage(self, parts: set[int]) -> dict[str, Any]:
        missing = sorted(set(range(self.store.partitions)) - parts)
        return {"partitions": sorted(parts), "missing": missing, "complete": not missing}

    async def fan_out(self, request: Request, local: dict[str, Any], tenant: Tenant) -> list[dict[str, Any]]:
        """This worker's answer and every other worker's (forwarded requests answer for themselves only)."""
        answers = [local]
        others = await self.cluster.gather(str(request.rel_url), tenant)  # type: ignore[attr-defined]
        answers += [a for a in others.values() if a is not None]
        return answers

    # -- handlers ------------------------------------------------------------------------------------------

    async def unit(self, view: View, request: Request, tenant: Tenant, ref: str) -> Response:
        unit = parse_unit_ref(ref, request.query.get("kind"))
        partition = self.store.partition_of(unit.id)
        if partition in self.store.local_partitions():
            return self.json(view, UnitDetail.model_validate(self.store.unit_detail(unit, tenant.sees)))
        return await self.at_owner(view, request, self.cluster, partition, unit.id, tenant)

    async def at_owner(self, view: View, request: Request, cluster: Cluster, partition: int, key: str,
                       tenant: Tenant) -> Response:  # fmt: skip
        """Forward the request to the worker that owns `partition` and answer what it answered."""
        if self.forwarded(request):
            raise Unavailable(f"partition {partition} of {key} is moving between workers; retry shortly")
        if cluster.signer is None and self.guard is not None and self.guard.required:
            raise Unavailable(f"partition {partition} of {key} is served by another worker, and without a "
                              "forwarding secret (CORRIDOR_FORWARD_SECRET) workers do not ask each other")
        owner = cluster.owner(partition)
        if owner is None or owner == cluster.me:
            raise Unavailable(f"no worker serves partition {partition} of {key} yet (the group is starting or "
                              "rebalancing); retry shortly")
        answer = await cluster.forward(owner, str(request.rel_url), tenant=tenant)  # type: ignore[attr-defined]
        return view.web.bytes(answer.body, status=answer.status, headers={
            "Content-Type": f"{answer.content_type}; charset=utf-8", "Cache-Control": "no-store",
            WORKER_HEADER: answer.worker,
        })

    async def alerts(self, view: View, request: Request, tenant: Tenant) -> Response:
        q = request.query
        open_ = paging.parse_open(q.get("open"))
        severities = paging.parse_severities(q.get("severity"))
        limit = paging.parse_limit(q.get("limit"))
        after = paging.decode_cursor(q.get("cursor"))
        about = paging.parse_about(q.get("about"))
        found = [*(self.store.alerts_list(open_, severities, tenant.sees) if "unit" in about else []),
                 *(self.store.shipment_alerts_list(open_, severities, tenant.sees) if "shipment" in about else [])]
        items, cursor = paging.page(found, after, limit)
        local = AlertPage.model_validate({"open": open_, "items": items, "next_cursor": cursor,
                                          "coverage": self.coverage(self.store.local_partitions())})
        if self.forwarded(request):
            return self.json(view, local)
        answers = await self.fan_out(request, local.model_dump(mode="json"), tenant)
        merged, cursor = paging.page([i for a in answers for i in a["items"]], after, limit,
                                     more_beyond=any(a["next_cursor"] for a in answers))
        parts = {p for a in answers for p in a["coverage"]["partitions"]}
        return self.json(view, AlertPage.model_validate({"open": open_, "items": merged, "next_cursor": cursor,
                                                         "coverage": self.coverage(parts)}))

    async def delayed(self, view: View, request: Request, tenant: Tenant) -> Response:
        return await self._urgent_list(view, request, tenant, DelayedUnits, self.store.delayed(tenant.sees),
                                       self.store.local_partitions(), delayed_order)  # fmt: skip

    async def delayed_shipments(self, view: View, request: Request, tenant: Tenant) -> Response:
        return await self._urgent_list(view, request, tenant, DelayedShipments,
                                       self.store.delayed_shipments(tenant.sees), self.store.shipment_partitions(),
                                       shipment_delayed_order)  # fmt: skip

    async def _urgent_list(self, view: View, request: Request, tenant: Tenant, model: type[BaseModel],
                           rows: list[dict[str, Any]], local_parts: set[int], order: Callable[[Any], Any]
                           ) -> Response:  # fmt: skip
        """A list of every worker's rows, most urgent first (`order`), cut at `limit`, with its total."""
        limit = paging.parse_limit(request.query.get("limit") or str(paging.MAX_LIMIT))
        local = model.model_validate({"items": rows, "total": len(rows), "coverage": self.coverage(local_parts)})
        if self.forwarded(request):
            return self.json(view, local)
        answers = await self.fan_out(request, local.model_dump(mode="json"), tenant)
        rows = sorted((r for a in answers for r in a["items"]), key=order)
        parts = {p for a in answers for p in a["coverage"]["partitions"]}
        return self.json(view, model.model_validate({
            "items": rows[:limit], "total": len(rows), "coverage": self.coverage(parts)}))

    async def at_risk(self, view: View, request: Request, tenant: Tenant) -> Response:
        """Units and shipments predicted to miss their plan or promise beyond tolerance (see at_risk.py)."""
        return await self._urgent_list(view, request, tenant, AtRiskList, self.store.at_risk(tenant.sees),
                                       self.store.local_partitions(), at_risk.order)  # fmt: skip

    async def hubs(self, view: View, request: Request, tenant: Tenant) -> Response:
        return self.json(view, HubList.model_validate({"items": landmarks()}))

    async def hub_units(self, view: View, request: Request, tenant: Tenant, locode: str) -> Response:
        code = parse_locode(locode)
        try:
            hub = hub_place(code)
        except LocationError as exc:
            raise NotFound(f"unknown hub {code}: {exc}") from None
        at, bound = self.store.hub(code, tenant.sees)
        local = HubUnits.model_validate({"hub": hub, "at": at, "bound": bound,
                                         "coverage": self.coverage(self.store.local_partitions())})
        if self.forwarded(request):
            return self.json(view, local)
        answers = await self.fan_out(request, local.model_dump(mode="json"), tenant)
        parts = {p for a in answers for p in a["coverage"]["partitions"]}
        return self.json(view, HubUnits.model_validate({
            "hub": hub,
            "at": sorted((r for a in answers for r in a["at"]), key=lambda r: r["unit"]["id"]),
            "bound": sorted((r for a in answers for r in a["bound"]), key=hub_order),
            "coverage": self.coverage(parts),
        }))

    async def shipment(self, view: View, request: Request, tenant: Tenant, ref: str) -> Response:
        kind = request.query.get("kind")
        shipment = parse_shipment_ref(ref, kind)
        partition = self.store.partition_of(shipment.id)
        if partition in self.store.shipment_partitions():
            body = self.store.shipment_detail(shipment, kind_given=bool(kind) or shipment.kind.value == "AIR_WAYBILL",
                                              sees=tenant.sees)
            return self.json(view, ShipmentDetail.model_validate(body))
        cluster = self.shipment_cluster or self.cluster
        return await self.at_owner(view, request, cluster, partition, shipment.id, tenant)

    async def not_found(self, view: View, request: Request, tenant: Tenant, tail: str = "") -> Response:
        raise NotFound(f"no endpoint {request.url.path}; see /api/openapi.json")  # type: ignore[attr-defined]

    async def openapi(self, view: View, request: Request) -> Response:
        return self.json(view, orjson.dumps(document()))

    async def healthz(self, view: View, request: Request) -> Response:
        if getattr(self.app, "crashed", False):
            return self.error(view, 503, "unavailable", "the worker has crashed")
        return self.json(view, Health(status="ok", worker=self.cluster.me))

    async def readyz(self, view: View, request: Request) -> Response:
        app = self.app
        try:
            assigned = bool(app.consumer.assignment())
        except Exception:
            assigned = False
        recovered = app.tables.recovery.completed.is_set()
        rebalancing = bool(app.rebalancing)
        watch = getattr(app, "corridor_broker_watch", None)  # streams/broker/watch.py
        reason = watch.reason() if watch is not None else None
        if reason is None and not assigned:
            reason = "no partitions assigned yet"
        elif reason is None and not recovered:
            reason = "table recovery is in progress"
        elif reason is None and rebalancing:
            reason = "the group is rebalancing"
        body = Readiness(ready=reason is None, worker=self.cluster.me, partitions=sorted(self.store.local_partitions()),
                         recovery_completed=recovered, rebalancing=rebalancing, reason=reason)
        return self.json(view, body, 200 if reason is None else 503)

    async def static(self, view: View, request: Request, name: str = "index.html") -> Response:
        if name not in STATIC:
            raise NotFound(f"no file {name}")
        body = (files("streams.api") / "web" / name).read_bytes()
        return view.web.bytes(body, headers={"Content-Type": f"{STATIC[name]}; charset=utf-8",
                                             "Cache-Control": "no-cache"})


# path -> handler name; the OpenAPI document covers the /api paths and a test checks they agree.
ROUTES: tuple[tuple[str, str], ...] = (
    ("/", "static"),
    ("/static/{name}", "static"),
    ("/healthz", "healthz"),
    ("/readyz", "readyz"),
    ("/api/openapi.json", "openapi"),
    ("/api/units/{ref}", "unit"),
    ("/api/alerts", "alerts"),
    ("/api/delayed", "delayed"),
    ("/api/delayed/shipments", "delayed_shipments"),
    ("/api/at-risk", "at_risk"),
    ("/api/hubs", "hubs"),
    ("/api/hubs/{locode}/units", "hub_units"),
    ("/api/shipments/{ref}", "shipment"),
    ("/api/{tail:.*}", "not_found"),
)


# Answered without credentials: the page and its assets (it signs in itself), probes, the API description.
PUBLIC = frozenset({"static", "healthz", "readyz", "openapi"})


def add_views(app: faust.App, api: Api) -> None:
    """One Faust view per route, in ROUTES order (the catch-all last), each answering through Api.guarded."""
    for i, (path, name) in enumerate(ROUTES):
        handler = getattr(Api, name)

        async def get(self: View, request: Request, _handler: Callable = handler, _public: bool = name in PUBLIC,
                      **kwargs: Any) -> Response:  # fmt: skip
            return await api.guarded(self, lambda v, r, **kw: _handler(api, v, r, **kw), request, _public, **kwargs)

        view = type(f"corridor_{name}_{i}", (View,), {"get": get, "__doc__": handler.__doc__})
        app.page(path, name=f"corridor-{i}-{name}")(view)
