"""Build land.json, the coastlines drawn under the page's map, from Natural Earth's 1:110m land polygons.

Source: `land-110m.json` (TopoJSON) of the npm package world-atlas 2.0.2 (ISC licence; Natural Earth data is
in the public domain). Kept: polygons that reach the Asia-Europe corridor (lon -30..160, lat -50..80), rounded
to 0.1 degree, with points closer than 0.25 degree to the previous one dropped. Run once, offline:

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python streams/api/web/build_land.py package/land-110m.json > streams/api/web/land.json
"""

from __future__ import annotations

import json
import sys

BOX = (-30.0, -50.0, 160.0, 80.0)  # lon0, lat0, lon1, lat1
STEP = 0.25


def arcs_of(topo: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    out = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((x * sx + tx, y * sy + ty))
        out.append(pts)
    return out


def ring(arcs: list[list[tuple[float, float]]], refs: list[int]) -> list[tuple[float, float]]:
    pts: list[tuple[float, float]] = []
    for r in refs:
        seg = arcs[r] if r >= 0 else list(reversed(arcs[~r]))
        pts.extend(seg[1:] if pts else seg)
    return pts


def simplify(pts: list[tuple[float, float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for lon, lat in pts:
        if out and abs(out[-1][0] - lon) < STEP and abs(out[-1][1] - lat) < STEP:
            continue
        out.append([round(lon, 1), round(lat, 1)])
    return out


def main(path: str) -> None:
    with open(path) as f:
        topo = json.load(f)
    arcs = arcs_of(topo)
    rings = []
    for geom in topo["objects"]["land"]["geometries"]:
        polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        for poly in polys:
            outer = ring(arcs, poly[0])
            lons, lats = [p[0] for p in outer], [p[1] for p in outer]
            if max(lons) < BOX[0] or min(lons) > BOX[2] or max(lats) < BOX[1] or min(lats) > BOX[3]:
                continue
            pts = simplify(outer)
            if len(pts) >= 4:
                rings.append(pts)
    json.dump({"source": "Natural Earth 1:110m land (public domain), via world-atlas 2.0.2", "rings": rings},
              sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
