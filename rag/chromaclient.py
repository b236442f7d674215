"""Opening Chroma, and riding out a Chroma server that goes away for a while.

Embedded (index_dir/chroma) the client is chromadb's own. On a server
(RAG_CHROMA_URL) the client and its collections are wrapped in `Retrying`:
a call that fails because the server cannot be reached (connection refused,
dropped connection, 502/503/504 from a proxy) is retried with exponential
backoff for at most `settings.chroma_retry_s` seconds, then raises
StoreUnavailableError, which names RAG_CHROMA_URL and what to check. Retrying
is safe because every write the store makes is idempotent (chunk ids are
unique per version, records and tokens are upserts, deletes by id).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlparse

from .errors import ConfigError, StoreUnavailableError

log = logging.getLogger("rag.store")


def _transient(e: BaseException) -> bool:
    import httpx

    if isinstance(e, httpx.TransportError):
        return True
    if isinstance(e, httpx.HTTPStatusError):
        return e.response is not None and e.response.status_code in (502, 503, 504)
    # chromadb.HttpClient() checks the server at construction and raises this
    return isinstance(e, ValueError) and "Could not connect to a Chroma server" in str(e)


def unavailable(url: str, waited: float, e: BaseException) -> StoreUnavailableError:
    reason = f"{type(e).__name__}: {e}".strip().rstrip(":")
    return StoreUnavailableError(
        f"The Chroma server at {url} (RAG_CHROMA_URL) did not answer for {waited:.0f} s ({reason}). "
        "Check that it is running (chroma run --path DIR --host HOST --port PORT) and reachable from "
        "this machine, or fix RAG_CHROMA_URL. Nothing already indexed is lost: once the server is "
        "back, run the same command again.")


class Retrying:
    """A chromadb client or collection whose calls retry while the server is unreachable.
    `raw` is the wrapped object (for callers with their own failure handling)."""

    def __init__(self, target, url: str, budget_s: float):
        self.raw = target
        self._url = url
        self._budget = budget_s

    def __getattr__(self, name):
        attr = getattr(self.raw, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            return self._wrap(retry(lambda: attr(*args, **kwargs), self._url, self._budget))

        return call

    def _wrap(self, value):
        from chromadb.api.models.Collection import Collection

        return Retrying(value, self._url, self._budget) if isinstance(value, Collection) else value


def retry(fn, url: str, budget_s: float):
    start = time.monotonic()
    delay = 0.25
    warned = False
    while True:
        try:
            return fn()
        except Exception as e:
            if not _transient(e):
                raise
            waited = time.monotonic() - start
            if waited + delay > budget_s:
                raise unavailable(url, waited, e) from None
            if not warned:
                log.warning("Chroma server at %s not answering (%s); retrying for up to %.0f s",
                            url, type(e).__name__, budget_s)
                warned = True
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def make_client(settings):
    """A chromadb client for these settings: HTTP (retrying) when chroma_url is set, else embedded."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    url = settings.chroma_url
    if url:
        u = urlparse(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ConfigError(f"RAG_CHROMA_URL={url!r} is not an http(s)://host:port URL.")
        budget = settings.chroma_retry_s
        client = retry(lambda: chromadb.HttpClient(
            host=u.hostname, port=u.port or (443 if u.scheme == "https" else 8000),
            ssl=u.scheme == "https", settings=chroma_settings), url, budget)
        return Retrying(client, url, budget)
    path = Path(settings.index_dir) / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
