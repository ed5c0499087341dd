"""The classroom server's gate: an ASGI layer in front of solara that refuses what a class never sends.

- Requests from other web sites: a websocket (and any HTTP request that carries an `Origin`) must come
  from a page on this machine (`localhost`, `127.x.x.x`, `[::1]`) or from an origin the teacher allowed
  with `sim app --allow-origin`; the `Host` header must name one of them too, so a foreign site cannot
  reach the page by pointing its own name at this machine (DNS rebinding). Refused before solara
  creates a session: HTTP 403.
- Floods: at most `max_sessions` websockets at once and, counting the sessions whose browser has gone
  but which solara keeps for a while (`SOLARA_KERNEL_CULL_TIMEOUT`), at most that many sessions; the
  oldest gone session is released to make room, and when every session has a browser connected a new
  visitor is told the page is full (HTTP 503 for the page, 403 for a websocket).
- The internet: solara's CDN proxy fetches any `/_solara/cdn/...` file it lacks from a public CDN
  (and deletes a cached folder asked for as a file); here only files already in the local copy pass,
  anything else is a fast 404.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("sim.app")

CDN_PREFIX = "/_solara/cdn/"
KERNEL_PREFIX = "/jupyter/api/kernels/"
# Paths of the page's own machinery; any other GET is the page itself, refused with a message when full.
MACHINERY = ("/_solara/", "/static/", "/jupyter/", "/readyz", "/resourcez", "/favicon")
DEFAULT_PORTS = {"http": 80, "https": 443}
LOG_EVERY_S = 10


class OriginError(ValueError):
    """An --allow-origin value that is not `scheme://host[:port]`."""


def normalize_origin(text: str) -> str:
    """`http://HOST[:PORT]` as a browser sends it in `Origin` (lower case, no default port, no slash).

    Raises OriginError for anything else (no scheme, a path, a wildcard).
    """
    parts = urlsplit(text.strip())
    example = "like http://192.168.1.20:8765 (the address students type, as their browser shows it)"
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise OriginError(f"--allow-origin {text!r} is not a web origin; give scheme, host and port, {example}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or "*" in text:
        raise OriginError(f"--allow-origin {text!r} has more than scheme, host and port; {example}")
    try:
        port = parts.port
    except ValueError:
        raise OriginError(f"--allow-origin {text!r} has a bad port; {example}") from None
    host = parts.hostname.lower()
    shown = f"[{host}]" if ":" in host else host
    suffix = f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{shown}{suffix}"


def is_loopback_host(host: str) -> bool:
    """Whether a host name or address (without port) means this machine."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of_header(value: str) -> str:
    """The host part of a `Host` header (`name:port`, `[v6]:port`)."""
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Gate:
    """ASGI middleware around solara's app; see the module docstring for what it refuses."""

    def __init__(
        self,
        app: ASGIApp,
        allowed_origins: Iterable[str] = (),
        max_sessions: int = 60,
        cdn_dir: Path | None = None,
        sessions: Callable[[], MutableMapping[str, Any]] | None = None,
    ) -> None:
        self.app = app
        self.origins = {normalize_origin(o) for o in allowed_origins}
        # `Host` values a browser on an allowed origin sends: host[:port] of each allowed origin.
        self.hosts = {urlsplit(o).netloc for o in self.origins}
        self.max_sessions = max_sessions
        self.cdn_dir = Path(os.path.realpath(cdn_dir)) if cdn_dir else None
        self.sessions = sessions or _solara_sessions
        self.open_websockets = 0
        self._notes: dict[str, tuple[float, int]] = {}
        self._releasing: set[int] = set()

    # -- who may ask ------------------------------------------------------------------------------
    def origin_allowed(self, origin: str) -> bool:
        """A page on this machine, or one of the allowed origins."""
        parts = urlsplit(origin)
        if parts.scheme in DEFAULT_PORTS and parts.hostname and is_loopback_host(parts.hostname):
            return True
        try:
            return normalize_origin(origin) in self.origins
        except OriginError:
            return False

    def host_allowed(self, host: str | None) -> bool:
        """The `Host` header names this machine or an allowed origin (a request without one is a script)."""
        if not host:
            return True
        host = host.lower()
        return is_loopback_host(_host_of_header(host)) or host in self.hosts

    # -- the ASGI call ----------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        origin = headers.get("origin")
        path: str = scope.get("path", "")
        refusal = None
        if not self.host_allowed(headers.get("host")):
            refusal = f"this page does not answer to the name {headers.get('host')!r}"
        elif scope["type"] == "websocket" and origin is None:
            refusal = "a websocket without an Origin"
        elif origin is not None and not self.origin_allowed(origin):
            refusal = f"a request from the web page {origin!r}"
        if refusal:
            self._note("origin", f"refused {refusal} (sim app --allow-origin widens the list)")
            await self._refuse(scope, receive, send, 403, f"Refused: {refusal}. " + ALLOW_HINT)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if path.startswith(CDN_PREFIX) and not self._cdn_file(path[len(CDN_PREFIX) :]):
            await self._refuse(scope, receive, send, 404, "Not found (this page serves only its local copy)")
            return
        if scope.get("method") == "GET" and not path.startswith(MACHINERY) and self._full():
            await self._refuse(scope, receive, send, 503, FULL_MESSAGE.format(n=self.max_sessions), retry=True)
            return
        await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if path.startswith(KERNEL_PREFIX):
            kernel_id = path[len(KERNEL_PREFIX) :].split("/", 1)[0]
            if self.open_websockets >= self.max_sessions or (
                kernel_id not in self.sessions() and not await self._make_room()
            ):
                limit = f"{self.max_sessions} at once is the limit (sim app --max-sessions)"
                self._note("full", f"refused a session: {limit}")
                await self._refuse(scope, receive, send, 403, FULL_MESSAGE.format(n=self.max_sessions))
                return
        self.open_websockets += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open_websockets -= 1

    # -- sessions ---------------------------------------------------------------------------------
    def _gone(self) -> list[Any]:
        """Sessions whose browser has gone, oldest first (solara keeps them until the cull)."""
        return [c for c in list(self.sessions().values()) if _is_gone(c) and id(c) not in self._releasing]

    def _full(self) -> bool:
        return (
            self.open_websockets >= self.max_sessions or len(self.sessions()) - len(self._gone()) >= self.max_sessions
        )

    async def _make_room(self) -> bool:
        """Room for one more session: release the oldest gone sessions while over the limit."""
        import anyio.to_thread

        while len(self._gone()) + self.open_websockets + 1 > self.max_sessions:
            gone = self._gone()
            if not gone:
                return False
            self._releasing.add(id(gone[0]))  # concurrent connects each release a different one
            try:
                # close() runs the page's clean-up (its model is retired) and may block: off the loop.
                await anyio.to_thread.run_sync(_close_session, gone[0])
            finally:
                self._releasing.discard(id(gone[0]))
        return True

    def _note(self, kind: str, what: str) -> None:
        """Log a refusal, at most one line per kind every LOG_EVERY_S (a flood must not flood the log)."""
        now = time.monotonic()
        last, count = self._notes.get(kind, (float("-inf"), 0))
        if now - last >= LOG_EVERY_S:
            log.warning("%s%s", what, f" (and {count} more refusals like it before)" if count else "")
            self._notes[kind] = (now, 0)
        else:
            self._notes[kind] = (last, count + 1)

    # -- files ------------------------------------------------------------------------------------
    def _cdn_file(self, relative: str) -> bool:
        """Whether solara's CDN proxy would answer this path from the local copy (a regular file)."""
        if self.cdn_dir is None:
            return False
        parts = [p for p in relative.replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            return False
        if len(parts) == 1:  # solara stores a bare package request as PACKAGE/__main.js
            parts.append("__main.js")
        full = os.path.realpath(os.path.join(self.cdn_dir, *parts))
        return full.startswith(str(self.cdn_dir) + os.sep) and os.path.isfile(full)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, text: str, retry: bool = False) -> None:
        body = (text + "\n").encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        if retry:
            headers.append((b"retry-after", b"60"))
        if scope["type"] == "websocket":
            # Closing before accepting is an HTTP 403 (uvicorn's custom-response path logs a spurious
            # error per refusal); a browser's script sees no status or text of a refused websocket anyway.
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


ALLOW_HINT = "The teacher can allow a class's address with: sim app --allow-origin http://ADDRESS:PORT"
FULL_MESSAGE = (
    "The classroom page is full: {n} browser sessions are open. Close unused tabs or try again in a minute; "
    "the teacher can allow more with sim app --max-sessions."
)


def _is_gone(context: Any) -> bool:
    """A session that had a page, none of which is connected now, and that is not closed yet."""
    statuses = [getattr(s, "value", s) for s in list(getattr(context, "page_status", {}).values())]
    closing = getattr(context, "_teardown_done", False) or context.closed_event.is_set()
    return bool(statuses) and "connected" not in statuses and not closing


def _close_session(context: Any) -> None:
    log.info("released a session whose browser had gone, to make room for a new one")
    try:
        context.close(reason="evicted")
    except Exception:  # a session closing on its own meanwhile is fine; the next check sees it gone
        log.exception("could not release a session")


def _solara_sessions() -> MutableMapping[str, Any]:
    from solara.server import kernel_context

    return kernel_context.contexts
