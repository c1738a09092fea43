"""Carrier-side test doubles: DCSA events and a fake carrier API (DCSA T&T 2.2 and 3.0 `GET /events`, with
cursor paging, filters, OAuth2 client credentials and injected 429/5xx), served by aiohttp on 127.0.0.1."""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
from aiohttp import web
from stdnum import iso6346

LOCODES = ["NLRTM", "DEHAM", "BEANR", "FRLEH", "ESVLC", "ITGOA", "GBFXT", "PLGDN"]


def container(n: int) -> str:
    base = f"TGHU{n:06d}"
    return base + iso6346.calc_check_digit(base)


def event_v22(n: int, created: datetime, unit: str | None = None, code: str = "LOAD") -> dict:
    return {
        "eventID": f"e22-{n:05d}", "eventCreatedDateTime": created.isoformat().replace("+00:00", "Z"),
        "eventType": "EQUIPMENT", "eventClassifierCode": "ACT",
        "eventDateTime": (created - timedelta(minutes=5)).isoformat(), "equipmentEventTypeCode": code,
        "equipmentReference": unit or container(n), "ISOEquipmentCode": "22GP", "emptyIndicatorCode": "LADEN",
        "eventLocation": {"UNLocationCode": LOCODES[n % len(LOCODES)]},
        "transportCall": {"UNLocationCode": LOCODES[n % len(LOCODES)], "modeOfTransport": "VESSEL",
                          "carrierServiceCode": "FE1", "exportVoyageNumber": "2103S"},
    }


def event_v30(n: int, at: datetime) -> dict:
    return {
        "eventID": f"e30-{n:05d}", "eventDateTime": (at - timedelta(minutes=5)).isoformat(),
        "eventCreatedDateTime": at.isoformat(), "eventUpdatedDateTime": at.isoformat(),
        "eventLocation": {"UNLocationCode": LOCODES[n % len(LOCODES)]},
        "eventClassification": {"eventType": "EQUIPMENT", "eventClassifier": "ACTUAL", "equipmentEventType": "LOADED"},
        "equipmentDetails": {"equipmentReference": container(n), "ISOEquipmentCode": "22GP",
                             "emptyIndicatorCode": "LADEN"},
    }


@dataclass
class FakeCarrier:
    """GET /v2/events (Next-Page link header) and /v3/events (Next-Page-Cursor header), POST /oauth/token."""

    events: list[dict] = field(default_factory=list)
    client_id: str = "corridor"
    client_secret: str = "s3cret-client"
    api_key: str | None = None
    faults: deque = field(default_factory=deque)  # (status, Retry-After or None) answered before real pages
    requests: list[dict] = field(default_factory=list)
    tokens_issued: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeCarrier:
        app = web.Application()
        app.router.add_post("/oauth/token", self._token)
        app.router.add_get("/v2/events", self._events)
        app.router.add_get("/v3/events", self._events)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if form.get("grant_type") != "client_credentials" or auth != expected:
            return web.json_response({"error": "invalid_client"}, status=401)
        self.tokens_issued += 1
        return web.json_response({"access_token": f"tok-{self.tokens_issued}", "token_type": "Bearer",
                                  "expires_in": 3600})

    def _authorised(self, request: web.Request) -> bool:
        if self.api_key is not None:
            return request.headers.get("API-Key") == self.api_key
        return request.headers.get("Authorization", "").startswith("Bearer tok-")

    async def _events(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.requests.append({"path": request.path, **q})
        if not self._authorised(request):
            return web.json_response({"errors": [{"reason": "unauthorized"}]}, status=401)
        if self.faults:
            status, after = self.faults.popleft()
            headers = {"Retry-After": after} if after is not None else {}
            return web.json_response({"errors": [{"reason": "try later"}]}, status=status, headers=headers)
        v3 = request.path.startswith("/v3")
        if "cursor" in q:  # the cursor carries the whole query: limit, offset and filters, as DCSA's do
            q = orjson.loads(base64.urlsafe_b64decode(q["cursor"]))
        limit = int(q.get("limit", 100))
        offset = int(q.get("offset", 0))
        matching = self._filter(q, v3)
        page = matching[offset:offset + limit]
        headers = {"API-Version": "3.0.0" if v3 else "2.2.0"}
        if offset + limit < len(matching):
            cursor = base64.urlsafe_b64encode(orjson.dumps({**q, "offset": offset + limit})).decode()
            if v3:
                headers["Next-Page-Cursor"] = cursor
            else:
                headers["Next-Page"] = f"{self.base}{request.path}?cursor={cursor}"
        return web.Response(body=orjson.dumps(page), content_type="application/json", headers=headers)

    def _filter(self, q: dict, v3: bool) -> list[dict]:
        out = list(self.events)
        if "equipmentReference" in q:
            wanted = set(q["equipmentReference"].split(","))
            out = [e for e in out if (e.get("equipmentReference") or e.get("equipmentDetails", {})
                                      .get("equipmentReference")) in wanted]
        types = q.get("eventTypes" if v3 else "eventType")
        if types:
            wanted = set(types.split(","))
            out = [e for e in out if (e.get("eventClassification", {}).get("eventType") if v3
                                      else e.get("eventType")) in wanted]
        bound = q.get("eventUpdatedDateTime:gte" if v3 else "eventCreatedDateTime:gte")
        if bound:
            since = datetime.fromisoformat(bound)
            field_ = "eventUpdatedDateTime" if v3 else "eventCreatedDateTime"
            out = [e for e in out if datetime.fromisoformat(e[field_]) >= since]
        return sorted(out, key=lambda e: datetime.fromisoformat(e["eventCreatedDateTime"]))


T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
