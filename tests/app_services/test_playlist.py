"""Playlist against the real PostgreSQL and Redis: owner-only writes, cache invalidated on write."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from app_services.catalog.audio import read_metadata
from app_services.catalog.repository import CatalogRepository
from app_services.core.db import Database
from app_services.core.routing import build_event
from app_services.playlist import handler, service

from .conftest import FIXTURES, new_user


@pytest.fixture
def playlists(service_env) -> Iterator[service.Playlists]:
    service.playlists.cache_clear()
    yield service.playlists()
    service.playlists().store.db.close()
    service.playlists.cache_clear()


@pytest.fixture
def tracks(db: Database) -> list[str]:
    repo = CatalogRepository(db)
    meta = read_metadata(str(FIXTURES / "tone.ogg"), "x.ogg")
    return [
        repo.upsert_track(meta, f"uploads/{uuid.uuid4().hex}.ogg", None)["track_id"]
        for _ in range(4)
    ]


def call(method: str, path: str, user: str | None, body: object = None) -> tuple[int, dict]:
    event = build_event(
        method,
        path,
        body=None if body is None else json.dumps(body),
        claims={"sub": user} if user else None,
    )
    reply = handler.handler(event, None)
    return reply["statusCode"], json.loads(reply["body"]) if reply["body"] else {}


def order(playlist: dict) -> list[str]:
    return [t["track_id"] for t in playlist["tracks"]]


def test_owner_builds_and_edits_a_playlist(playlists, db, tracks):
    owner = new_user(db)
    status, created = call("POST", "/playlists", owner, {"name": "  Road trip "})
    assert status == 201 and created["name"] == "Road trip" and created["tracks"] == []
    pid = created["playlist_id"]
    a, b, c, d = tracks
    status, got = call("POST", f"/playlists/{pid}/tracks", owner, {"track_ids": [a, b, c]})
    assert status == 200 and order(got) == [a, b, c]
    assert [t["position"] for t in got["tracks"]] == [0, 1, 2]
    got = call("POST", f"/playlists/{pid}/tracks", owner, {"track_ids": [d], "position": 0})[1]
    assert order(got) == [d, a, b, c]
    got = call(
        "POST", f"/playlists/{pid}/tracks/move", owner, {"from_position": 0, "to_position": 3}
    )[1]
    assert order(got) == [a, b, c, d]
    got = call("DELETE", f"/playlists/{pid}/tracks/1", owner)[1]
    assert order(got) == [a, c, d]
    got = call("PATCH", f"/playlists/{pid}", owner, {"name": "Night drive"})[1]
    assert got["name"] == "Night drive" and order(got) == [a, c, d]
    mine = call("GET", "/playlists", owner)[1]
    assert [(p["playlist_id"], p["tracks"]) for p in mine] == [(pid, 3)]
    assert call("DELETE", f"/playlists/{pid}", owner)[0] == 204
    assert call("GET", f"/playlists/{pid}", owner)[0] == 404
    assert call("GET", "/playlists", owner)[1] == []


def test_only_the_owner_writes(playlists, db, tracks):
    owner, other = new_user(db), new_user(db)
    pid = call("POST", "/playlists", owner, {"name": "Mine"})[1]["playlist_id"]
    assert call("GET", f"/playlists/{pid}", other)[0] == 200  # shared for reading
    for method, path, body in [
        ("PATCH", f"/playlists/{pid}", {"name": "Hijacked"}),
        ("POST", f"/playlists/{pid}/tracks", {"track_ids": tracks[:1]}),
        ("DELETE", f"/playlists/{pid}", None),
    ]:
        status, reply = call(method, path, other, body)
        assert (status, reply["error"]["code"]) == (403, "forbidden"), path
    assert call("GET", f"/playlists/{pid}", owner)[1]["name"] == "Mine"
    assert call("POST", "/playlists", None, {"name": "anon"})[0] == 401


def test_bad_inputs_name_the_field(playlists, db, tracks):
    owner = new_user(db)
    pid = call("POST", "/playlists", owner, {"name": "x"})[1]["playlist_id"]
    cases = [
        ("POST", "/playlists", {"name": "   "}, "name"),
        ("POST", "/playlists", {"title": "x"}, "name"),
        ("POST", f"/playlists/{pid}/tracks", {"track_ids": []}, "track_ids"),
        ("POST", f"/playlists/{pid}/tracks", {"track_ids": ["nope"]}, "track_ids.0"),
        ("POST", f"/playlists/{pid}/tracks", {"track_ids": [str(uuid.uuid4())]}, "track_ids"),
        ("POST", f"/playlists/{pid}/tracks", {"track_ids": tracks[:1], "position": 5}, "position"),
        (
            "POST",
            f"/playlists/{pid}/tracks/move",
            {"from_position": 0, "to_position": 0},
            "from_position",
        ),
        ("DELETE", f"/playlists/{pid}/tracks/abc", None, "position"),
        ("GET", "/playlists/not-a-uuid", None, "playlist_id"),
    ]
    for method, path, body, field in cases:
        status, reply = call(method, path, owner, body)
        assert (status, reply["error"]["field"]) == (400, field), (path, body)
    assert call("GET", f"/playlists/{pid}", owner)[1]["tracks"] == []  # nothing half-written
    assert call("PATCH", f"/playlists/{uuid.uuid4()}", owner, {"name": "y"})[0] == 404


def test_cached_read_is_invalidated_on_write(playlists: service.Playlists, db, tracks):
    owner = new_user(db)
    pid = call("POST", "/playlists", owner, {"name": "Cached"})[1]["playlist_id"]
    assert call("GET", f"/playlists/{pid}", owner)[1]["name"] == "Cached"
    client = playlists.cache.client
    assert client is not None
    cached = json.loads(client.get(f"{playlists.cache.prefix}playlist:{pid}") or b"null")
    assert cached["name"] == "Cached"
    # the cache really serves reads: a change behind the service's back is not seen ...
    with db.transaction() as cur:
        cur.execute("UPDATE playlists SET name = 'Sneaky' WHERE playlist_id = %s", (pid,))
    assert call("GET", f"/playlists/{pid}", owner)[1]["name"] == "Cached"
    # ... while a write through the service invalidates it
    call("POST", f"/playlists/{pid}/tracks", owner, {"track_ids": tracks[:2]})
    got = call("GET", f"/playlists/{pid}", owner)[1]
    assert got["name"] == "Sneaky" and order(got) == tracks[:2]
