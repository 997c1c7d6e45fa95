"""Service benchmarks (not a test): cold start per handler, catalog read latency.

    .venv/bin/python benchmarks/services.py [--reads 500] [--repeats 15] [--first-requests 3]

Cold start, per handler: the import in a fresh interpreter (what a Lambda cold start pays before
the first invocation) against its floor, a fresh interpreter importing only the third-party
modules the handler's most frequent route needs (`HOT`), and the ratio of the wall-clock medians
(target: <= 1.25), with the ratio of CPU-time medians beside it (on a loaded machine the wall
clock also measures waiting for a core); then import + the first request of that route as
Lambda runs it (AWS_LAMBDA_FUNCTION_NAME set: settings are parsed at import) against the real
PostgreSQL and Redis and a moto server for AWS (locally the graph is PostgreSQL, in the cloud
Neptune). Catalog reads run against the real PostgreSQL and Redis, in-process and over HTTP on
one kept-alive connection to `soundstack serve` (target: p99 <= 5 ms). SOUNDSTACK_TEST_DSN,
SOUNDSTACK_TEST_REDIS; defaults: the machine's `test` database and Redis db 0, in a scratch
schema and key prefix that are removed afterwards.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from soundstack.app_services.catalog import domain
from soundstack.app_services.catalog.audio import read_metadata
from soundstack.app_services.catalog.repository import CatalogRepository
from soundstack.app_services.core import migrate
from soundstack.app_services.core.cache import Cache
from soundstack.app_services.core.db import Database
from soundstack.app_services.core.routing import build_event
from soundstack.app_services.core.settings import ServiceSettings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DSN = os.environ.get("SOUNDSTACK_TEST_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres")
REDIS = os.environ.get("SOUNDSTACK_TEST_REDIS", "redis://127.0.0.1:6379/0")
FIXTURES = ROOT / "tests" / "app_services" / "fixtures"
WORDS = [
    "night",
    "river",
    "golden",
    "echo",
    "velvet",
    "storm",
    "café",
    "über",
    "señor",
    "ström",
    "luna",
    "north",
    "fire",
]


COMMON = ("pydantic", "pydantic_settings")  # settings and the event models: every request


@dataclass(frozen=True)
class Hot:
    """A handler's most frequent invocation and the third-party modules it needs."""

    route: str
    floor: tuple[str, ...]


HOT = {
    "activity": Hot("POST /activity/plays", ("boto3", "psycopg", *COMMON)),
    # the edge gate: every API request; the most frequent (catalog reads) are public routes,
    # checked for the origin-verify header only (no token, so no JWT library)
    "auth": Hot("authorizer, public route", ("boto3", *COMMON)),
    "catalog": Hot("GET /catalog/tracks/{id}", ("psycopg", "redis", *COMMON)),
    # fan-out of each activity event; the graph is Neptune (SigV4 with botocore), not psycopg
    "feed": Hot("stream fan-out (Kinesis)", ("boto3", "redis", *COMMON)),
    "payment": Hot("GET /payments/subscription", ("psycopg", *COMMON)),
    "playlist": Hot("GET /playlists/{id}", ("psycopg", "redis", *COMMON)),
    "recommendation": Hot("GET /recommendations/me", ("psycopg", "redis", *COMMON)),
    # hourly: the signing key's age from the secret's metadata, published to CloudWatch
    "reminders": Hot("scheduled key-age check", ("boto3", *COMMON)),
}


def handler_modules() -> list[str]:
    found = sorted(p.parent.name for p in (ROOT / "app_services").glob("*/handler.py"))
    missing = set(found) - set(HOT)
    if missing:
        raise SystemExit(f"add the hot route of {sorted(missing)} to HOT")
    return found


def import_ms(modules: list[str]) -> tuple[float, float]:
    """Milliseconds a fresh interpreter takes to import `modules`: wall clock, and CPU time of
    the process (steadier on a loaded machine: it leaves out time spent waiting for a core)."""
    code = (
        "import time; t, c = time.perf_counter(), time.process_time(); import importlib; "
        f"[importlib.import_module(m) for m in {modules!r}]; "
        "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


_FIRST = """
import json, sys, time
event = json.loads(sys.stdin.read())
start = time.perf_counter()
import importlib
module = importlib.import_module(sys.argv[1])
imported = time.perf_counter()
reply = module.handler(event, None)
done = time.perf_counter()
print()  # after whatever the handler logged
print(json.dumps({"total": (done - start) * 1000, "reply": reply}, default=str))
"""


def first_request(name: str, event: dict[str, Any], env: dict[str, str]) -> tuple[float, Any]:
    """Import + first invocation in a fresh interpreter, as a Lambda cold start runs them."""
    out = subprocess.run(
        [sys.executable, "-c", _FIRST, f"soundstack.app_services.{name}.handler"],
        cwd=ROOT,
        input=json.dumps(event),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env, "AWS_LAMBDA_FUNCTION_NAME": f"bench-{name}"},
    )
    if out.returncode:
        raise SystemExit(f"{name}: the first request failed:\n{out.stderr}")
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return float(found["total"]), found["reply"]


USER = "bench-user"
#: What a successful first request of each hot route answers (checked, so a broken route
#: cannot pass for a fast one).
EXPECTED = {
    "activity": lambda r: r["statusCode"] == 201,
    "auth": lambda r: r == {"isAuthorized": True, "context": {}},
    "catalog": lambda r: r["statusCode"] == 200,
    "feed": lambda r: r == {"batchItemFailures": []},
    "payment": lambda r: r["statusCode"] == 404,  # no subscription yet: still the full read
    "playlist": lambda r: r["statusCode"] == 200,
    "recommendation": lambda r: r["statusCode"] == 200,
    "reminders": lambda r: r["age_days"] >= 0,
}


def hot_event(name: str, ctx: dict[str, Any]) -> dict[str, Any]:
    """The event of `name`'s hot route (`HOT`), built as AWS sends it."""
    claims = {"sub": USER}
    if name == "activity":
        body = {"event_id": str(uuid.uuid4()), "track_id": ctx["track_id"], "ms_played": 500}
        return build_event(
            "POST", "/activity/plays", body=json.dumps(body), claims=claims,
            route_key="POST /activity/plays",
        )  # fmt: skip
    if name == "auth":
        return {
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:eu-west-1:123456789012:api/$default/GET/catalog",
            "headers": {"x-origin-verify": ctx["origin_secret"]},
            "identitySource": [],
        }
    if name == "catalog":
        path, key = f"/catalog/tracks/{ctx['track_id']}", "GET /catalog/tracks/{track_id}"
        return build_event(
            "GET", path, route_key=key, path_parameters={"track_id": ctx["track_id"]}
        )
    if name == "feed":
        data = base64.b64encode(json.dumps(ctx["activity_event"]).encode()).decode()
        kinesis = {"partitionKey": USER, "sequenceNumber": "1", "data": data}
        return {
            "Records": [{"kinesis": kinesis, "eventID": "shard-0:1", "eventSource": "aws:kinesis"}]
        }
    if name == "payment":
        return build_event(
            "GET", "/payments/subscription", claims=claims, route_key="GET /payments/subscription"
        )
    if name == "reminders":
        return {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    if name == "playlist":
        ident = ctx["playlist_id"]
        return build_event(
            "GET", f"/playlists/{ident}", claims=claims, route_key="GET /playlists/{playlist_id}",
            path_parameters={"playlist_id": ident},
        )  # fmt: skip
    return build_event(
        "GET", "/recommendations/me", claims=claims, route_key="GET /recommendations/me"
    )


def local_services(schema: str, prefix: str) -> tuple[dict[str, str], dict[str, Any], Any]:
    """A moto server provisioned as `soundstack serve --local-aws` does, the settings every
    handler reads, and the ids the hot routes need (origin secret, a playlist)."""
    import boto3

    from soundstack.app_services.core.serve import local_aws_environment, provision, start_local_aws

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    local_aws = start_local_aws(0)
    os.environ.update(local_aws_environment(local_aws.endpoint))
    region = os.environ["AWS_REGION"]
    origin_secret = uuid.uuid4().hex
    origin_arn = boto3.client("secretsmanager", region_name=region).create_secret(
        Name="bench-origin-verify", SecretString=origin_secret
    )["ARN"]
    provisioned = provision(region)
    env = {
        **local_aws_environment(local_aws.endpoint),
        **provisioned,
        "SIGNING_SECRET_ID": provisioned["CLOUDFRONT_SIGNING_SECRET_ID"],
        "DATABASE_URL": DSN,
        "DB_SCHEMA": schema,
        "REDIS_URL": REDIS,
        "CACHE_PREFIX": prefix,
        "GRAPH_BACKEND": "postgres",
        "FEED_CALLBACK_URL": "https://bench.execute-api.eu-west-1.amazonaws.com/prod",
        "COGNITO_USER_POOL_ID": "eu-west-1_bench",
        "COGNITO_CLIENT_IDS": '["web"]',
        "API_ORIGIN_SECRET_ARN": origin_arn,
        "METRIC_NAMESPACE": "SoundStack/bench",
    }
    os.environ.update(env)
    load_settings.cache_clear()
    from soundstack.app_services.playlist.api import routes as playlist_routes

    created = playlist_routes.handle(
        build_event(
            "POST",
            "/playlists",
            body='{"name": "bench"}',
            claims={"sub": USER},
            route_key="POST /playlists",
        )
    )
    ctx = {
        "origin_secret": origin_secret,
        "playlist_id": json.loads(created["body"])["playlist_id"],
    }
    return env, ctx, local_aws


def cold_starts(repeats: int, first_runs: int, env: dict[str, str], ctx: dict[str, Any]) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"cold start, median of {repeats} fresh interpreters ({first_runs} for the first request);"
        f" load average {load} on {os.cpu_count()} CPUs"
    )
    print(
        f"  {'handler':<15} {'hot route':<27} import ms  floor ms  ratio  (CPU time ratio)"
        "  import+1st request ms"
    )
    for name in handler_modules():
        hot, imports, floors, firsts = HOT[name], [], [], []
        for _ in range(repeats):  # interleaved: a change in load hits both alike
            imports.append(import_ms([f"soundstack.app_services.{name}.handler"]))
            floors.append(import_ms(list(hot.floor)))
        for _ in range(first_runs):
            total, reply = first_request(name, hot_event(name, ctx), env)
            if not EXPECTED[name](reply):
                raise SystemExit(f"{name}: unexpected first reply {reply}")
            if name == "activity":
                ctx["activity_event"] = json.loads(reply["body"])
            firsts.append(total)
        imported, floor = (statistics.median(w for w, _ in runs) for runs in (imports, floors))
        cpu = statistics.median(c for _, c in imports) / statistics.median(c for _, c in floors)
        print(
            f"  {name:<15} {hot.route:<27} {imported:9.1f} {floor:9.1f} {imported / floor:6.2f}"
            f"  ({cpu:4.2f}) {statistics.median(firsts):21.1f}"
        )


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def seed(repo: CatalogRepository, tracks: int) -> list[str]:
    base = [read_metadata(str(FIXTURES / f"tone.{ext}"), "x") for ext in ("mp3", "flac", "ogg")]
    rng = random.Random(7)
    ids = []
    for n in range(tracks):
        title = " ".join(rng.sample(WORDS, 3)).title()
        meta = replace(base[n % 3], title=title, artist=f"Artist {n % 40}", album=f"Album {n % 90}")
        ids.append(repo.upsert_track(meta, f"bench/{n}.mp3", None)["track_id"])
    return ids


def http_reads(schema: str, prefix: str, ids: list[str], reads: int) -> list[float]:
    """Cached `GET /catalog/tracks/{id}` through `soundstack serve` on one kept-alive connection."""
    from soundstack.app_services.catalog.service import catalog
    from soundstack.app_services.core.serve import serve_in_thread
    from soundstack.app_services.core.settings import load_settings

    env = {"DATABASE_URL": DSN, "DB_SCHEMA": schema, "REDIS_URL": REDIS, "CACHE_PREFIX": prefix}
    os.environ.update(env)
    load_settings.cache_clear()
    catalog.cache_clear()
    server = serve_in_thread()
    conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=10)
    rng = random.Random(13)

    def read() -> None:
        conn.request("GET", f"/catalog/tracks/{rng.choice(ids)}")
        reply = conn.getresponse()
        reply.read()
        assert reply.status == 200, reply.status

    try:
        timed(read, 100)  # warm the cache and the server's threads
        return timed(read, reads)
    finally:
        conn.close()
        server.stop()
        catalog().store.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--tracks", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15, help="fresh imports per handler")
    parser.add_argument("--first-requests", type=int, default=3, help="cold first requests")
    args = parser.parse_args()

    schema, prefix = f"bench_{uuid.uuid4().hex[:10]}", f"bench-{uuid.uuid4().hex[:10]}:"
    with psycopg.connect(DSN) as conn:
        migrate.apply(conn, schema)
    db = Database(ServiceSettings(database_url=DSN, db_schema=schema))
    cached = Cache.from_url(REDIS, prefix, 300)
    local_aws = None
    try:
        repo = CatalogRepository(db)
        ids = seed(repo, args.tracks)
        env, ctx, local_aws = local_services(schema, prefix)
        cold_starts(args.repeats, args.first_requests, env, {**ctx, "track_id": ids[0]})
        if args.reads <= 0:
            return
        rng = random.Random(11)
        print(f"\ncatalog reads ({args.tracks} tracks, {args.reads} reads each)     p50        p99")
        for label, cache in (("no cache", Cache(None, prefix, 300)), ("redis cache", cached)):
            for name, read in (
                ("get track", lambda c=cache: domain.get_track(repo, c, rng.choice(ids[:50]))),
                (
                    "search",
                    lambda c=cache: domain.search(
                        repo, c, domain.SearchQuery(q=" ".join(rng.sample(WORDS[:6], 1)))
                    ),
                ),
            ):
                timed(read, 20)  # warm connections (and the cache, for the cached run)
                p50, p99 = percentiles(timed(read, args.reads))
                print(f"  {name:<10} {label:<12}                  {p50:7.2f} ms {p99:7.2f} ms")
        p50, p99 = percentiles(http_reads(schema, prefix, ids[:50], args.reads))
        print(f"  get track  HTTP keep-alive (serve)           {p50:7.2f} ms {p99:7.2f} ms")
    finally:
        if local_aws is not None:
            local_aws.stop()
        db.close()
        if cached.client is not None:
            keys = list(cached.client.scan_iter(match=f"{prefix}*"))
            if keys:
                cached.client.delete(*keys)
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
