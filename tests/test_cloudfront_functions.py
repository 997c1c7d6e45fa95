"""Every CloudFront Function the stacks register, run by Node.js (tests/cloudfront_functions.js)
with cloudfront-js-2.0 semantics on representative viewer events."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from soundstack.synth import Synthesis

RUNNER = Path(__file__).with_name("cloudfront_functions.js")


def viewer_request(uri: str, method: str = "GET", querystring: dict | None = None) -> dict:
    """A viewer-request event as CloudFront passes it (event structure version 1.0)."""
    return {
        "version": "1.0",
        "context": {"distributionDomainName": "d111111abcdef8.cloudfront.net",
                    "distributionId": "EDFDVBD6EXAMPLE", "eventType": "viewer-request",
                    "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="},
        "viewer": {"ip": "198.51.100.11"},
        "request": {"method": method, "uri": uri, "querystring": querystring or {},
                    "headers": {"host": {"value": "music.example.com"},
                                "accept": {"value": "text/html"}},
                    "cookies": {}},
    }  # fmt: skip


#: Per function role (the registration's logical name after the component): (uri in, uri out).
CASES: dict[str, list[tuple[str, str]]] = {
    # SPA fallback: client-side routes load the app; files (with an extension) stay as asked,
    # so a missing asset is a 404, not index.html served as JavaScript.
    "spa-rewrite": [
        ("/", "/index.html"),
        ("/playlists", "/index.html"),
        ("/playlists/42", "/index.html"),
        ("/albums/7/", "/index.html"),
        ("/index.html", "/index.html"),
        ("/assets/app.3f2a9c.js", "/assets/app.3f2a9c.js"),
        ("/favicon.ico", "/favicon.ico"),
        ("/config.json", "/config.json"),
    ],
    # /api/* reaches the HTTP API without the prefix its routes do not have.
    "api-prefix": [
        ("/api/tracks", "/tracks"),
        ("/api/playlists/42/tracks", "/playlists/42/tracks"),
        ("/api", "/"),
        ("/api/", "/"),
        ("/api/api/x", "/api/x"),
        ("/apiary/x", "/apiary/x"),
    ],
}


def run_functions(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "Node.js is needed to run CloudFront Functions (apt-get install nodejs)"
    done = subprocess.run(
        [node, str(RUNNER)], input=json.dumps({"functions": functions}),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def _role(name: str) -> str:
    return next((r for r in CASES if name.endswith(f"-{r}")), name)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_cloudfront_function_behaves_on_viewer_requests(stack, request):
    synth: Synthesis = request.getfixturevalue(stack)
    registered = synth.by_type("aws:cloudfront/function:Function")
    assert registered, "the web app registers its CloudFront Functions"
    functions: list[dict[str, Any]] = []
    for fn in registered:
        assert fn.inputs["runtime"] == "cloudfront-js-2.0", fn.name
        role = _role(fn.name)
        assert role in CASES, f"{fn.name}: add its viewer cases to CASES"
        events = [viewer_request(uri, "POST", {"q": {"value": "x"}}) for uri, _ in CASES[role]]
        functions.append({"name": fn.name, "code": fn.inputs["code"], "events": events})
    for sent, ran in zip(functions, run_functions(functions), strict=True):
        name = sent["name"]
        assert "error" not in ran, f"{name}: {ran.get('error')}"
        for (uri, expected), result in zip(CASES[_role(name)], ran["results"], strict=True):
            assert "error" not in result, f"{name} {uri}: {result.get('error')}"
            out = result["value"]
            # a viewer-request function returns the request (uri, method, headers, querystring)
            assert out["uri"] == expected, f"{name}: {uri} became {out['uri']}"
            assert out["method"] == "POST" and out["querystring"] == {"q": {"value": "x"}}
            assert out["headers"]["host"] == {"value": "music.example.com"}


def test_runner_refuses_what_cloudfront_refuses():
    """The harness is strict where CloudFront is: no Node globals, no eval, size, a handler."""
    event = viewer_request("/x")
    ran = run_functions([
        {"name": "ok", "code": "function handler(e) { return e.request; }", "events": [event]},
        {"name": "node", "code": "function handler(e) { return process.env; }", "events": [event]},
        {"name": "fs", "code": "function handler(e) { require('fs'); }", "events": [event]},
        {"name": "eval", "code": "function handler(e) { return eval('1'); }", "events": [event]},
        {"name": "syntax", "code": "function handler(e) { return e.request", "events": [event]},
        {"name": "none", "code": "var x = 1;", "events": [event]},
        {"name": "big", "code": "function handler(e) { return e.request; }//" + "x" * 10240,
         "events": [event]},
    ])  # fmt: skip
    by_name = {r["name"]: r for r in ran}
    assert by_name["ok"]["results"] == [{"value": event["request"]}]
    assert "process is not defined" in by_name["node"]["results"][0]["error"]
    assert "not available" in by_name["fs"]["results"][0]["error"]
    assert "disallowed" in by_name["eval"]["results"][0]["error"]
    assert by_name["syntax"]["error"].startswith("does not load")
    assert by_name["none"]["error"] == "defines no handler(event) function"
    assert "10 KB" in by_name["big"]["error"]
