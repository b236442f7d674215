"""Scale-out: one Chroma server, one writer process, two reader processes.

Starts `chroma run --path <tmp> --port <free port> --host 127.0.0.1`, ingests
from one process, asks from two others at the same time (each with its own
local cache folder, like replicas on separate machines), then ingests a new
article and checks both readers see it, BM25 side included.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import BUNDLED



def setup_module(module):
    # chromadb (a dependency) installs the `chroma` CLI; its absence is a broken install, not a skip
    assert shutil.which("chroma"), "the chroma CLI is missing: pip install -e . installs it with chromadb"

NEW_ARTICLE = """Ferry line opens between Hải Phòng and Cát Bà

HẢI PHÒNG — A new high-speed ferry line between Hải Phòng and Cát Bà island carried 4,317 passengers in its first week, the Quillbrook Shipping Company said on Monday.

The company's director, Ngô Thị Lanh, said the catamaran makes the crossing in 45 minutes and runs six times a day.
"""

READER = textwrap.dedent("""
    import json, sys
    from rag import Assistant
    from rag.textnorm import terms
    a = Assistant(index_dir=sys.argv[1], bootstrap=False)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        q = json.loads(line)["q"]
        ans = a.ask(q)
        quotes = ans.quotes + ans.closest
        docs = a.store.get_documents(x.doc_id for x in quotes)
        sp = a.sparse.get()
        bm25 = sp.query(terms(q), 3)
        print(json.dumps({
            "text": ans.text, "abstained": ans.abstained,
            "quotes": [x.to_dict() for x in quotes],
            "verbatim": bool(quotes) and all(docs[x.doc_id].text[x.start:x.end] == x.text for x in quotes),
            "sparse_docs": sorted(sp.doc_ids), "bm25_top": bm25[0][0].doc_id if bm25 else None,
        }), flush=True)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def chroma_server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "chroma.log", "wb")
    proc = subprocess.Popen(["chroma", "run", "--path", str(tmp_path / "chroma-data"), "--port", str(port),
                             "--host", "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"chroma server did not start: {(tmp_path / 'chroma.log').read_text()[-500:]}")
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _env(url: str) -> dict:
    return dict(os.environ, RAG_CHROMA_URL=url, HF_HUB_OFFLINE="1")


def _ingest(url: str, cache: Path, *paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", "ingest", "--index", str(cache), *map(str, paths)],
                          env=_env(url), capture_output=True, text=True, timeout=600)


class Reader:
    def __init__(self, url: str, cache: Path):
        self.p = subprocess.Popen([sys.executable, "-c", READER, str(cache)], env=_env(url), text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.p.stdout.readline()
        assert line, self.p.stderr.read()[-2000:]

    def ask(self, q: str) -> dict:
        self.p.stdin.write(json.dumps({"q": q}) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, self.p.stderr.read()[-2000:]
        return json.loads(line)

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait(30)


def _ask_all(readers: list[Reader], q: str) -> list[dict]:
    out: list = [None] * len(readers)
    threads = [threading.Thread(target=lambda i=i, r=r: out.__setitem__(i, r.ask(q))) for i, r in enumerate(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return out


def test_one_writer_two_readers_share_a_chroma_server(chroma_server, tmp_path):
    vns = next(BUNDLED.glob("vns-*.txt"))
    r = _ingest(chroma_server, tmp_path / "writer", vns)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "writer" / "chroma").exists()  # nothing embedded locally: the server holds it

    readers = [Reader(chroma_server, tmp_path / f"reader{i}") for i in (1, 2)]
    try:
        for ans in _ask_all(readers, "How many vaccine doses did the ministry secure?"):
            assert not ans["abstained"], ans["text"]
            assert ans["verbatim"]
            assert "258 million" in ans["text"] + " ".join(q["text"] for q in ans["quotes"])

        new = tmp_path / "new" / "vns-2025-11-12-ferry-line-opens.txt"
        new.parent.mkdir()
        new.write_text(NEW_ARTICLE, encoding="utf-8")
        r = _ingest(chroma_server, tmp_path / "writer", new)
        assert r.returncode == 0, r.stderr
        time.sleep(2.5)  # readers poll the generation token at most every 2 s

        q = "How many passengers did the Quillbrook ferry carry in its first week?"
        for ans in _ask_all(readers, q):
            assert "vns-2025-11-12-ferry-line-opens" in ans["sparse_docs"]  # BM25 side refreshed
            assert ans["bm25_top"] == "vns-2025-11-12-ferry-line-opens"
            assert not ans["abstained"], ans["text"]
            assert ans["verbatim"]
            assert "4,317" in ans["text"]
    finally:
        for rd in readers:
            rd.close()


def test_server_lease_refuses_a_second_writer(chroma_server, tmp_path):
    from rag.errors import IndexLockedError
    from rag.serverlock import ServerLease
    from rag.settings import Settings
    from rag.store import Store

    settings = Settings(chroma_url=chroma_server, index_dir=tmp_path / "a")
    held = ServerLease(Store(settings))
    held.acquire()
    try:
        with pytest.raises(IndexLockedError, match="being written by"):
            ServerLease(Store(settings.model_copy(update={"index_dir": tmp_path / "b"}))).acquire()
        r = _ingest(chroma_server, tmp_path / "c", next(BUNDLED.glob("vov-*.txt")))
        assert r.returncode == 4 and "being written by" in r.stderr
    finally:
        held.release()
    r = _ingest(chroma_server, tmp_path / "c", next(BUNDLED.glob("vov-*.txt")))
    assert r.returncode == 0, r.stderr
