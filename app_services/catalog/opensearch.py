"""The cloud search path: OpenSearch index definition, query body and a SigV4-signed client.

The query builders are pure functions; `OpenSearchEngine` sends them through the shared outbound
seam (`app_services.core.outbound`), signed with the function's role for the `es` service (a
domain) or `aoss` (an OpenSearch Serverless collection, which also wants the payload hash header).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..core.errors import UpstreamError
from ..core.outbound import HttpCall, Send, sigv4_sign

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
    """The SearchEngine of the domain on Amazon OpenSearch Service (SigV4, TLS): a domain
    (`service="es"`) or a serverless collection (`service="aoss"`)."""

    def __init__(
        self,
        endpoint: str,
        index: str,
        region: str,
        credentials: Any,
        send: Send,
        service: str = "es",
    ):
        if service not in ("es", "aoss"):
            raise ValueError(f"OpenSearch signing service {service!r}: use 'es' or 'aoss'")
        self.base = f"https://{endpoint.removeprefix('https://').rstrip('/')}/{index}"
        self.region = region
        self.credentials = credentials
        self.send = send
        self.service = service

    def _call(self, method: str, path: str, body: dict[str, Any]) -> Any:
        payload = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        if self.service == "aoss":
            # OpenSearch Serverless checks the signed payload hash header.
            headers["x-amz-content-sha256"] = hashlib.sha256(payload).hexdigest()
        call = HttpCall(method, self.base + path, headers, payload)
        reply = self.send(sigv4_sign(call, self.service, self.region, self.credentials))
        if reply.status >= 300:
            raise UpstreamError(f"OpenSearch {method} {path} answered {reply.status}")
        return reply.json()

    def search(self, terms: list[str], limit: int, offset: int) -> list[dict[str, Any]]:
        found = self._call("POST", "/_search", search_body(terms, limit, offset))
        return [hit["_source"] for hit in found["hits"]["hits"]]

    def index(self, track: dict[str, Any]) -> None:
        self._call("PUT", f"/_doc/{track['track_id']}", document(track))
