"""A Chroma server (`chroma run` on loopback) that goes away, and writers that die.

- Killed mid-ingest, the client retries for RAG_CHROMA_RETRY_S, then exits 5 with a
  message naming RAG_CHROMA_URL and no traceback; once the server is back the same
  ingest completes; a short outage inside the retry budget is ridden out.
- The web UI says what is wrong and keeps serving; it answers again once the server is back.
- A writer lease held by a dead process: taken over at once on the same machine (even
  while the dead process is an unreaped zombie), after the ttl from another machine;
  a writer whose lease was taken over stops before its commit.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from chroma_helpers import ChromaServer
from conftest import BUNDLED, filler_prose

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(900)


@pytest.fixture()
def server(tmp_path):
    s = ChromaServer(tmp_path / "chroma-data", tmp_path / "chroma.log").start()
    yield s
    s.stop()


def _env(url: str, **extra) -> dict:
    return dict(os.environ, RAG_CHROMA_URL=url, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT), **extra)


def _settings(url: str, index_dir: Path, **kw):
    from rag.settings import Settings

    return Settings(chroma_url=url, index_dir=index_dir, bootstrap_dir=None, **kw)


def _articles(folder: Path, n: int = 12) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for p in BUNDLED.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    for i in range(n):
        (folder / f"vns-2025-03-{i + 1:02d}-canal-{i}.txt").write_text(
            f"Canal {i}\n\nThe Zorbel canal section {i} carried {1000 + i} barges in March. "
            + filler_prose(i, 20), encoding="utf-8")
    return folder


def _wait_for_lease(url: str, proc: subprocess.Popen, timeout: float = 600) -> None:
    """Until the ingesting process holds the writer lease (it is inside its ingest)."""
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=int(url.rsplit(":", 1)[1]))
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        try:
            if client.get_collection("articles_meta").get(ids=["writer-lease"])["ids"]:
                return
        except Exception:  # noqa: BLE001 - collection not created yet
            pass
        time.sleep(0.05)
    raise AssertionError(f"the ingest never took the lease (exit {proc.poll()})")


def _ingest(url: str, cache: Path, folder: Path, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rag", "ingest", "--index", str(cache), str(folder)],
                            env=_env(url, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_server_killed_mid_ingest_clear_error_then_the_same_ingest_completes(server, tmp_path):
    folder = _articles(tmp_path / "articles")
    proc = _ingest(server.url, tmp_path / "cache", folder, RAG_CHROMA_RETRY_S="3")
    _wait_for_lease(server.url, proc)
    server.stop()  # SIGKILL, mid-ingest
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 5, out + err
    assert "Traceback" not in err, err
    assert f"The Chroma server at {server.url} (RAG_CHROMA_URL) did not answer" in err, err
    assert "chroma run" in err and "run the same command again" in err, err
    assert "retrying for up to 3 s" in err, err  # it retried (with backoff) before giving up

    server.start()  # same port, same data
    proc = _ingest(server.url, tmp_path / "cache", folder)  # the dead writer's lease is no obstacle
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, out + err
    from rag import Assistant
    from rag.doctor import check

    a = Assistant(settings=_settings(server.url, tmp_path / "check"), bootstrap=False)
    names = {p.stem for p in folder.iterdir()}
    assert {d["doc_id"] for d in a.documents()} == names
    rep = check(a)
    assert rep.ok, rep.render()
    ans = a.ask("How many barges did the Zorbel canal section 7 carry?")
    assert "1007" in ans.short.text and all(a.document(q.doc_id).text[q.start:q.end] == q.text for q in ans.quotes)


def test_a_short_outage_is_ridden_out(server, tmp_path):
    folder = _articles(tmp_path / "articles", n=4)
    proc = _ingest(server.url, tmp_path / "cache", folder, RAG_CHROMA_RETRY_S="300")
    _wait_for_lease(server.url, proc)
    server.stop()
    time.sleep(1.0)
    server.start()
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, out + err
    assert f"{len(list(folder.iterdir()))} added" in out, out


def test_ui_says_the_store_is_gone_and_keeps_serving(server, tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from rag import Assistant
    from ui_helpers import running_app

    a = Assistant(settings=_settings(server.url, tmp_path / "ui", chroma_retry_s=1.0), bootstrap=False)
    assert a.ingest([next(BUNDLED.glob("vov-*.txt"))]).ok
    q = "How much did vaccine diplomacy save the state budget?"
    with running_app(a) as (_demo, url):
        client = Client(url, verbose=False, download_files=False)
        assert not client.predict(q, api_name="/ask")["abstained"]
        server.stop()
        with pytest.raises(AppError, match="RAG_CHROMA_URL"):
            client.predict(q, api_name="/ask")
        with urllib.request.urlopen(url, timeout=30) as r:  # the page is still served
            assert r.status == 200
        server.start()
        d = client.predict(q, api_name="/ask")
        assert not d["abstained"] and d["quotes"]
        for x in d["quotes"]:
            assert a.document(x["doc_id"]).text[x["start"]:x["end"]] == x["text"]


HOLD = """
import os, signal, sys
from rag.serverlock import ServerLease
from rag.settings import Settings
from rag.store import Store
lease = ServerLease(Store(Settings(chroma_url=sys.argv[1], index_dir=sys.argv[2], bootstrap_dir=None)))
lease.acquire()
print("held", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_dead_writers_lease_is_taken_over(server, tmp_path):
    from rag.errors import IndexLockedError
    from rag.serverlock import LEASE_ID, ServerLease
    from rag.store import Store

    store = Store(_settings(server.url, tmp_path / "w"))
    # same machine: the holder was SIGKILLed and is not even reaped yet (a zombie)
    p = subprocess.Popen([sys.executable, "-c", HOLD, server.url, str(tmp_path / "dead")],
                         stdout=subprocess.PIPE, text=True, env=_env(server.url))
    assert p.stdout.readline().strip() == "held"
    deadline = time.time() + 60
    while Path(f"/proc/{p.pid}/stat").exists() and Path(f"/proc/{p.pid}/stat").read_text().split(") ")[1][0] != "Z":
        assert time.time() < deadline
        time.sleep(0.05)
    held = store.meta.get(ids=[LEASE_ID], include=["metadatas"])["metadatas"][0]
    assert held["pid"] == str(p.pid) and float(held["until"]) > time.time() + 5  # not expired
    mine = ServerLease(store, ttl_s=15)
    mine.acquire()  # at once, not after the ttl
    mine.release()
    p.wait(30)

    # another machine: its lease is honoured until it expires, then taken over
    ServerLease(store, ttl_s=2)._write()
    store.meta.update(ids=[LEASE_ID], metadatas=[{"host": "other-host", "holder": "other-host:4242:x",
                                                  "pid": "4242", "until": time.time() + 2.0}])
    with pytest.raises(IndexLockedError, match="other-host:4242"):
        ServerLease(store, ttl_s=2).acquire()
    time.sleep(2.2)
    late = ServerLease(store, ttl_s=2)
    late.acquire()
    late.release()


def test_a_writer_whose_lease_was_taken_over_stops_before_committing(server, tmp_path):
    from rag import Assistant
    from rag.errors import IndexLockedError
    from rag.serverlock import ServerLease

    a = Assistant(settings=_settings(server.url, tmp_path / "a"), bootstrap=False)
    thief = ServerLease(a.store)
    with a.lock:
        thief._write()  # another writer took over (this one stalled past the ttl)
        with pytest.raises(IndexLockedError, match="lost its lease"):
            a.ingest([next(BUNDLED.glob("vov-*.txt"))])
    assert a.documents() == []  # nothing became visible
    thief.release()
    assert a.ingest([next(BUNDLED.glob("vov-*.txt"))]).ok and len(a.documents()) == 1
    assert a.store.stale_chunk_ids() == []  # the stopped writer's chunks were swept
