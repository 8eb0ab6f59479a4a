"""Client behaviour that needs no Label Studio: retries and recognising foreign servers.

The HTTP servers here are deliberately not Label Studio: they stand for a flaky proxy
and for some other web service at the configured URL.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from toolkit.errors import ConnectionFailed
from toolkit.server import Client, connect, is_jwt, wait_healthy


def jwt(payload: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


def test_recognises_personal_access_tokens() -> None:
    assert is_jwt(jwt({"token_type": "refresh", "user_id": "1"}))
    assert not is_jwt(jwt({"token_type": "access"}))
    assert not is_jwt("0123456789abcdef0123456789abcdef01234567")
    assert not is_jwt("a.b.c")


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next status of a script, then 200."""

    script: list[int] = []
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append(self.path)
        code = self.script.pop(0) if self.script else 200
        body = b'{"ok": true}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[Scripted]]]:
    handler = type("H", (Scripted,), {"script": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()


def test_get_is_retried_on_503_and_429(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.script[:] = [503, 429, 502]
    client = Client(url, "key", backoff=0.01)
    assert client.get("/api/x") == {"ok": True}
    assert len(handler.seen) == 4


def test_post_is_not_retried(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.script[:] = [503]
    resp = Client(url, "key", backoff=0.01).request("POST", "/api/x")
    assert resp.status_code == 503
    assert len(handler.seen) == 1


def test_retries_give_up(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.script[:] = [500] * 10
    resp = Client(url, "key", retries=2, backoff=0.01).request("GET", "/api/x")
    assert resp.status_code == 500
    assert len(handler.seen) == 3


def test_foreign_server_is_named_as_such(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.script[:] = [404] * 10
    with pytest.raises(ConnectionFailed, match="not Label Studio") as info:
        wait_healthy(url, 5)
    assert info.value.exit_code == 3


def test_healthy_foreign_server_without_version_api(scripted: tuple[str, type[Scripted]]) -> None:
    url, _ = scripted
    with pytest.raises(ConnectionFailed, match="not Label Studio"):
        connect(url, "key", wait=2)


def test_nothing_listening_suggests_lstk_up() -> None:
    with pytest.raises(ConnectionFailed, match="lstk up"):
        wait_healthy("http://127.0.0.1:9", 0.5)


class CappedPages(BaseHTTPRequestHandler):
    """A task list that caps pages at 3 items whatever page_size asks (7 tasks in all)."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        from urllib.parse import parse_qs, urlparse

        page = int(parse_qs(urlparse(self.path).query)["page"][0])
        ids = list(range(1, 8))[(page - 1) * 3 : page * 3]
        status = 200 if ids else 404
        body = json.dumps({"total": 7, "tasks": [{"id": i} for i in ids]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_paginate_reads_past_pages_shorter_than_asked() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), CappedPages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Client(f"http://127.0.0.1:{server.server_port}", "key")
        ids = [task["id"] for task in client.paginate("/api/tasks", page_size=5)]
    finally:
        server.shutdown()
    assert ids == list(range(1, 8))
