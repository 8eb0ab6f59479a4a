"""Connect to Label Studio: wait for health, authenticate, retry, explain failures.

Two kinds of API key work:

* a legacy token, sent as ``Authorization: Token <key>`` (needs legacy tokens enabled
  for the organisation, which new organisations have off);
* a Personal Access Token: a JWT refresh token exchanged at ``/api/token/refresh/``
  for a short-lived access token sent as ``Authorization: Bearer <access>``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import requests

from toolkit.errors import ConnectionFailed, LstkError
from toolkit.settings import Settings, resolve

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
LEGACY_DISABLED = "legacy token authentication has been disabled"


def is_jwt(key: str) -> bool:
    """True for a Personal Access Token (a JWT refresh token), False for a legacy token."""
    parts = key.split(".")
    if len(parts) != 3:
        return False
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("token_type") == "refresh"


class Client:
    """A small authenticated HTTP client for Label Studio's REST API.

    Idempotent requests are retried on connection errors, 429 and 5xx with
    exponential backoff; a Bearer access token is refreshed once on 401.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "lstk"
        self._access: str | None = None
        self._sdk: Any = None

    # -- authentication --------------------------------------------------------------
    @property
    def uses_pat(self) -> bool:
        return is_jwt(self.api_key)

    def _auth_header(self) -> str:
        if not self.uses_pat:
            return f"Token {self.api_key}"
        if self._access is None:
            self._access = self._exchange_pat()
        return f"Bearer {self._access}"

    def _exchange_pat(self) -> str:
        resp = self._send("POST", "/api/token/refresh/", json={"refresh": self.api_key}, auth=False)
        if resp.status_code == 200 and "access" in resp.json():
            return str(resp.json()["access"])
        raise ConnectionFailed(
            f"Label Studio at {self.url} rejected the Personal Access Token "
            f"(HTTP {resp.status_code} from /api/token/refresh/): it is expired, revoked or "
            "from another server. Create a new one under Account & Settings > Personal Access "
            "Token and pass it with --api-key or $LABEL_STUDIO_API_KEY."
        )

    # -- requests --------------------------------------------------------------------
    def _send(self, method: str, path: str, *, auth: bool = True, **kw: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.url}{path}"
        headers = dict(kw.pop("headers", None) or {})
        if auth:
            headers["Authorization"] = self._auth_header()
        kw.setdefault("timeout", self.timeout)
        attempts = self.retries + 1 if method.upper() in IDEMPOTENT else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                resp = self.session.request(method, url, headers=headers, **kw)
            except requests.Timeout as exc:
                if last:
                    raise ConnectionFailed(
                        f"Label Studio at {self.url} did not answer {method} {path} within "
                        f"{self.timeout:.0f} s. It may be overloaded: see `lstk logs`, and retry."
                    ) from exc
            except requests.ConnectionError as exc:
                if last:
                    raise unreachable(self.url) from exc
            else:
                if resp.status_code not in RETRY_STATUS or last:
                    return resp
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        """Send a request; raise ConnectionFailed on 401/403, return any other response."""
        resp = self._send(method, path, **kw)
        if resp.status_code == 401 and self.uses_pat:
            self._access = None  # the access token may have expired: refresh once
            resp = self._send(method, path, **kw)
        if resp.status_code in (401, 403) and path.startswith("/api/"):
            raise self._auth_error(resp)
        return resp

    def json(self, method: str, path: str, **kw: Any) -> Any:
        """Send a request and return its JSON body; raise on any HTTP error."""
        resp = self.request(method, path, **kw)
        if resp.status_code >= 400:
            raise APIError(method, path, resp)
        return resp.json() if resp.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.json("GET", path, params=params or None)

    def paginate(self, path: str, page_size: int = 100, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield the items of a page-numbered list endpoint.

        The end is an empty page, a 404 past the last page, no `next` link, or the
        announced total reached; never a short page, which a server-side page size cap
        (TASK_API_PAGE_SIZE_MAX) can cause in the middle of a listing.
        """
        page, seen = 1, 0
        while True:
            resp = self.request(
                "GET", path, params={**params, "page": page, "page_size": page_size}
            )
            if resp.status_code == 404 and page > 1:
                return
            if resp.status_code >= 400:
                raise APIError("GET", path, resp)
            body = resp.json()
            if isinstance(body, list):
                yield from body
                return
            items = body.get("results", body.get("tasks", []))
            yield from items
            seen += len(items)
            total = body.get("count", body.get("total"))
            if not items or ("next" in body and not body["next"]):
                return
            if total is not None and seen >= int(total):
                return
            page += 1

    def _auth_error(self, resp: requests.Response) -> ConnectionFailed:
        body = resp.text[:500]
        if LEGACY_DISABLED in body:
            return ConnectionFailed(
                f"Label Studio at {self.url} has legacy tokens disabled for this organisation, "
                "so the legacy API token was refused. Either use a Personal Access Token "
                "(Account & Settings > Personal Access Token) as --api-key, or enable legacy "
                "tokens (Organization > API Tokens Settings, or start the server with "
                "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true)."
            )
        kind = "Personal Access Token" if self.uses_pat else "API token"
        return ConnectionFailed(
            f"Label Studio at {self.url} rejected the {kind} (HTTP {resp.status_code}). "
            "Check --api-key / $LABEL_STUDIO_API_KEY (`lstk token` prints the one `lstk up` "
            "made), or copy a token from Account & Settings in the web UI."
        )

    # -- server facts ----------------------------------------------------------------
    def health(self) -> int | None:
        """The HTTP status of /health, or None when nothing answers."""
        try:
            return self.session.get(f"{self.url}/health", timeout=5).status_code
        except requests.RequestException:
            return None

    def version(self) -> str:
        info = self.get("/api/version")
        release = info.get("release") or info.get("label-studio-os-package", {}).get("version")
        return str(release or "unknown")

    def check(self) -> None:
        """Authenticate once, so bad tokens fail early with a clear message."""
        self.json("GET", "/api/current-user/whoami")

    @property
    def sdk(self) -> Any:
        """The label-studio-sdk client for the same server and key."""
        if self._sdk is None:
            from label_studio_sdk.client import LabelStudio

            self._sdk = LabelStudio(base_url=self.url, api_key=self.api_key)
        return self._sdk


class APIError(LstkError):
    """Label Studio answered a request with an error status (exit code 1)."""

    def __init__(self, method: str, path: str, resp: requests.Response) -> None:
        self.status = resp.status_code
        self.body = resp.text[:1000]
        super().__init__(
            f"Label Studio answered {method} {path} with HTTP {self.status}: {self.body[:400]}. "
            "If the message does not say what to fix, see `lstk logs`."
        )


def unreachable(url: str) -> ConnectionFailed:
    return ConnectionFailed(
        f"Cannot reach Label Studio at {url}. Start it with `lstk up`, or point --url / "
        "$LABEL_STUDIO_URL at a running server."
    )


def wait_healthy(url: str, deadline: float = 60.0, *, interval: float = 0.5) -> None:
    """Wait until /health answers 200, up to `deadline` seconds.

    Connection errors and 5xx mean "not up yet"; a 4xx means something other than
    Label Studio answers there, which waiting will not fix.
    """
    probe = Client(url, "")
    end = time.monotonic() + deadline
    while True:
        code = probe.health()
        if code == 200:
            return
        if code is not None and 400 <= code < 500:
            raise not_label_studio(url)
        if time.monotonic() >= end:
            raise unreachable(url)
        time.sleep(interval)


def connect(
    url: str | None = None,
    api_key: str | None = None,
    *,
    home: str | None = None,
    wait: float = 10.0,
) -> Client:
    """A ready, authenticated client; URL and key resolve flags > environment > state."""
    settings = resolve(url, api_key, home)
    return connect_settings(settings, wait=wait)


def connect_settings(settings: Settings, *, wait: float = 10.0) -> Client:
    wait_healthy(settings.url, wait)
    client = Client(settings.url, settings.api_key)
    _ensure_label_studio(client)
    client.check()
    return client


def _ensure_label_studio(client: Client) -> None:
    try:
        info = client.session.get(f"{client.url}/api/version", timeout=10).json()
    except (requests.RequestException, ValueError):
        info = None
    if not isinstance(info, dict) or not ("release" in info or "label-studio-os-package" in info):
        raise not_label_studio(client.url)


def not_label_studio(url: str) -> ConnectionFailed:
    return ConnectionFailed(
        f"The server at {url} answers, but it is not Label Studio (no /health or "
        "/api/version). Check --url / $LABEL_STUDIO_URL: it should be the address you open "
        "in the browser."
    )
