"""Recommendation: co-listening, cold start and the Redis cache, on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from redis.backoff import NoBackoff
from redis.retry import Retry

from soundstack.app_services.activity import records
from soundstack.app_services.core import asgi as core_asgi
from soundstack.app_services.core.cache import Cache
from soundstack.app_services.core.db import Database
from soundstack.app_services.core.logs import configure
from soundstack.app_services.core.routing import build_event
from soundstack.app_services.core.tokens import CognitoVerifier
from soundstack.app_services.recommendation import asgi as asgi_app
from soundstack.app_services.recommendation import handler as rec
from soundstack.app_services.recommendation.domain import (
    CoListen,
    GenresBody,
    Recommender,
    rank_similar,
    user_key,
)
from soundstack.app_services.recommendation.repository import PostgresPreferences

from .conftest import TEST_REDIS
from .streams import activity, kinesis_event, sns_event


@pytest.fixture
def service(service_env: dict[str, str]) -> Iterator[None]:
    rec.service.cache_clear()
    yield
    rec.service.cache_clear()


def call(method: str, path: str, user: str | None, body: Any = None) -> tuple[int, Any]:
    raw = None if body is None else json.dumps(body)
    reply = rec.handler(build_event(method, path, body=raw, claims={"sub": user} if user else None))
    return reply["statusCode"], json.loads(reply["body"]) if reply["body"] else None


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def catalog_tracks(db: Database, genre: str, count: int) -> list[str]:
    """Tracks in the catalog tables (0002_catalog.sql) with `genre`, newest last."""
    tag = uuid.uuid4().hex
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO artists (name, name_key) VALUES (%s, %s) RETURNING artist_id",
            (f"Artist {tag}", tag),
        )
        artist = cur.fetchone()["artist_id"]  # type: ignore[index]
        cur.execute(
            "INSERT INTO albums (artist_id, title, title_key) VALUES (%s, 'A', 'a')"
            " RETURNING album_id",
            (artist,),
        )
        album = cur.fetchone()["album_id"]  # type: ignore[index]
        tracks = []
        for n in range(count):
            cur.execute(
                "INSERT INTO tracks (album_id, artist_id, title, duration_ms, genre, media_key,"
                " audio_format, search, created_at) VALUES (%s, %s, %s, 1000, %s, %s, 'mp3',"
                " to_tsvector('simple', %s), now() + %s * interval '1 second')"
                " RETURNING track_id::text",
                (album, artist, f"T{n}", genre.title(), f"{tag}/{n}.mp3", f"T{n}", n),
            )
            tracks.append(cur.fetchone()["track_id"])  # type: ignore[index]
    return tracks


def listen(*pairs: tuple[str, str], ms: int = 60_000) -> dict[str, Any]:
    return rec.handler(kinesis_event(*(activity("play", u, t, ms) for u, t in pairs)))


def test_cold_start_ranks_the_picked_genres_by_listeners(service: None, db: Database) -> None:
    genre = f"g{uuid.uuid4().hex[:10]}"
    a, b, c = catalog_tracks(db, genre, 3)
    catalog_tracks(db, f"other{uuid.uuid4().hex[:8]}", 2)
    me, x, y = ids(3)
    assert listen((x, b), (y, b), (x, a)) == {"batchItemFailures": []}

    assert call("PUT", "/recommendations/me/genres", me, {"genres": [genre.upper(), genre]}) == (
        200,
        {"genres": [genre]},
    )
    status, body = call("GET", "/recommendations/me", me)

    assert status == 200
    assert body["source"] == "cold_start"
    assert body["for_you"] == [b, a, c]  # two listeners, one, none (then newest first)
    assert body["because_you_listened_to"] == []


def test_co_listening_gives_because_you_listened_to_groups(service: None) -> None:
    me, u1, u2, u3, u4 = ids(5)
    t1, t2, t3, t4, t5, t6 = ids(6)
    listen((u1, t1), (u1, t2), (u1, t3), (u2, t1), (u2, t2), (u3, t1), (u3, t4))
    listen((u4, t2), (u4, t3), (u4, t5), (me, t1), (me, t1), (me, t2), (me, t6))
    rec.handler(kinesis_event(activity("like", me, t1)))  # t1 is my strongest seed

    status, body = call("GET", "/recommendations/me", me)

    assert status == 200 and body["source"] == "co_listening"
    groups = {g["seed_track_id"]: g["tracks"] for g in body["because_you_listened_to"]}
    assert next(iter(groups)) == t1
    # t1 listeners: me, u1, u2, u3 (4); t3: u1, u4 (2); together: u1 -> 1/sqrt(8)
    by_id = {t["track_id"]: t["score"] for t in groups[t1]}
    assert by_id[t3] == pytest.approx(1 / math.sqrt(8), abs=1e-6)
    assert by_id[t4] == pytest.approx(1 / math.sqrt(4), abs=1e-6)
    heard = {t1, t2, t6}
    assert not heard & {t["track_id"] for g in groups.values() for t in g}
    assert not heard & set(body["for_you"])
    # my weights t1=5 (2 plays + like), t2=1: t4 = 5*0.5 = 2.5, t3 = 5*0.354 + 1*0.707 = 2.47,
    # t5 = 1*0.5
    assert body["for_you"][:3] == [t4, t3, t5]


def test_results_are_cached_and_invalidated_when_preferences_change(
    service: None, db: Database, cache_prefix: str
) -> None:
    genre = f"g{uuid.uuid4().hex[:10]}"
    first, second = catalog_tracks(db, genre, 2)
    me = str(uuid.uuid4())
    call("PUT", "/recommendations/me/genres", me, {"genres": [genre]})
    assert call("GET", "/recommendations/me", me)[1]["for_you"] == [second, first]
    client = redis.Redis.from_url(TEST_REDIS)
    cached = Cache(None, cache_prefix, 0).value_key(user_key(me))
    assert client.exists(cached)

    with db.transaction() as cur:  # a change the cache does not know about
        cur.execute("DELETE FROM tracks WHERE track_id = %s", (second,))
    assert call("GET", "/recommendations/me", me)[1]["for_you"] == [second, first]  # cached

    call("PUT", "/recommendations/me/genres", me, {"genres": [genre, "jazz"]})
    assert not client.exists(cached)
    assert call("GET", "/recommendations/me", me)[1]["for_you"][0] == first

    listen((me, first))  # new listening history also invalidates
    assert not client.exists(cached)


def test_a_recommendation_computed_before_a_change_never_caches_over_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache-aside race, forced: a reader reads the picked genres, the user changes them
    (committed, then invalidated), then the reader caches what it computed from the old ones.
    The next read still shows the change; the same for new listening (several users at once)."""
    old_genre, new_genre = f"g{uuid.uuid4().hex[:10]}", f"g{uuid.uuid4().hex[:10]}"
    (old,), (new,) = catalog_tracks(db, old_genre, 1), catalog_tracks(db, new_genre, 1)
    store = PostgresPreferences(db)
    recommender = Recommender(store, Cache.from_url(TEST_REDIS, f"race-{uuid.uuid4().hex}:", 60))
    me, other = ids(2)
    for user in (me, other):
        recommender.set_genres(user, GenresBody(genres=[old_genre]))
    genres = store.genres

    def genres_then(write: Any) -> Any:
        def read(user_id: str) -> list[str]:
            loaded = genres(user_id)  # the reader's snapshot
            monkeypatch.setattr(store, "genres", genres)
            write()
            return loaded

        return read

    change = genres_then(lambda: recommender.set_genres(me, GenresBody(genres=[new_genre])))
    monkeypatch.setattr(store, "genres", change)
    assert recommender.for_user(me).for_you == [old]  # its own snapshot
    assert recommender.for_user(me).for_you == [new]

    heard = [activity("play", user, old, ms_played=60_000) for user in (other, me)]
    monkeypatch.setattr(store, "genres", genres_then(lambda: recommender.ingest(heard)))
    assert recommender.for_user(other).for_you == [old]
    assert recommender.for_user(other).for_you == []  # heard now, so no longer recommended


def test_stream_keeps_real_plays_and_likes_and_skips_bad_records(
    service: None, db: Database
) -> None:
    me, track, skipped = ids(3)
    reply = rec.handler(
        kinesis_event(
            activity("play", me, track, 45_000),
            activity("play", me, skipped, 5_000),  # a skip is not a signal
            b"not json",
            activity("follow", me, str(uuid.uuid4())),
        )
    )
    rec.handler(sns_event(activity("like", me, track)))

    assert reply == {"batchItemFailures": []}
    with db.transaction() as cur:
        cur.execute("SELECT track_id, weight FROM rec_signals WHERE user_id = %s", (me,))
        assert cur.fetchall() == [{"track_id": track, "weight": 4}]


def test_a_failing_record_and_the_rest_of_the_batch_are_retried() -> None:
    events = [activity("play", "u", t, 60_000) for t in ("a", "b", "c")]
    batch = kinesis_event(*events)
    seen: list[str] = []

    def process(event: Any) -> None:
        if event.target_id == "b":
            raise RuntimeError("database down")
        seen.append(event.target_id)

    reply = records.consume(batch, process, configure("test"))

    assert seen == ["a"]
    assert reply == {
        "batchItemFailures": [
            {"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in batch["Records"][1:]
        ]
    }
    with pytest.raises(RuntimeError):
        records.consume(sns_event(*events), process, configure("test"))


def test_similar_tracks_route(service: None) -> None:
    u1, u2 = ids(2)
    t1, t2, t3 = ids(3)
    listen((u1, t1), (u1, t2), (u2, t1), (u2, t2), (u2, t3))

    status, body = call("GET", f"/recommendations/tracks/{t1}/similar", u1)

    assert status == 200
    assert [t["track_id"] for t in body["tracks"]] == [t2, t3]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"genres": []}, "genres"),
        ({"genres": ["rock", "<script>"]}, "genres"),
        ({"genres": "rock"}, "genres"),
        ({"genres": [f"g{n}" for n in range(11)]}, "genres"),
        ({"genre": ["rock"]}, "genres"),  # the required field is missing
    ],
)
def test_bad_genre_picks_are_400_naming_the_field(
    service: None, body: dict[str, Any], field: str
) -> None:
    status, reply = call("PUT", "/recommendations/me/genres", "u-1", body)
    assert status == 400
    assert reply["error"]["field"] == field


def test_anonymous_callers_are_401(service: None) -> None:
    assert call("GET", "/recommendations/me", None)[0] == 401


def test_rank_similar_prefers_specific_over_popular_tracks() -> None:
    pairs = [
        CoListen("seed", "everywhere", together=3, seed_listeners=4, candidate_listeners=100),
        CoListen("seed", "niche", together=2, seed_listeners=4, candidate_listeners=2),
        CoListen("seed", "heard", together=4, seed_listeners=4, candidate_listeners=4),
    ]
    ranked = rank_similar(pairs, exclude={"heard"}, limit=5)
    assert [r.track_id for r in ranked] == ["niche", "everywhere"]


def test_cache_outage_degrades_to_the_database(service: None, db: Database) -> None:
    genre = f"g{uuid.uuid4().hex[:10]}"
    (track,) = catalog_tracks(db, genre, 1)
    down = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    broken = Cache(down, "x:", 60)
    recommender = Recommender(PostgresPreferences(db), broken)
    me = str(uuid.uuid4())
    recommender.set_genres(me, GenresBody(genres=[genre]))
    assert recommender.for_user(me).for_you == [track]


ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST"


def token(key: Any, **claims: Any) -> str:
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "sub": "asgi-user", "token_use": "access"}
    base |= {"client_id": "web", "iat": now, "exp": now + 300}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, base | claims, key)


def asgi(method: str, path: str, body: bytes = b"", auth: str | None = None) -> tuple[int, Any]:
    """One request through the ASGI callable, as an ASGI server would drive it."""
    sent: list[dict[str, Any]] = []
    headers = [(b"content-type", b"application/json")]
    if auth:
        headers.append((b"authorization", auth.encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": headers,
        "client": ("10.0.0.1", 5000),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asgi_app.app(scope, receive, send))
    payload = sent[1]["body"]
    try:
        return sent[0]["status"], json.loads(payload) if payload else None
    except ValueError:
        return sent[0]["status"], payload.decode()


def test_asgi_app_verifies_the_bearer_token_and_serves_the_same_routes(
    service: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
    other = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
    fetched: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        fetched.append(url)
        return dict(KeySet([key]).as_dict(private=False))

    verifier = CognitoVerifier(ISSUER, frozenset({"web"}), fetch=fetch)
    monkeypatch.setattr(core_asgi, "verifier", lambda: verifier)  # looked up per request
    genres = json.dumps({"genres": ["ambient"]}).encode()

    assert asgi("GET", "/healthz")[0] == 200
    status, body = asgi("PUT", "/recommendations/me/genres", genres, f"Bearer {token(key)}")
    assert (status, body) == (200, {"genres": ["ambient"]})
    status, body = asgi("GET", "/recommendations/me", auth=f"Bearer {token(key)}")
    assert status == 200 and body["user_id"] == "asgi-user"
    assert fetched == [f"{ISSUER}/.well-known/jwks.json"]  # fetched once, then reused

    assert asgi("GET", "/recommendations/me")[0] == 401
    for bad in (
        token(other),  # signed by someone else
        token(key, exp=int(time.time()) - 3600),
        token(key, iss="https://cognito-idp.eu-west-1.amazonaws.com/other"),
        token(key, client_id="another-app"),
        "not-a-jwt",
    ):
        status, body = asgi("GET", "/recommendations/me", auth=f"Bearer {bad}")
        assert status == 401, bad
    status, body = asgi("PUT", "/recommendations/me/genres", b"{", f"Bearer {token(key)}")
    assert status == 400 and body["error"]["field"] == "body"
    big = b"x" * (core_asgi.MAX_BODY + 1)
    assert asgi("PUT", "/recommendations/me/genres", big, f"Bearer {token(key)}")[0] == 413
