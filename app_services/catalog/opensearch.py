"""The cloud search path: OpenSearch index definition, query body and a SigV4-signed client.

The query builders are pure functions; `OpenSearchEngine` sends them through the shared outbound
seam (`app_services.core.outbound`), signed for the `es` service with the function's role.
"""

from __future__ import annotations

import json
from typing import Any

from app_services.core.errors import UpstreamError
from app_services.core.outbound import HttpCall, Send, sigv4_sign

FIELDS = ["title^3", "artist^2", "album", "genre"]


def index_definition() -> dict[str, Any]:
    """Settings and mappings of the tracks index: an analyzer that folds accents and case."""
    folded = {"type": "text", "analyzer": "folded"}
    return {
        "settings": {
            "analysis": {
                "analyzer": {
                    "folded": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["lowercase", "asciifolding"],
                    }
                }
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "track_id": {"type": "keyword"},
                "title": folded,
                "artist": folded,
                "album": folded,
                "genre": folded,
                "artist_id": {"type": "keyword"},
                "album_id": {"type": "keyword"},
                "duration_ms": {"type": "integer"},
            },
        },
    }


def search_body(terms: list[str], limit: int, offset: int) -> dict[str, Any]:
    """Every term must match some field (the last one as a prefix, for search-as-you-type);
    typos within one edit are forgiven on longer words. Ties break on track_id for stable pages."""
    text = " ".join(terms)
    return {
        "from": offset,
        "size": limit,
        "track_total_hits": False,
        "_source": ["track_id", "title", "artist", "album", "artist_id", "album_id", "duration_ms"],
        "query": {
            "bool": {
                "should": [
                    {
                        "multi_match": {
                            "query": text,
                            "fields": FIELDS,
                            "type": "bool_prefix",
                            "operator": "and",
                        }
                    },
                    {
                        "multi_match": {
                            "query": text,
                            "fields": FIELDS,
                            "type": "best_fields",
                            "operator": "and",
                            "fuzziness": "AUTO:5,8",
                        }
                    },
                ],
                "minimum_should_match": 1,
            }
        },
        "sort": ["_score", {"track_id": "asc"}],
    }


def document(track: dict[str, Any]) -> dict[str, Any]:
    """The index document of a catalog track row."""
    keys = ("track_id", "title", "artist", "album", "genre", "artist_id", "album_id", "duration_ms")
    return {k: track.get(k) for k in keys}


class OpenSearchEngine:
    """The SearchEngine of the domain on an Amazon OpenSearch Service domain (SigV4, TLS)."""

    def __init__(self, endpoint: str, index: str, region: str, credentials: Any, send: Send):
        self.base = f"https://{endpoint.removeprefix('https://').rstrip('/')}/{index}"
        self.region = region
        self.credentials = credentials
        self.send = send

    def _call(self, method: str, path: str, body: dict[str, Any]) -> Any:
        call = HttpCall(
            method,
            self.base + path,
            {"content-type": "application/json"},
            json.dumps(body).encode(),
        )
        reply = self.send(sigv4_sign(call, "es", self.region, self.credentials))
        if reply.status >= 300:
            raise UpstreamError(f"OpenSearch {method} {path} answered {reply.status}")
        return reply.json()

    def search(self, terms: list[str], limit: int, offset: int) -> list[dict[str, Any]]:
        found = self._call("POST", "/_search", search_body(terms, limit, offset))
        return [hit["_source"] for hit in found["hits"]["hits"]]

    def index(self, track: dict[str, Any]) -> None:
        self._call("PUT", f"/_doc/{track['track_id']}", document(track))
