"""Service benchmarks (not a test): cold-start import time per handler, catalog read latency.

    .venv/bin/python benchmarks/services.py [--reads 500]

Import times come from a fresh interpreter per handler (what a Lambda cold start pays before the
first invocation). Catalog reads run against the real PostgreSQL and Redis, in-process and over
HTTP on one kept-alive connection to `soundstack serve` (target: p99 <= 5 ms) (SOUNDSTACK_TEST_DSN,
SOUNDSTACK_TEST_REDIS; defaults: the machine's `test` database and Redis db 0) in a scratch
schema and key prefix that are removed afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psycopg
from psycopg import sql

from app_services.catalog import domain
from app_services.catalog.audio import read_metadata
from app_services.catalog.repository import CatalogRepository
from app_services.core import migrate
from app_services.core.cache import Cache
from app_services.core.db import Database
from app_services.core.settings import ServiceSettings

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


def handler_modules() -> list[str]:
    found = sorted(p.parent.name for p in (ROOT / "app_services").glob("*/handler.py"))
    return [f"app_services.{name}.handler" for name in found]


def import_ms(module: str) -> float:
    code = (
        "import time; t = time.perf_counter(); import importlib; "
        f"importlib.import_module({module!r}); print((time.perf_counter() - t) * 1000)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


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
    from app_services.catalog.service import catalog
    from app_services.core.serve import serve_in_thread
    from app_services.core.settings import load_settings

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
    args = parser.parse_args()

    print("cold-start import time (fresh interpreter per handler)")
    for module in handler_modules():
        print(f"  {module:<40} {import_ms(module):7.1f} ms")

    schema, prefix = f"bench_{uuid.uuid4().hex[:10]}", f"bench-{uuid.uuid4().hex[:10]}:"
    with psycopg.connect(DSN) as conn:
        migrate.apply(conn, schema)
    db = Database(ServiceSettings(database_url=DSN, db_schema=schema))
    cached = Cache.from_url(REDIS, prefix, 300)
    try:
        repo = CatalogRepository(db)
        ids = seed(repo, args.tracks)
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
        db.close()
        if cached.client is not None:
            keys = list(cached.client.scan_iter(match=f"{prefix}*"))
            if keys:
                cached.client.delete(*keys)
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
