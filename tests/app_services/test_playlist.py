"""Playlist against the real PostgreSQL and Redis: owner-only writes, cache invalidated on write."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from soundstack.app_services.catalog.audio import read_metadata
from soundstack.app_services.catalog.repository import CatalogRepository
from soundstack.app_services.core.db import Database
from soundstack.app_services.core.routing import build_event
from soundstack.app_services.playlist import handler, service

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
    pid = call("POST", "/playlists", owner, {"name": "Mine", "public": True})[1]["playlist_id"]
    assert call("GET", f"/playlists/{pid}", other)[0] == 200  # public: readable by all
    for method, path, body in [
        ("PATCH", f"/playlists/{pid}", {"name": "Hijacked"}),
        ("POST", f"/playlists/{pid}/tracks", {"track_ids": tracks[:1]}),
        ("DELETE", f"/playlists/{pid}", None),
    ]:
        status, reply = call(method, path, other, body)
        assert (status, reply["error"]["code"]) == (403, "forbidden"), path
    assert call("GET", f"/playlists/{pid}", owner)[1]["name"] == "Mine"
    assert call("POST", "/playlists", None, {"name": "anon"})[0] == 401


def test_a_private_playlist_is_invisible_to_others_and_no_reply_names_its_owner(
    playlists, db, tracks
):
    owner, other = new_user(db), new_user(db)
    status, created = call("POST", "/playlists", owner, {"name": "Diary"})
    assert status == 201 and created["public"] is False and created["mine"] is True
    pid = created["playlist_id"]
    for method, path, body in [
        ("GET", f"/playlists/{pid}", None),
        ("PATCH", f"/playlists/{pid}", {"name": "Hijacked"}),
        ("POST", f"/playlists/{pid}/tracks", {"track_ids": tracks[:1]}),
        ("POST", f"/playlists/{pid}/tracks/move", {"from_position": 0, "to_position": 0}),
        ("DELETE", f"/playlists/{pid}/tracks/0", None),
        ("DELETE", f"/playlists/{pid}", None),
    ]:
        status, reply = call(method, path, other, body)
        assert (status, reply["error"]["code"]) == (404, "not_found"), (method, path)
    # the same answer as for a playlist that does not exist
    assert call("GET", f"/playlists/{uuid.uuid4()}", other)[0] == 404
    got = call("PATCH", f"/playlists/{pid}", owner, {"public": True})[1]
    assert (got["public"], got["name"]) == (True, "Diary")
    status, seen = call("GET", f"/playlists/{pid}", other)
    assert (status, seen["mine"], seen["name"]) == (200, False, "Diary")
    replies = [created, got, seen, *call("GET", "/playlists", owner)[1]]
    assert not any(owner in json.dumps(reply) for reply in replies)
    assert call("PATCH", f"/playlists/{pid}", owner, {"public": False})[1]["public"] is False
    assert call("GET", f"/playlists/{pid}", other)[0] == 404


def test_a_signed_in_user_without_a_profile_row_gets_one_on_first_write(playlists, db):
    user = str(uuid.uuid4())  # a valid token, but no row in `users` (trigger never ran)
    event = build_event(
        "POST", "/playlists", body='{"name": "First"}', claims={"sub": user, "name": "Ada"}
    )
    reply = handler.handler(event, None)
    assert reply["statusCode"] == 201, reply["body"]
    with db.transaction() as cur:
        cur.execute("SELECT email, display_name FROM users WHERE user_id = %s", (user,))
        assert cur.fetchone() == {"email": None, "display_name": "Ada"}
    assert call("POST", "/playlists", user, {"name": "Second"})[0] == 201
    assert [p["name"] for p in call("GET", "/playlists", user)[1]] == ["First", "Second"]


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
        ("DELETE", f"/playlists/{pid}/tracks/\u00b2", None, "position"),  # isdigit() says yes
        ("DELETE", f"/playlists/{pid}/tracks/99999999999999999999", None, "position"),
        ("POST", "/playlists", {"name": "a\u0000b"}, "body.name"),
        ("POST", "/playlists", {"name": "x", "extra": "x" * 1000}, "extra"),
        ("PATCH", f"/playlists/{pid}", {"name": "x", "owner_id": "me"}, "owner_id"),
        ("PATCH", f"/playlists/{pid}", {}, "body"),
        ("GET", "/playlists/a\u0000b", None, "playlist_id"),
        ("GET", "/playlists/not-a-uuid", None, "playlist_id"),
    ]
    for method, path, body, field in cases:
        status, reply = call(method, path, owner, body)
        assert (status, reply["error"]["field"]) == (400, field), (path, body)
    assert call("GET", f"/playlists/{pid}", owner)[1]["tracks"] == []  # nothing half-written
    assert call("PATCH", f"/playlists/{uuid.uuid4()}", owner, {"name": "y"})[0] == 404


def test_a_body_over_the_size_limit_is_413_before_any_parsing(playlists, db):
    owner = new_user(db)
    status, reply = call("POST", "/playlists", owner, {"name": "x", "pad": "x" * 1_000_000})
    assert (status, reply["error"]["code"]) == (413, "payload_too_large")
    assert call("GET", "/playlists", owner)[1] == []


def test_cached_read_is_invalidated_on_write(playlists: service.Playlists, db, tracks):
    owner = new_user(db)
    pid = call("POST", "/playlists", owner, {"name": "Cached"})[1]["playlist_id"]
    assert call("GET", f"/playlists/{pid}", owner)[1]["name"] == "Cached"
    client = playlists.cache.client
    assert client is not None
    cached = json.loads(client.get(playlists.cache.value_key(f"playlist:{pid}")) or b"null")
    assert cached["name"] == "Cached"
    # the cache really serves reads: a change behind the service's back is not seen ...
    with db.transaction() as cur:
        cur.execute("UPDATE playlists SET name = 'Sneaky' WHERE playlist_id = %s", (pid,))
    assert call("GET", f"/playlists/{pid}", owner)[1]["name"] == "Cached"
    # ... while a write through the service invalidates it
    call("POST", f"/playlists/{pid}/tracks", owner, {"track_ids": tracks[:2]})
    got = call("GET", f"/playlists/{pid}", owner)[1]
    assert got["name"] == "Sneaky" and order(got) == tracks[:2]


def test_a_read_that_loaded_before_a_write_never_caches_over_it(
    playlists: service.Playlists, db, tracks, monkeypatch
):
    """The cache-aside race, forced: a reader loads the head, a write commits and invalidates,
    then the reader stores what it loaded. The next read still shows the write."""
    owner = new_user(db)
    pid = call("POST", "/playlists", owner, {"name": "Race"})[1]["playlist_id"]
    store = playlists.store
    head = store.head

    def head_then_a_write_lands(ident: str):
        loaded = head(ident)  # the reader's snapshot: 0 tracks
        monkeypatch.setattr(store, "head", head)
        assert call("POST", f"/playlists/{pid}/tracks", owner, {"track_ids": tracks[:1]})[0] == 200
        return loaded

    monkeypatch.setattr(store, "head", head_then_a_write_lands)
    assert call("GET", f"/playlists/{pid}", owner)[1]["total_tracks"] == 0  # its own snapshot
    assert call("GET", f"/playlists/{pid}", owner)[1]["total_tracks"] == 1


def post_with_key(user: str, key: str, body: dict) -> dict:
    event = build_event(
        "POST", "/playlists", body=json.dumps(body), claims={"sub": user},
        headers={"Idempotency-Key": key},
    )  # fmt: skip
    return handler.handler(event, None)


def test_a_retried_create_with_the_same_idempotency_key_makes_one_playlist(playlists, db):
    owner, other = new_user(db), new_user(db)
    key = str(uuid.uuid4())
    first = post_with_key(owner, key, {"name": "Once"})
    again = post_with_key(owner, key, {"name": "Once"})
    assert (first["statusCode"], again["statusCode"]) == (201, 201)
    assert json.loads(again["body"]) == json.loads(first["body"])
    assert again["headers"]["idempotent-replayed"] == "true"
    assert [p["name"] for p in call("GET", "/playlists", owner)[1]] == ["Once"]
    # the same key with another body is a client bug, not a replay
    reused = post_with_key(owner, key, {"name": "Twice"})
    assert (reused["statusCode"], json.loads(reused["body"])["error"]["field"]) == (
        422,
        "idempotency-key",
    )
    # keys are per user, and requests without a key are not deduplicated
    assert post_with_key(other, key, {"name": "Once"})["statusCode"] == 201
    assert "idempotent-replayed" not in post_with_key(other, key + "x", {"name": "Once"})["headers"]
    call("POST", "/playlists", owner, {"name": "Once"})
    assert len(call("GET", "/playlists", owner)[1]) == 2


def test_a_failed_create_frees_its_idempotency_key(playlists, db):
    owner, key = new_user(db), str(uuid.uuid4())
    assert post_with_key(owner, key, {"name": "  "})["statusCode"] == 400
    assert post_with_key(owner, key, {"name": "  "})["statusCode"] == 400  # not a replay
    assert post_with_key(owner, key + "-2", {"name": "ok"})["statusCode"] == 201


def row_versions(db: Database, pid: str) -> dict[int, str]:
    """position -> the row version (xmin): unchanged rows keep theirs across a write."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT position, xmin::text AS v FROM playlist_tracks WHERE playlist_id = %s", (pid,)
        )
        return {r["position"]: r["v"] for r in cur.fetchall()}


def test_reads_are_paginated_with_totals_and_a_next_link(playlists, db, tracks):
    owner = new_user(db)
    pid = call("POST", "/playlists", owner, {"name": "Long"})[1]["playlist_id"]
    ids = tracks * 30  # 120 entries
    for start in range(0, len(ids), 100):
        call("POST", f"/playlists/{pid}/tracks", owner, {"track_ids": ids[start : start + 100]})
    first = call("GET", f"/playlists/{pid}", owner)[1]
    assert first["total_tracks"] == 120 and len(first["tracks"]) == 100
    assert first["next"] == f"/playlists/{pid}?cursor=100&limit=100"
    seen, path = [], f"/playlists/{pid}?limit=50"
    while path:
        url, _, query = path.partition("?")
        reply = handler.handler(build_event("GET", url, query=query, claims={"sub": owner}), None)
        page = json.loads(reply["body"])
        seen += [t["position"] for t in page["tracks"]]
        path = page["next"]
    assert seen == list(range(120))
    bad = handler.handler(
        build_event("GET", f"/playlists/{pid}", query="limit=100000", claims={"sub": owner}), None
    )
    assert (bad["statusCode"], json.loads(bad["body"])["error"]["field"]) == (400, "limit")


def test_single_track_writes_touch_only_the_rows_that_change(playlists, db, tracks):
    owner = new_user(db)
    pid = call("POST", "/playlists", owner, {"name": "Edits"})[1]["playlist_id"]
    call("POST", f"/playlists/{pid}/tracks", owner, {"track_ids": tracks * 10})  # 40 entries
    before = row_versions(db, pid)
    call("POST", f"/playlists/{pid}/tracks", owner, {"track_ids": tracks[:1]})  # append
    after = row_versions(db, pid)
    assert {p for p in after if after[p] != before.get(p)} == {40}
    got = call("DELETE", f"/playlists/{pid}/tracks/30", owner)[1]
    later = row_versions(db, pid)
    assert {p for p in later if later[p] != after.get(p)} == set(range(30, 40))
    assert got["total_tracks"] == 40 and sorted(later) == list(range(40))
    expected = order(call("GET", f"/playlists/{pid}", owner)[1])
    call("POST", f"/playlists/{pid}/tracks/move", owner, {"from_position": 35, "to_position": 38})
    moved = row_versions(db, pid)
    assert {p for p in moved if moved[p] != later.get(p)} == {35, 36, 37, 38}
    expected.insert(38, expected.pop(35))
    assert order(call("GET", f"/playlists/{pid}", owner)[1]) == expected
    call("POST", f"/playlists/{pid}/tracks/move", owner, {"from_position": 5, "to_position": 1})
    expected.insert(1, expected.pop(5))
    call("POST", f"/playlists/{pid}/tracks", owner, {"track_ids": tracks[1:3], "position": 2})
    expected[2:2] = tracks[1:3]
    assert order(call("GET", f"/playlists/{pid}", owner)[1]) == expected


def test_concurrent_adds_lose_nothing_and_positions_stay_dense(playlists, db, tracks):
    from concurrent.futures import ThreadPoolExecutor

    owner = new_user(db)
    pid = call("POST", "/playlists", owner, {"name": "Party"})[1]["playlist_id"]

    def add(i: int) -> int:
        body: dict[str, object] = {"track_ids": [tracks[i % 4]]}
        if i % 3 == 0:
            body["position"] = 0
        return call("POST", f"/playlists/{pid}/tracks", owner, body)[0]

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(add, range(200))) == {200}
    assert sorted(row_versions(db, pid)) == list(range(200))
    assert call("GET", f"/playlists/{pid}", owner)[1]["total_tracks"] == 200
