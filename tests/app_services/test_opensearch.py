"""The catalog's OpenSearch path: query body (pure) and the SigV4-signed request it sends."""

from __future__ import annotations

import hashlib
import json

import pytest
from botocore.credentials import Credentials

from soundstack.app_services.catalog.domain import search_terms
from soundstack.app_services.catalog.opensearch import (
    OpenSearchEngine,
    document,
    index_definition,
    search_body,
)
from soundstack.app_services.catalog.service import CatalogSettings
from soundstack.app_services.core.errors import UpstreamError
from soundstack.app_services.core.outbound import HttpCall, HttpReply


def test_search_body_requires_every_term_with_prefix_and_typo_tolerance():
    body = search_body(search_terms("Björk hom"), 20, 40)
    assert (body["from"], body["size"]) == (40, 20)
    prefix, fuzzy = body["query"]["bool"]["should"]
    assert prefix["multi_match"] == {
        "query": "björk hom",
        "fields": ["title^3", "artist^2", "album", "genre"],
        "type": "bool_prefix",
        "operator": "and",
    }
    assert fuzzy["multi_match"]["fuzziness"] == "AUTO:5,8"
    assert body["query"]["bool"]["minimum_should_match"] == 1
    assert body["sort"][-1] == {"track_id": "asc"}


def test_index_folds_accents_and_is_strict():
    definition = index_definition()
    analyzer = definition["settings"]["analysis"]["analyzer"]["folded"]
    assert analyzer["filter"] == ["lowercase", "asciifolding"]
    assert definition["mappings"]["dynamic"] == "strict"
    fields = set(definition["mappings"]["properties"])
    assert set(document({"track_id": "t", "title": "x", "media_key": "secret"})) <= fields


def test_engine_sends_a_signed_search_and_reads_hits():
    calls: list[HttpCall] = []

    def send(call: HttpCall) -> HttpReply:
        calls.append(call)
        hits = {"hits": {"hits": [{"_source": {"track_id": "t1", "title": "Hyvää Yötä"}}]}}
        return HttpReply(200, json.dumps(hits).encode())

    creds = Credentials("AKIDEXAMPLE", "secret", "session-token")
    engine = OpenSearchEngine(
        "https://vpc-music.eu-west-1.es.amazonaws.com/", "tracks", "eu-west-1", creds, send
    )
    assert engine.search(["hyvaa"], 5, 0) == [{"track_id": "t1", "title": "Hyvää Yötä"}]
    call = calls[0]
    assert (call.method, call.url) == (
        "POST",
        "https://vpc-music.eu-west-1.es.amazonaws.com/tracks/_search",
    )
    auth = call.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/es/aws4_request" in auth
    assert call.headers["X-Amz-Security-Token"] == "session-token"
    assert json.loads(call.body) == search_body(["hyvaa"], 5, 0)


def test_engine_failure_is_an_upstream_error():
    engine = OpenSearchEngine(
        "search.example",
        "tracks",
        "eu-west-1",
        Credentials("a", "b"),
        lambda c: HttpReply(503, b""),
    )
    try:
        engine.index({"track_id": "t"})
    except UpstreamError as exc:
        assert "503" in exc.message
    else:
        raise AssertionError("expected UpstreamError")


def test_engine_on_a_serverless_collection_signs_for_aoss_with_the_payload_hash():
    calls: list[HttpCall] = []

    def send(call: HttpCall) -> HttpReply:
        calls.append(call)
        return HttpReply(200, b"{}")

    creds = Credentials("AKIDEXAMPLE", "secret", "session-token")
    engine = OpenSearchEngine(
        "64e402dcc67f51e95a2f.eu-west-1.aoss.amazonaws.com",
        "tracks",
        "eu-west-1",
        creds,
        send,
        service="aoss",
    )
    engine.index({"track_id": "t1", "title": "Jóga"})
    (call,) = calls
    assert (call.method, call.url) == (
        "PUT",
        "https://64e402dcc67f51e95a2f.eu-west-1.aoss.amazonaws.com/tracks/_doc/t1",
    )
    auth = call.headers["Authorization"]
    scope = auth.split("Credential=")[1].split(",")[0]
    assert scope.startswith("AKIDEXAMPLE/") and scope.endswith("/eu-west-1/aoss/aws4_request")
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "x-amz-content-sha256" in signed
    assert call.headers["x-amz-content-sha256"] == hashlib.sha256(call.body).hexdigest()


def test_engine_refuses_an_unknown_signing_service():
    with pytest.raises(ValueError, match="'es' or 'aoss'"):
        OpenSearchEngine(
            "h", "tracks", "eu-west-1", Credentials("a", "b"), lambda c: HttpReply(200, b""), "s3"
        )


def test_catalog_settings_read_the_signing_service(monkeypatch):
    monkeypatch.setenv("OPENSEARCH_SERVICE", "aoss")
    assert CatalogSettings().opensearch_service == "aoss"
    monkeypatch.delenv("OPENSEARCH_SERVICE")
    assert CatalogSettings().opensearch_service == "es"
