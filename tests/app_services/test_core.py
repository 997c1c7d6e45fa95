"""The shared service framework: routing and error mapping, events, settings, DB, cache, migrations."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from psycopg import sql
from pydantic import Field

from soundstack.app_services.core import migrate
from soundstack.app_services.core.cache import Cache
from soundstack.app_services.core.db import Database, conninfo
from soundstack.app_services.core.errors import Forbidden
from soundstack.app_services.core.events import (
    CognitoTriggerEvent,
    HttpApiEvent,
    RequestBody,
    S3Event,
)
from soundstack.app_services.core.logs import JsonFormatter, configure
from soundstack.app_services.core.routing import Response, Routes, build_event
from soundstack.app_services.core.settings import ServiceSettings

from .conftest import TEST_DSN


class NewThing(RequestBody):
    name: str = Field(min_length=1)
    size: int = Field(ge=1)


def make_routes() -> Routes:
    routes = Routes("test", configure("test"))

    @routes.route("GET /things/{thing_id}")
    def get_thing(request: HttpApiEvent) -> dict:
        return {"id": request.path("thing_id"), "user": request.user_id}

    @routes.route("POST /things")
    def create(request: HttpApiEvent) -> Response:
        thing = request.json_body(NewThing)
        return Response(201, thing)

    @routes.route("DELETE /things/{thing_id}")
    def delete(request: HttpApiEvent) -> None:
        request.require_user()
        raise Forbidden("only the owner may delete this thing")

    @routes.route("GET /boom")
    def boom(request: HttpApiEvent) -> None:
        raise RuntimeError("secret detail in /var/task/app.py line 3")

    return routes


def call(routes: Routes, *args, **kwargs) -> tuple[int, dict]:
    reply = routes.handle(build_event(*args, **kwargs))
    return reply["statusCode"], json.loads(reply["body"]) if reply["body"] else {}


def test_route_matches_raw_path_and_passes_claims():
    status, body = call(make_routes(), "GET", "/things/abc", claims={"sub": "u-1"})
    assert status == 200
    assert body == {"id": "abc", "user": "u-1"}


def test_route_key_from_api_gateway_is_used_directly():
    event = build_event(
        "GET", "/things/x", route_key="GET /things/{thing_id}", path_parameters={"thing_id": "x"}
    )
    reply = make_routes().handle(event)
    assert json.loads(reply["body"])["id"] == "x"


def test_body_is_validated_and_the_bad_field_named():
    routes = make_routes()
    status, body = call(routes, "POST", "/things", body=json.dumps({"name": "a", "size": 0}))
    assert status == 400
    assert body["error"]["field"] == "size"
    assert body["error"]["code"] == "invalid_request"
    status, body = call(routes, "POST", "/things", body="{not json")
    assert (status, body["error"]["field"]) == (400, "body")
    status, body = call(routes, "POST", "/things", body=json.dumps({"name": "a", "size": 2}))
    assert (status, body) == (201, {"name": "a", "size": 2})


def test_auth_and_ownership_errors_map_to_401_and_403():
    routes = make_routes()
    assert call(routes, "DELETE", "/things/1")[0] == 401
    status, body = call(routes, "DELETE", "/things/1", claims={"sub": "u"})
    assert (status, body["error"]["code"]) == (403, "forbidden")


def test_unknown_route_is_404_and_unexpected_error_is_opaque_500(caplog):
    routes = make_routes()
    assert call(routes, "GET", "/nothing")[0] == 404
    reply = routes.handle(build_event("GET", "/boom"))
    body = json.loads(reply["body"])
    assert reply["statusCode"] == 500
    assert "secret" not in reply["body"] and "Traceback" not in reply["body"]
    assert body["error"]["request_id"] == reply["headers"]["x-request-id"]
    assert uuid.UUID(body["error"]["request_id"])


def test_json_logs_carry_the_request_id(capsys):
    routes = make_routes()
    event = build_event("GET", "/boom")
    routes.handle(event)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["request_id"] == event["requestContext"]["requestId"]
    assert line["service"] == "test" and line["level"] == "ERROR"
    assert "RuntimeError" in line["exception"]
    record = logging.makeLogRecord({"msg": "hi", "levelname": "INFO", "track_id": "t"})
    assert json.loads(JsonFormatter("x").format(record))["track_id"] == "t"


def test_binary_body_is_base64_and_raw_body_roundtrips():
    event = HttpApiEvent.model_validate(build_event("POST", "/x", body=b"\xff\x00sig"))
    assert event.is_base64_encoded
    assert event.raw_body() == b"\xff\x00sig"


def test_s3_keys_are_url_decoded_and_cognito_reply_keeps_the_event():
    s3 = S3Event.model_validate(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": "uploads/My+Song%C3%A9.mp3"}},
                }
            ]
        }
    )
    assert s3.records[0].s3.object.decoded_key == "uploads/My Songé.mp3"
    event = CognitoTriggerEvent.model_validate(
        {
            "version": "1",
            "triggerSource": "PreSignUp_SignUp",
            "region": "eu-west-1",
            "userPoolId": "pool",
            "userName": "u",
            "callerContext": {"clientId": "c"},
            "request": {"userAttributes": {"email": "a@b.c"}},
            "response": {},
        }
    )
    reply = event.reply(autoConfirmUser=False)
    assert reply["triggerSource"] == "PreSignUp_SignUp"
    assert reply["request"]["userAttributes"] == {"email": "a@b.c"}
    assert reply["response"] == {"autoConfirmUser": False}


def test_iam_token_is_used_as_password_for_rds_proxy():
    settings = ServiceSettings(
        database_url=None,
        db_host="proxy.proxy-abc.eu-west-1.rds.amazonaws.com",
        db_user="catalog",
        db_name="soundstack",
        db_iam_auth=True,
        db_schema="catalog",
    )
    rds = boto3.client(
        "rds",
        region_name="eu-west-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )
    info = psycopg.conninfo.conninfo_to_dict(conninfo(settings, rds))
    assert info["host"] == settings.db_host
    assert info["sslmode"] == "verify-full"
    assert info["options"] == "-c search_path=catalog,public"
    password = str(info["password"])
    assert password.startswith(f"{settings.db_host}:5432/?Action=connect&DBUser=catalog")
    assert "X-Amz-Signature=" in password and "X-Amz-Expires=900" in password


def test_settings_without_any_database_fail_with_a_fix():
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        conninfo(ServiceSettings(database_url=None, db_host=None))


def test_database_transaction_rolls_back_on_error(db: Database):
    user_id = str(uuid.uuid4())
    with pytest.raises(psycopg.errors.UniqueViolation), db.transaction() as cur:
        cur.execute(
            "INSERT INTO users (user_id, email, display_name) VALUES (%s, 'dup@x.io', 'a')",
            (user_id,),
        )
        cur.execute(
            "INSERT INTO users (user_id, email, display_name) VALUES (%s, 'DUP@x.io', 'b')",
            (str(uuid.uuid4()),),
        )
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM users WHERE user_id = %s", (user_id,))
        assert cur.fetchone() == {"n": 0}


def test_cache_aside_hits_after_first_load_and_invalidates(cache: Cache):
    loads: list[int] = []

    def load() -> dict:
        loads.append(1)
        return {"n": len(loads)}

    key = f"k-{uuid.uuid4()}"
    assert cache.get_or_load(key, load) == {"n": 1}
    assert cache.get_or_load(key, load) == {"n": 1}
    cache.delete(key)
    assert cache.get_or_load(key, load) == {"n": 2}
    gen = cache.generation("ns")
    cache.bump("ns")
    assert cache.generation("ns") == gen + 1


def test_a_load_that_began_before_a_delete_stores_nothing(cache: Cache):
    """The cache-aside race at the source: `delete` lands while a miss is loading."""
    key = f"k-{uuid.uuid4()}"

    def raced() -> str:
        cache.delete(key)  # a write commits and invalidates while this load runs
        return "stale"

    assert cache.get_or_load(key, raced) == "stale"
    assert cache.get_or_load(key, lambda: "fresh") == "fresh"
    assert cache.get_or_load(key, lambda: "unused") == "fresh"  # stored once nothing raced
    assert cache.get_or_load_field(key, "p0", raced) == "stale"
    assert cache.get_or_load_field(key, "p0", lambda: "fresh") == "fresh"
    assert cache.get_or_load_field(key, "p0", lambda: "unused") == "fresh"
    cache.delete(key, f"{key}-other")  # several keys (several slots) in one call
    assert cache.get_or_load_field(key, "p0", lambda: "after") == "after"


def test_a_cache_hit_is_one_command_and_keys_share_a_slot(cache: Cache, monkeypatch):
    from redis.crc import key_slot

    key = f"k-{uuid.uuid4()}"
    cache.get_or_load(key, lambda: {"n": 1})
    assert cache.client is not None
    sent: list[tuple[Any, ...]] = []
    execute = cache.client.execute_command

    def spy(*args: Any, **options: Any) -> Any:
        sent.append(args)
        return execute(*args, **options)

    monkeypatch.setattr(cache.client, "execute_command", spy)
    assert cache.get_or_load(key, lambda: {"n": 2}) == {"n": 1}
    (command,) = sent
    assert command[0] == "MGET" and len({key_slot(k.encode()) for k in command[1:]}) == 1


def test_cache_down_falls_back_to_the_loader():
    dead = Cache.from_url("redis://127.0.0.1:1/0", "x:", 60)
    assert dead.get_or_load("k", lambda: [1, 2]) == [1, 2]
    assert dead.get_or_load_field("k", "f", lambda: [3]) == [3]
    dead.delete("k", "j")
    dead.bump("ns")
    passthrough = Cache.from_url(None, "x:", 60)
    assert passthrough.get_or_load("k", lambda: [4]) == [4]
    assert passthrough.get_or_load_field("k", "f", lambda: [5]) == [5]


@pytest.fixture
def scratch_schema():
    schema = f"mig_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(TEST_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_migrations_apply_once_in_order(scratch_schema: str):
    with psycopg.connect(TEST_DSN) as conn:
        first = migrate.apply(conn, scratch_schema)
        again = migrate.apply(conn, scratch_schema)
        rows = conn.execute(
            sql.SQL("SELECT version FROM {}.schema_migrations ORDER BY version").format(
                sql.Identifier(scratch_schema)
            )
        ).fetchall()
    versions = [m.version for m in migrate.discover()]
    assert first == versions and again == []
    assert [r[0] for r in rows] == versions
    assert versions[:3] == ["0001", "0002", "0003"]


def test_failed_migration_leaves_nothing_and_edited_one_is_refused(
    scratch_schema: str, tmp_path: Path
):
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE b (id int); SELECT * FROM missing;")
    with psycopg.connect(TEST_DSN) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            migrate.apply(conn, scratch_schema, tmp_path)
        (tmp_path / "0002_bad.sql").unlink()
        assert migrate.apply(conn, scratch_schema, tmp_path) == ["0001"]
        (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (id bigint);")
        with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
            migrate.apply(conn, scratch_schema, tmp_path)
    (tmp_path / "1_x.sql").write_text("")
    with pytest.raises(migrate.MigrationError, match="NNNN_snake_name"):
        migrate.discover(tmp_path)


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        ("accounts", "INSERT INTO users (user_id, email, display_name) VALUES ('r1', 'r1@x.io', 'R')",
         "SELECT * FROM subscriptions"),
        ("catalog", "SELECT * FROM subscriptions", "DELETE FROM subscriptions"),
        ("playlists", "SELECT * FROM tracks", "INSERT INTO artists (name) VALUES ('x')"),
        ("payments", "SELECT * FROM processed_events", "SELECT * FROM playlists"),
        ("preferences", "SELECT * FROM rec_signals", "SELECT * FROM users"),
        ("playlists", "INSERT INTO users (user_id, display_name) VALUES ('p1', 'P')",
         "SELECT email FROM users"),
        ("activity", "SELECT artist_id, duration_ms FROM tracks", "SELECT email FROM users"),
        # graph.engine: postgres (dev): activity writes the graph, the feed reads follows only
        ("activity", "INSERT INTO activity_follows (follower_id, followee_id, followed_at) "
         "VALUES ('u1', 'u2', now())", "SELECT * FROM rec_signals"),
        ("activity", "UPDATE activity_listens SET plays = plays + 1", "DELETE FROM tracks"),
        ("feed", "SELECT follower_id FROM activity_follows", "SELECT * FROM activity_listens"),
        ("feed", "SELECT follower_id FROM activity_follows",
         "INSERT INTO activity_follows (follower_id, followee_id, followed_at) "
         "VALUES ('u1', 'u2', now())"),
    ],
)  # fmt: skip
def test_service_roles_reach_only_their_own_tables(db_schema, role, allowed, refused):
    from soundstack.components.database import GRAPH_USERS, SERVICE_USERS

    assert role in (*SERVICE_USERS, *GRAPH_USERS)
    with psycopg.connect(TEST_DSN) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(db_schema)))
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        conn.execute(allowed)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(refused)
        conn.rollback()


def test_every_database_role_the_platform_grants_exists_after_migrating(db_schema):
    from soundstack.components.database import GRAPH_USERS, SERVICE_USERS

    with psycopg.connect(TEST_DSN) as conn:
        found = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolcanlogin")}
    assert set(SERVICE_USERS) | set(GRAPH_USERS) <= found
