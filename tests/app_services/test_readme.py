"""The README's service commands, run as written: migrate, serve --local-aws, the curls.

Two substitutions keep parallel runs apart: free ports for 8080 and 4566, and a fresh
`DB_SCHEMA` / `CACHE_PREFIX` (the commands read them like any setting). `PYTHONPATH` makes the
checkout under test the code that runs (the shared virtualenv's editable install may point at
another checkout).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

from .conftest import TEST_DSN, TEST_REDIS

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## Reference services", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def isolated() -> Iterator[dict[str, str]]:
    schema, prefix = f"test_readme_{uuid.uuid4().hex[:8]}", f"test-readme-{uuid.uuid4().hex[:8]}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DB_", "PG"))}
    env.update({"DB_SCHEMA": schema, "CACHE_PREFIX": prefix, "PYTHONPATH": str(ROOT)})
    yield env
    with psycopg.connect(TEST_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    client = redis.Redis.from_url(TEST_REDIS)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def test_the_readme_service_commands_work_as_written(isolated: dict[str, str]) -> None:
    export, migrate, serve, *curls = readme_commands()
    assert export.startswith("export DATABASE_URL=") and "soundstack migrate" in migrate
    port, aws_port = free_port(), free_port()

    def shell(command: str) -> str:
        command = command.replace("8080", str(port)).replace("4566", str(aws_port))
        return f"{export}\n{command}"

    def run(command: str) -> str:
        done = subprocess.run(
            ["bash", "-c", shell(command)], cwd=ROOT, env=isolated, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        return done.stdout

    assert "applied 0001" in run(migrate)
    server = subprocess.Popen(
        ["bash", "-c", shell(serve.replace("--port 8080", "--port 8080 --aws-port 4566"))],
        cwd=ROOT, env=isolated, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        outputs = [run(curl) for curl in curls]
    finally:
        os.killpg(server.pid, 15)
        log = server.communicate(timeout=30)[0]
    created, before, _upload, ingested, after = outputs
    assert json.loads(created)["name"] == "Road trip", log
    assert json.loads(before) == []
    assert len(json.loads(ingested)["ingested"]) == 1, (ingested, log)
    assert [t["title"] for t in json.loads(after)] == ["Café Sunrise"]
    assert "settings invalid" not in log  # --local-aws provisions every service's settings
