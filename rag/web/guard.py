"""What the web UI lets in: the Host it answers to, who may call its functions, how much
may be uploaded.

gradio routes every event of the page (upload, remove, the timer, ...) through the same
public routes as its API (``/gradio_api/queue/join``, ``/run/..``, ``/call/..``): a
function hidden from the API page (``api_visibility="private"``) is still callable by
anyone who knows its index or name. This ASGI middleware, installed in gradio's FastAPI
app (``demo.launch(app_kwargs={"middleware": ...})``, see app.launch_kwargs), closes that door:

- **Host.** A request whose ``Host`` header is not the bind address, a loopback name or
  an entry of ``RAG_UI__ALLOWED_HOSTS`` is refused (400): a DNS-rebinding page, whose
  requests carry its own host name, cannot drive the UI.
- **The page's own functions.** Loading the page (``GET /``) sets a signed cookie
  (HttpOnly, SameSite=Strict). Every state-changing request (POST and the like) needs
  it, except the login form and calls of *public* functions (the ``ask`` API): the
  upload, ingest and remove functions, and every other function of the page, are
  refused (403) from clients that did not load the page and from other sites (their
  requests carry no such cookie, and a foreign ``Origin`` is refused outright). Login,
  when configured, is still checked by gradio on top of this.
- **Uploads.** ``/gradio_api/upload`` also needs a ``Content-Length`` and stays within a
  quota per client address (``RAG_UI__UPLOAD_QUOTA_MB`` per hour); gradio's own
  ``max_file_size`` bounds each file, and uploaded files are deleted once ingested or
  after an hour (``Blocks(delete_cache=...)``).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from collections import defaultdict, deque
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

API_PREFIX = "/gradio_api"
_CALL_ROUTES = ("/queue/join", "/run/", "/api/", "/call/")
_OPEN_POSTS = {"/login", "/login/"}  # gradio_client logs in without loading the page
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "::", "")


def allowed_hosts(bind: str, extra: Optional[str]) -> list[str]:
    """Host names this server answers to: loopback names (a rebinding page cannot send
    them), the bind address, and the comma-separated `extra` (RAG_UI__ALLOWED_HOSTS;
    "*" allows any). On a wildcard bind, also this machine's name and primary address."""
    hosts = list(LOOPBACK)
    bind = (bind or "").strip().strip("[]").lower()
    if bind in WILDCARD:
        hosts.append(socket.gethostname().lower())
        try:  # the address other machines reach this one by; a UDP connect sends nothing
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(("10.255.255.255", 1))
                hosts.append(s.getsockname()[0])
        except OSError:
            pass
    else:
        hosts.append(bind)
    hosts += [h.strip().strip("[]").lower() for h in (extra or "").split(",") if h.strip()]
    return list(dict.fromkeys(hosts))


def _host_of(value: str) -> Optional[str]:
    try:
        parts = urlsplit("//" + value)
        parts.port  # raises on a malformed port
    except ValueError:
        return None
    return (parts.hostname or "").lower() or None


class ExposurePolicy:
    """Settings and state shared by the middleware: page tokens, upload accounting."""

    def __init__(self, hosts: Iterable[str], upload_quota_bytes: int, window_s: float = 3600.0):
        self.hosts = set(hosts)
        self.any_host = "*" in self.hosts
        self.quota = int(upload_quota_bytes)
        self.window_s = window_s
        self.cookie = f"rag-page-{secrets.token_hex(4)}"
        self._key = secrets.token_bytes(32)
        self._uploads: dict[str, deque] = defaultdict(deque)  # client -> (time, bytes)
        self._lock = threading.Lock()

    # -- page tokens: nonce.signature, checked without any server-side table ------------
    def new_token(self) -> str:
        nonce = secrets.token_urlsafe(12)
        return f"{nonce}.{self._sign(nonce)}"

    def valid_token(self, token: Optional[str]) -> bool:
        nonce, _, sig = (token or "").partition(".")
        return bool(nonce and sig) and hmac.compare_digest(sig, self._sign(nonce))

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    # -- uploads ------------------------------------------------------------------------
    def upload_used(self, client: str, now: Optional[float] = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._uploads[client]
            while q and q[0][0] < now - self.window_s:
                q.popleft()
            return sum(n for _t, n in q)

    def charge_upload(self, client: str, n: int) -> None:
        with self._lock:
            self._uploads[client].append((time.monotonic(), n))

    # -- functions ----------------------------------------------------------------------
    @staticmethod
    def is_public_call(blocks, path: str, body: bytes) -> bool:
        """Whether a function call can only run a public function of `blocks` (the API's
        `ask`). gradio picks the function by the body's ``fn_index`` on /queue/join, /run
        and /api, but by the name in the path on /call (ignoring ``fn_index``): every
        function the request names, in the path or the body, must be public. Anything
        that cannot be resolved counts as not public."""
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return False
        if not isinstance(data, dict):
            return False
        fns = getattr(blocks, "fns", None) or {}
        named = []
        fn_index = data.get("fn_index")
        if fn_index is not None:
            if not isinstance(fn_index, int) or isinstance(fn_index, bool):
                return False  # gradio would coerce "11" or 11.0; refuse rather than guess
            named.append(fns.get(fn_index))
        if not path[len(API_PREFIX):].startswith("/queue/join"):
            # /run/<name>, /api/<name>, /call/<name>, /call/v2/<name>
            name = path.rstrip("/").rsplit("/", 1)[-1]
            named.append(next((f for f in fns.values() if getattr(f, "api_name", None) == name), None))
        return bool(named) and all(f is not None and getattr(f, "api_visibility", "public") == "public"
                                   for f in named)


class ExposureGuard:
    """The ASGI middleware (see the module doc)."""

    def __init__(self, app, policy: ExposurePolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        p = self.policy
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = _host_of(headers.get("host", ""))
        if not p.any_host and host not in p.hosts:
            return await _refuse(send, 400, f"This server does not answer to the host name "
                                 f"{headers.get('host', '')!r}. To reach it by that name, add it to "
                                 "the setting RAG_UI__ALLOWED_HOSTS.")
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method, path = scope["method"].upper(), scope.get("path", "")
        if method in _SAFE_METHODS:
            if method == "GET" and path.rstrip("/") == "":
                return await self.app(scope, receive, self._with_page_cookie(send))
            return await self.app(scope, receive, send)
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
            return await _refuse(send, 403, "Requests from other sites are refused.")
        if path in _OPEN_POSTS:
            return await self.app(scope, receive, send)
        page = p.valid_token(_cookie(headers.get("cookie", ""), p.cookie))
        if path.startswith(API_PREFIX) and path[len(API_PREFIX):].startswith(_CALL_ROUTES):
            body = await _read_body(receive)
            blocks = scope["app"].get_blocks() if hasattr(scope.get("app"), "get_blocks") else None
            if not page and not p.is_public_call(blocks, path, body):
                return await _refuse(send, 403, "Only the public API (ask) can be called directly; "
                                     "the page's own functions need the page: open it in a browser "
                                     "(reload it if the server was restarted).")
            return await self.app(scope, _replay(body, receive), send)
        if not page:
            return await _refuse(send, 403, "This action needs the page: open it in a browser "
                                 "(reload it if the server was restarted).")
        if path.rstrip("/") == f"{API_PREFIX}/upload":
            return await self._upload(scope, receive, send, headers)
        return await self.app(scope, receive, send)

    async def _upload(self, scope, receive, send, headers: dict) -> None:
        p = self.policy
        try:
            size = int(headers["content-length"])
        except (KeyError, ValueError):
            return await _refuse(send, 411, "An upload must say its size (Content-Length).")
        client = (scope.get("client") or ("?", 0))[0]
        used = p.upload_used(client)
        if used + size > p.quota:
            return await _refuse(send, 413, f"Upload quota reached: {used / 1e6:.1f} MB uploaded from "
                                 f"this address in the last hour, {p.quota / 1e6:.0f} MB allowed "
                                 "(setting RAG_UI__UPLOAD_QUOTA_MB). Try again later.")

        async def counted(message):
            if message["type"] == "http.response.start" and message["status"] == 200:
                p.charge_upload(client, size)
            await send(message)

        return await self.app(scope, receive, counted)

    def _with_page_cookie(self, send):
        p = self.policy

        async def wrapped(message):
            if message["type"] == "http.response.start":
                ctype = dict(message.get("headers") or []).get(b"content-type", b"")
                if message["status"] == 200 and ctype.startswith(b"text/html"):
                    cookie = (f"{p.cookie}={p.new_token()}; Path=/; HttpOnly; SameSite=Strict")
                    message = {**message, "headers": [*message.get("headers", []),
                                                      (b"set-cookie", cookie.encode())]}
            await send(message)

        return wrapped


def _cookie(header: str, name: str) -> Optional[str]:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive_more):
    """A `receive` that gives the app the body already read, then the client's own
    messages (its disconnect)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive_more()

    return receive


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
