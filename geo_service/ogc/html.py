"""HTML views of the OGC API documents (``f=html`` or a browser's Accept header): plain, offline pages —
tables and links, and a Leaflet map of the features when the npm assets are installed (``/vendor``). Style and
script come from files (``assets/``, served at ``/ogc/assets/``) so the pages keep the strict
Content-Security-Policy."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from geo_service.ogc.documents import Collection, Collections, Conformance, Item, Items, Landing, Link

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/vendor/leaflet/dist/leaflet.css">
<link rel="stylesheet" href="/ogc/assets/ogc.css">
</head><body>
<nav><a href="{root}?f=html">OGC API</a><a href="{root}/collections?f=html">collections</a>
<a href="{json_href}">JSON</a></nav>
<h1>{title}</h1>
{body}
</body></html>"""

# The features travel as a JSON data block that ogc.js reads: no inline script (Content-Security-Policy).
_MAP = """<div id="map"></div>
<script type="application/json" id="features">{geojson}</script>
<script src="/vendor/leaflet/dist/leaflet.js"></script>
<script src="/ogc/assets/ogc.js"></script>"""
ASSETS = {"ogc.css": "text/css", "ogc.js": "text/javascript"}
ASSETS_DIR = Path(__file__).with_name("assets")


def _links(links: list[Link]) -> str:
    rows = "".join(
        f'<tr><td>{escape(link["rel"])}</td><td><a href="{escape(link["href"])}">{escape(link.get("title") or link["href"])}</a></td>'
        f"<td>{escape(link.get('type', ''))}</td></tr>"
        for link in links
    )
    return f"<table><tr><th>rel</th><th>link</th><th>type</th></tr>{rows}</table>"


def _value(value: Any) -> str:
    if isinstance(value, list | dict):
        return escape(json.dumps(value, ensure_ascii=False))
    return "" if value is None else escape(str(value))


def _data_block(value: Any) -> str:
    """JSON to put inside ``<script type="application/json">``: nothing in it can end the element early."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\u0021--")


def _page(root: str, title: str, json_href: str, body: str) -> str:
    return _PAGE.format(root=escape(root), title=escape(title), json_href=escape(json_href), body=body)


def landing(root: str, doc: Landing) -> str:
    body = f"<p>{escape(doc['description'])}</p>{_links(doc['links'])}"
    return _page(root, doc["title"], f"{root}?f=json", body)


def conformance(root: str, doc: Conformance) -> str:
    items = "".join(f"<li>{escape(c)}</li>" for c in doc["conformsTo"])
    return _page(root, "Conformance", f"{root}/conformance?f=json", f"<ul>{items}</ul>")


def collections(root: str, doc: Collections) -> str:
    rows = "".join(
        f'<tr><td><a href="{escape(root)}/collections/{escape(c["id"])}?f=html">{escape(c["id"])}</a></td>'
        f"<td>{escape(c['title'])}</td><td>{escape(c['description'])}</td></tr>"
        for c in doc["collections"]
    )
    body = f"<table><tr><th>id</th><th>title</th><th>description</th></tr>{rows}</table>"
    return _page(root, "Collections", f"{root}/collections?f=json", body)


def collection(root: str, doc: Collection) -> str:
    extent = escape(json.dumps(doc["extent"], ensure_ascii=False))
    body = (
        f"<p>{escape(doc['description'])}</p><p>extent: <code>{extent}</code></p>"
        f'<p><a href="{escape(root)}/collections/{escape(doc["id"])}/items?f=html">browse the items</a></p>'
        f"{_links(doc['links'])}"
    )
    return _page(root, doc["title"], f"{root}/collections/{doc['id']}?f=json", body)


def items(root: str, collection_id: str, doc: Items) -> str:
    features = doc["features"]
    names = list(dict.fromkeys(k for f in features for k in f["properties"]))
    head = "".join(f"<th>{escape(n)}</th>" for n in ["id", *names])
    rows = "".join(
        f'<tr><td><a href="{escape(root)}/collections/{escape(collection_id)}/items/{escape(str(f["id"]))}?f=html">'
        f"{escape(str(f['id']))}</a></td>"
        + "".join(f"<td>{_value(f['properties'].get(n))}</td>" for n in names)
        + "</tr>"
        for f in features
    )
    pager = " ".join(
        f'<a href="{escape(link["href"].replace("f=json", "f=html"))}">{escape(link["rel"])}</a>'
        for link in doc["links"]
        if link["rel"] in ("prev", "next")
    )
    geojson = _data_block({"type": "FeatureCollection", "features": features})
    body = (
        f"<p>{doc['numberReturned']} of {doc['numberMatched']} features {pager}</p>"
        + _MAP.format(geojson=geojson)
        + f"<table><tr>{head}</tr>{rows}</table>"
    )
    return _page(root, f"{collection_id}: items", f"{root}/collections/{collection_id}/items?f=json", body)


def item(root: str, collection_id: str, feature: Item) -> str:
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{_value(v)}</td></tr>" for k, v in feature["properties"].items()
    )
    geojson = _data_block({"type": "FeatureCollection", "features": [feature]})
    body = _MAP.format(geojson=geojson) + f"<table>{rows}</table>{_links(feature['links'])}"
    fid = str(feature["id"])
    return _page(
        root, f"{collection_id} / {fid}", f"{root}/collections/{collection_id}/items/{fid}?f=json", body
    )
