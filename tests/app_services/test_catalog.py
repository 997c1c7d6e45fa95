"""Music Catalog against the real PostgreSQL and Redis, moto for S3 and Secrets Manager."""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import psycopg
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from mutagen.easyid3 import EasyID3

from soundstack.app_services.catalog import domain, handler, service
from soundstack.app_services.catalog.audio import image_type, read_metadata
from soundstack.app_services.catalog.repository import CatalogRepository
from soundstack.app_services.core.db import Database
from soundstack.app_services.core.errors import BadRequest
from soundstack.app_services.core.routing import build_event
from soundstack.app_services.media_signing import canned_policy

from .conftest import FIXTURES, new_user

BUCKET = "media-uploads"
AUDIO = ["tone.mp3", "tone.flac", "tone.ogg", "tone.opus", "tone.m4a"]


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def catalog_env(aws, service_env, monkeypatch, signing_key) -> Iterator[service.Catalog]:
    pem = signing_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    secret = {"active": {"key_pair_id": "K2TESTKEY", "private_key_pem": pem}, "pending": None}
    arn = boto3.client("secretsmanager").create_secret(
        Name=f"signing-{uuid.uuid4().hex}", SecretString=json.dumps(secret)
    )["ARN"]
    boto3.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    monkeypatch.setenv("CLOUDFRONT_SIGNING_SECRET_ID", arn)
    monkeypatch.setenv("CDN_DOMAIN", "media.example.com")
    monkeypatch.setenv("MAX_INGEST_BYTES", "100000")
    service.catalog.cache_clear()
    yield service.catalog()
    service.catalog().store.db.close()
    service.catalog.cache_clear()


def upload(path: Path, key: str) -> None:
    boto3.client("s3").upload_file(str(path), BUCKET, key)


def s3_event(*keys: str, event_name: str = "ObjectCreated:Put") -> dict:
    records = [
        {
            "eventName": event_name,
            "s3": {"bucket": {"name": BUCKET}, "object": {"key": key.replace(" ", "+")}},
        }
        for key in keys
    ]
    return {"Records": records}


def get(path: str, query: str = "", claims: dict | None = None) -> tuple[int, Any]:
    reply = handler.handler(build_event("GET", path, query=query, claims=claims), None)
    return reply["statusCode"], json.loads(reply["body"]) if reply["body"] else None


@pytest.mark.parametrize("name", AUDIO)
def test_metadata_is_read_from_every_supported_format(name: str):
    meta = read_metadata(str(FIXTURES / name), f"uploads/{name}")
    assert meta.title and meta.artist != "Unknown artist" and meta.album != "Unknown album"
    assert (
        meta.audio_format
        == {"mp3": "mp3", "flac": "flac", "ogg": "vorbis", "opus": "opus", "m4a": "m4a"}[
            name.split(".")[1]
        ]
    )
    assert 900 <= meta.duration_ms <= 1300
    assert meta.track_number == AUDIO.index(name) + 1
    assert meta.year and 2018 <= meta.year <= 2022
    assert meta.cover is not None and meta.cover.data.startswith(b"\x89PNG")
    assert meta.cover.key.startswith("covers/") and meta.cover.key.endswith(".png")


#: A 1x1 PNG.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def test_cover_art_is_typed_by_its_bytes_never_by_the_tags_claim(tmp_path):
    """Covers are served unsigned from the media domain: a tag claiming `text/html` gets no
    cover unless the bytes are an image, and then the image's own type."""
    from mutagen.id3 import APIC, ID3

    mp3 = (FIXTURES / "tone.mp3").read_bytes()
    for data, expected in ((b"<script>alert(1)</script>", None), (PNG_BYTES, "image/png")):
        path = tmp_path / "lying.mp3"
        path.write_bytes(mp3)
        tags = ID3(path)
        tags.delall("APIC")
        tags.add(APIC(encoding=3, mime="text/html", type=3, desc="front", data=data))
        tags.save(path)
        meta = read_metadata(str(path), "uploads/lying.mp3")
        assert (meta.cover.mime if meta.cover else None) == expected


@pytest.mark.parametrize(
    ("data", "mime"),
    [(b"\x89PNG\r\n\x1a\nrest", "image/png"), (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
     (b"GIF89a...", "image/gif"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
     (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None), (b"", None)],
)  # fmt: skip
def test_image_type_reads_the_signature(data: bytes, mime: str | None):
    assert image_type(data) == mime


def test_a_non_audio_file_is_a_bad_request():
    with pytest.raises(BadRequest, match="not a readable"):
        read_metadata(str(FIXTURES / "not-audio.mp3"), "uploads/not-audio.mp3")


def test_fold_removes_accents_and_case():
    assert domain.fold("  Björn  STRÖM ") == "bjorn strom"
    assert domain.fold("Ærø Straße Łódź") == "aero strasse lodz"
    assert domain.search_terms("Café: del-Mar & 'x'") == ["café", "del", "mar", "x"]


def test_ingest_makes_every_format_searchable_without_accents(catalog_env: service.Catalog):
    keys = [f"uploads/{uuid.uuid4().hex[:6]} {name}" for name in AUDIO]
    for key, name in zip(keys, AUDIO, strict=True):
        upload(FIXTURES / name, key)
    report = handler.ingest(s3_event(*keys), None)
    assert len(report["ingested"]) == 5 and report["rejected"] == []
    for query, title in [
        ("cafe sunrise", "Café Sunrise"),
        ("hyvaa", "Hyvää Yötä"),
        ("senorita lluv", "Señorita Lluvia"),
        ("CREME brulee", "Crème Brûlée"),
        ("bjorn strom", "Über Gut"),
        ("Nordlicht", "Über Gut"),
    ]:
        status, found = get("/catalog/search", f"q={query.replace(' ', '+')}")
        assert status == 200
        assert title in [t["title"] for t in found], query
    status, found = get("/catalog/search", "q=zzzznothing")
    assert (status, found) == (200, [])
    covers = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="covers/")["Contents"]
    assert len(covers) == 1  # the same art on five tracks is stored once


def test_ingest_rejects_unreadable_and_oversized_files(catalog_env, tmp_path):
    upload(FIXTURES / "not-audio.mp3", "uploads/not-audio.mp3")
    big = tmp_path / "big.flac"
    big.write_bytes((FIXTURES / "tone.flac").read_bytes() * 10)
    upload(big, "uploads/big.flac")
    report = handler.ingest(s3_event("uploads/not-audio.mp3", "uploads/big.flac"), None)
    assert [r["key"] for r in report["rejected"]] == ["uploads/not-audio.mp3", "uploads/big.flac"]
    assert report["ingested"] == []
    assert "not a readable MP3" in report["rejected"][0]["reason"]
    assert "over the 100000-byte limit" in report["rejected"][1]["reason"]
    removed = handler.ingest(s3_event("uploads/x.mp3", event_name="ObjectRemoved:Delete"), None)
    assert removed == {"ingested": [], "rejected": []}
    with pytest.raises(BadRequest, match=r"event.Records.0.s3"):
        handler.ingest({"Records": [{"eventName": "ObjectCreated:Put"}]}, None)


def test_browse_artist_album_track(catalog_env):
    key = f"uploads/{uuid.uuid4().hex}.mp3"
    upload(FIXTURES / "tone.mp3", key)
    track_id = handler.ingest(s3_event(key), None)["ingested"][0]
    status, track = get(f"/catalog/tracks/{track_id}")
    assert status == 200 and track["artist"] == "Zoë Quintet"
    status, album = get(f"/catalog/albums/{track['album_id']}")
    assert album["title"] == "Émile Sessions" and album["year"] == 2021
    assert track_id in [t["track_id"] for t in album["tracks"]]
    assert album["cover_key"].startswith("covers/")
    status, artist = get(f"/catalog/artists/{track['artist_id']}")
    assert artist["albums"][0]["title"] == "Émile Sessions"
    status, artists = get("/catalog/artists", "limit=100")
    assert "Zoë Quintet" in [a["name"] for a in artists]


def test_bad_inputs_are_4xx_naming_the_field(catalog_env):
    status, body = get("/catalog/tracks/not-a-uuid")
    assert (status, body["error"]["field"]) == (400, "track_id")
    assert get(f"/catalog/albums/{uuid.uuid4()}")[0] == 404
    assert get(f"/catalog/artists/{uuid.uuid4()}")[0] == 404
    status, body = get("/catalog/search", "q=")
    assert (status, body["error"]["field"]) == (400, "q")
    status, body = get("/catalog/search", "q=%21%21")
    assert (status, body["error"]["field"]) == (400, "q")
    status, body = get("/catalog/artists", "limit=1000")
    assert (status, body["error"]["field"]) == (400, "limit")
    status, body = get("/catalog/search", "q=a%00b")  # PostgreSQL text cannot hold NUL
    assert (status, body["error"]["field"]) == (400, "query.q")
    status, body = get("/catalog/artists", "limit=%C2%B2")  # `²`: isdigit() but not int()
    assert (status, body["error"]["field"]) == (400, "limit")


def test_cached_read_is_invalidated_by_reingest(catalog_env: service.Catalog, tmp_path):
    key = f"uploads/{uuid.uuid4().hex}.mp3"
    upload(FIXTURES / "tone.mp3", key)
    track_id = handler.ingest(s3_event(key), None)["ingested"][0]
    assert get(f"/catalog/tracks/{track_id}")[1]["title"] == "Café Sunrise"
    cached_key = catalog_env.cache.value_key(f"catalog:track:{track_id}")
    assert catalog_env.cache.client is not None and catalog_env.cache.client.exists(cached_key)
    assert get("/catalog/search", "q=retitled")[1] == []
    retagged = tmp_path / "retagged.mp3"
    shutil.copy(FIXTURES / "tone.mp3", retagged)
    tags = EasyID3(retagged)
    tags["title"] = "Retitled Morning"
    tags.save()
    upload(retagged, key)
    assert handler.ingest(s3_event(key), None)["ingested"] == [track_id]  # updated in place
    assert get(f"/catalog/tracks/{track_id}")[1]["title"] == "Retitled Morning"
    found = get("/catalog/search", "q=retitled")[1]
    assert [t["track_id"] for t in found] == [track_id]


def test_a_read_that_loaded_before_a_reingest_never_caches_over_it(
    catalog_env: service.Catalog, tmp_path, monkeypatch
):
    """The cache-aside race, forced: a reader loads the track, a re-ingest commits and
    invalidates, then the reader stores what it loaded. The next read still shows the write."""
    key = f"uploads/{uuid.uuid4().hex}.mp3"
    upload(FIXTURES / "tone.mp3", key)
    track_id = handler.ingest(s3_event(key), None)["ingested"][0]
    retagged = tmp_path / "retagged.mp3"
    shutil.copy(FIXTURES / "tone.mp3", retagged)
    tags = EasyID3(retagged)
    tags["title"] = "Raced Evening"
    tags.save()
    upload(retagged, key)
    store = catalog_env.store
    get_track = store.get_track

    def load_then_a_reingest_lands(ident: str):
        loaded = get_track(ident)  # the reader's snapshot: the old title
        monkeypatch.setattr(store, "get_track", get_track)
        assert handler.ingest(s3_event(key), None)["ingested"] == [track_id]
        return loaded

    monkeypatch.setattr(store, "get_track", load_then_a_reingest_lands)
    assert get(f"/catalog/tracks/{track_id}")[1]["title"] == "Café Sunrise"  # its own snapshot
    assert get(f"/catalog/tracks/{track_id}")[1]["title"] == "Raced Evening"


def test_python_folding_path_matches_like_unaccent(db: Database):
    repo = CatalogRepository(db, use_unaccent=False)
    marker = uuid.uuid4().hex[:8]
    meta = read_metadata(str(FIXTURES / "tone.flac"), "x.flac")
    meta = domain.AudioMetadata(**{**meta.__dict__, "title": f"Ångström Ñandú {marker}"})
    ids = repo.upsert_track(meta, f"uploads/{marker}.flac", None)
    found = repo.search(domain.search_terms(f"angstrom nandu {marker}"), 10, 0)
    assert [t["track_id"] for t in found] == [ids["track_id"]]


def grant(db: Database, user_id: str, status: str, period_end: datetime | None) -> None:
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO subscriptions (user_id, provider, status, plan, current_period_end)"
            " VALUES (%s, 'stripe', %s, 'premium', %s)",
            (user_id, status, period_end),
        )


def test_stream_url_only_for_signed_in_subscribers(catalog_env, db: Database, signing_key):
    key = f"uploads/{uuid.uuid4().hex} song.mp3"
    upload(FIXTURES / "tone.mp3", key)
    track_id = handler.ingest(s3_event(key), None)["ingested"][0]
    path = f"/catalog/tracks/{track_id}/stream"
    assert get(path)[0] == 401
    free, lapsed, paying = new_user(db), new_user(db), new_user(db)
    grant(db, lapsed, "active", datetime.now(UTC) - timedelta(days=1))
    grant(db, paying, "active", datetime.now(UTC) + timedelta(days=20))
    for user in (free, lapsed):
        status, body = get(path, claims={"sub": user})
        assert (status, body["error"]["code"]) == (403, "subscription_required")
    status, body = get(path, claims={"sub": paying})
    assert status == 200
    url = urlsplit(body["url"])
    assert url.netloc == "media.example.com" and url.path.endswith("%20song.mp3")
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    expires = int(params["Expires"])
    assert 0 < expires - datetime.now(UTC).timestamp() <= 300
    assert params["Key-Pair-Id"] == "K2TESTKEY"
    signature = base64.b64decode(params["Signature"].translate(str.maketrans("-_~", "+=/")))
    resource = f"https://media.example.com{url.path}"
    signing_key.public_key().verify(
        signature, canned_policy(resource, expires).encode(), padding.PKCS1v15(), hashes.SHA1()
    )
    assert get(f"/catalog/tracks/{uuid.uuid4()}/stream", claims={"sub": paying})[0] == 404


def test_health_answers_without_a_user_when_the_database_answers(catalog_env):
    assert get("/health") == (200, {"status": "ok"})


def test_health_is_a_500_without_a_stack_trace_when_the_database_is_gone(catalog_env, monkeypatch):
    def down() -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(catalog_env.store, "ping", down)
    status, body = get("/health")
    assert status == 500
    assert "Traceback" not in json.dumps(body) and "connection refused" not in json.dumps(body)


def retagged(tmp_path: Path, name: str = "tone.ogg", **tags: str) -> Path:
    """A copy of a fixture with its (easy) tags replaced."""
    import mutagen

    copy = tmp_path / f"{uuid.uuid4().hex}-{name}"
    shutil.copy(FIXTURES / name, copy)
    audio = mutagen.File(copy, easy=True)
    for tag, value in tags.items():
        audio[tag] = value
    audio.save()
    return copy


def ingest_file(path: Path) -> dict[str, Any]:
    key = f"uploads/{uuid.uuid4().hex}{path.suffix}"
    upload(path, key)
    return handler.ingest(s3_event(key), None)


def lying_mp3(tmp_path: Path) -> Path:
    """tone.mp3 with its Info header claiming 2**32 - 1 frames: 112,195,063 s at 1152/44100."""
    data = bytearray((FIXTURES / "tone.mp3").read_bytes())
    at = data.index(b"Info") + 8  # "Info", 4 flag bytes (frames present), the frame count
    data[at : at + 4] = b"\xff\xff\xff\xff"
    path = tmp_path / "lying.mp3"
    path.write_bytes(data)
    return path


def test_implausible_durations_and_tags_are_rejected_with_the_reason(catalog_env, db, tmp_path):
    cases = {
        "duration": lying_mp3(tmp_path),
        "title": retagged(tmp_path, title="x" * 5000),
        "artist": retagged(tmp_path, artist="a\x07b"),
        "track_number": retagged(tmp_path, tracknumber="99999999999"),
    }
    for field, path in cases.items():
        report = ingest_file(path)
        assert report["ingested"] == [], field
        (rejected,) = report["rejected"]
        assert rejected["reason"].split(": ")[1] == field, rejected
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM tracks WHERE duration_ms > 12 * 3600 * 1000")
        assert cur.fetchone() == {"n": 0}
    # a tag `isdigit()` accepts but `int()` does not is simply no track number
    report = ingest_file(retagged(tmp_path, tracknumber="\u00b2"))
    assert get(f"/catalog/tracks/{report['ingested'][0]}")[1]["track_number"] is None


def test_downloaded_copies_are_deleted_whatever_the_outcome(catalog_env, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(catalog_env, "workdir", str(scratch))
    assert ingest_file(FIXTURES / "tone.ogg")["ingested"]
    assert ingest_file(FIXTURES / "not-audio.mp3")["rejected"]
    assert ingest_file(lying_mp3(tmp_path))["rejected"]
    monkeypatch.setattr(catalog_env.store, "upsert_track", lambda *a: 1 / 0)  # database gone
    with pytest.raises(ZeroDivisionError):
        ingest_file(FIXTURES / "tone.flac")
    assert list(scratch.iterdir()) == []


def test_a_retagged_track_leaves_its_old_album_everywhere(catalog_env, tmp_path):
    key = f"uploads/{uuid.uuid4().hex}.ogg"
    first_album = f"First {uuid.uuid4().hex[:8]}"
    upload(retagged(tmp_path, album=first_album), key)
    (track_id,) = handler.ingest(s3_event(key), None)["ingested"]
    old = get(f"/catalog/tracks/{track_id}")[1]
    assert get(f"/catalog/albums/{old['album_id']}")[1]["tracks"][0]["track_id"] == track_id
    assert first_album in [
        a["title"] for a in get(f"/catalog/artists/{old['artist_id']}")[1]["albums"]
    ]

    upload(retagged(tmp_path, album="Second Thoughts"), key)
    assert handler.ingest(s3_event(key), None)["ingested"] == [track_id]

    assert get(f"/catalog/albums/{old['album_id']}")[0] == 404  # emptied, and not cached
    albums = get(f"/catalog/artists/{old['artist_id']}")[1]["albums"]
    assert first_album not in [a["title"] for a in albums]
    new = get(f"/catalog/tracks/{track_id}")[1]
    assert get(f"/catalog/albums/{new['album_id']}")[1]["title"] == "Second Thoughts"


def test_a_compilation_is_one_album_of_its_album_artist(catalog_env, tmp_path):
    album = f"Summer Hits {uuid.uuid4().hex[:8]}"
    ids = []
    for number, artist in enumerate(["Ana Ruiz", "Bo Lind", "Cy Ode"], start=1):
        path = retagged(
            tmp_path, artist=artist, album=album, albumartist="Various Artists",
            tracknumber=str(number),
        )  # fmt: skip
        ids += ingest_file(path)["ingested"]
    tracks = [get(f"/catalog/tracks/{i}")[1] for i in ids]
    assert len({t["album_id"] for t in tracks}) == 1
    assert [t["artist"] for t in tracks] == ["Ana Ruiz", "Bo Lind", "Cy Ode"]
    status, found = get(f"/catalog/albums/{tracks[0]['album_id']}")
    assert status == 200 and [t["track_id"] for t in found["tracks"]] == ids
    assert found["artist"] == "Various Artists"


def test_catalog_reads_are_conditional_with_etag_and_cache_control(catalog_env):
    (track_id,) = ingest_file(FIXTURES / "tone.ogg")["ingested"]
    path = f"/catalog/tracks/{track_id}"
    reply = handler.handler(build_event("GET", path), None)
    etag = reply["headers"]["etag"]
    assert reply["statusCode"] == 200 and reply["headers"]["cache-control"] == "public, max-age=60"
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = handler.handler(build_event("GET", path, headers={"If-None-Match": header}), None)
        assert (again["statusCode"], again["body"]) == (304, ""), header
        assert again["headers"]["etag"] == etag
    stale = handler.handler(build_event("GET", path, headers={"If-None-Match": '"x"'}), None)
    assert stale["statusCode"] == 200 and json.loads(stale["body"])["track_id"] == track_id
    search = handler.handler(build_event("GET", "/catalog/search", query="q=lluvia"), None)
    assert search["headers"]["etag"].startswith('"')
    missing = handler.handler(build_event("GET", f"/catalog/tracks/{uuid.uuid4()}"), None)
    assert missing["statusCode"] == 404 and "etag" not in missing["headers"]


def test_plain_http_media_is_only_for_a_loopback_cdn_domain(monkeypatch):
    from pydantic import ValidationError

    local = service.CatalogSettings(cdn_domain="media.localhost:8080", cdn_scheme="http")
    assert (local.cdn_scheme, local.cdn_domain) == ("http", "media.localhost:8080")
    with pytest.raises(ValidationError, match="cdn_scheme: http is only for a loopback"):
        service.CatalogSettings(cdn_domain="d111.cloudfront.net", cdn_scheme="http")
    assert service.CatalogSettings(cdn_domain="d111.cloudfront.net").cdn_scheme == "https"


def upload_licensed(path: Path, key: str, territories: str | None) -> None:
    extra = {"Metadata": {"territories": territories}} if territories is not None else {}
    boto3.client("s3").upload_file(str(path), BUCKET, key, ExtraArgs=extra)


def stream(track_id: str, user: str, country: str | None = None) -> tuple[int, Any]:
    headers = {"CloudFront-Viewer-Country": country} if country else None
    path = f"/catalog/tracks/{track_id}/stream"
    reply = handler.handler(build_event("GET", path, headers=headers, claims={"sub": user}), None)
    return reply["statusCode"], json.loads(reply["body"])


def source(catalog_env: service.Catalog, monkeypatch, value: str) -> None:
    """Run the catalog with VIEWER_COUNTRY_SOURCE=`value`."""
    settings = catalog_env.settings.model_copy(update={"viewer_country_source": value})
    monkeypatch.setattr(catalog_env, "settings", settings)


def test_ingest_stores_the_territories_the_object_metadata_names(catalog_env, db: Database):
    key = f"uploads/{uuid.uuid4().hex}.mp3"
    upload_licensed(FIXTURES / "tone.mp3", key, "ie, gb")
    (track_id,) = handler.ingest(s3_event(key), None)["ingested"]
    assert get(f"/catalog/tracks/{track_id}")[1]["territories"] == ["GB", "IE"]
    # copying the object onto itself without the metadata (how an operator lifts a restriction)
    # re-ingests it in place: the track streams wherever the platform is licensed again
    boto3.client("s3").copy_object(
        Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": key},
        MetadataDirective="REPLACE", Metadata={},
    )  # fmt: skip
    assert handler.ingest(s3_event(key), None)["ingested"] == [track_id]
    assert get(f"/catalog/tracks/{track_id}")[1]["territories"] is None
    with db.transaction() as cur:
        cur.execute("SELECT territories FROM tracks WHERE track_id = %s", (track_id,))
        assert cur.fetchone() == {"territories": None}


def test_unknown_country_codes_reject_the_upload_naming_them(catalog_env, db: Database):
    key = f"uploads/{uuid.uuid4().hex}.mp3"
    upload_licensed(FIXTURES / "tone.mp3", key, "GB,UK,XX")
    report = handler.ingest(s3_event(key), None)
    assert report["ingested"] == []
    (rejected,) = report["rejected"]
    assert "'UK' is not an ISO 3166-1 alpha-2 country code (use GB)" in rejected["reason"]
    assert "'XX'" in rejected["reason"]
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM tracks WHERE media_key = %s", (key,))
        assert cur.fetchone() == {"n": 0}


def test_the_database_refuses_malformed_territories(db: Database):
    repo = CatalogRepository(db)
    meta = read_metadata(str(FIXTURES / "tone.flac"), "x.flac")
    bad: list[list[Any]] = [["gb"], [], ["GBR"], ["GB", None]]  # what the domain never sends
    for territories in bad:
        with pytest.raises(psycopg.errors.CheckViolation, match="tracks_territories_codes"):
            repo.upsert_track(meta, f"uploads/{uuid.uuid4().hex}.flac", None, territories)


def test_stream_url_is_refused_outside_the_tracks_territories(
    catalog_env, db: Database, monkeypatch
):
    source(catalog_env, monkeypatch, "cloudfront")  # as deployed behind the web distribution
    restricted, anywhere = (f"uploads/{uuid.uuid4().hex}.mp3" for _ in range(2))
    upload_licensed(FIXTURES / "tone.mp3", restricted, "GB,IE")
    upload_licensed(FIXTURES / "tone.mp3", anywhere, None)
    licensed, free = handler.ingest(s3_event(restricted, anywhere), None)["ingested"]
    paying = new_user(db)
    grant(db, paying, "active", datetime.now(UTC) + timedelta(days=20))

    status, body = stream(licensed, paying, "FR")
    assert (status, body["error"]["code"]) == (403, "territory_not_licensed")
    assert "FR" in body["error"]["message"]
    assert stream(licensed, paying, "IE")[0] == 200
    assert stream(licensed, paying, "gb")[0] == 200  # CloudFront sends upper case; tolerated
    for unknown in (None, "XX", "Ireland"):  # no header, or not an assigned code
        status, body = stream(licensed, paying, unknown)
        assert (status, body["error"]["code"]) == (403, "viewer_country_unknown"), unknown
    assert stream(free, paying)[0] == 200  # an unrestricted track needs no country
    assert stream(free, paying, "FR")[0] == 200
    # a subscription is still checked first: a free user outside the territory is told so
    status, body = stream(licensed, new_user(db), "FR")
    assert (status, body["error"]["code"]) == (403, "subscription_required")


def test_the_country_header_counts_only_where_it_can_be_trusted(
    catalog_env, db: Database, monkeypatch
):
    key = f"uploads/{uuid.uuid4().hex}.mp3"
    upload_licensed(FIXTURES / "tone.mp3", key, "GB")
    (track_id,) = handler.ingest(s3_event(key), None)["ingested"]
    paying = new_user(db)
    grant(db, paying, "active", datetime.now(UTC) + timedelta(days=20))
    source(catalog_env, monkeypatch, "none")  # e.g. the EKS ingress: a client sets any header
    status, body = stream(track_id, paying, "GB")
    assert (status, body["error"]["code"]) == (403, "viewer_country_unknown")
    source(catalog_env, monkeypatch, "local")  # `soundstack serve`: no CloudFront in front
    assert stream(track_id, paying)[0] == 200
    assert stream(track_id, paying, "DE")[0] == 403
