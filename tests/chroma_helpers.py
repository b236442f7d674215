"""Start and stop a real Chroma server (`chroma run`) on a free loopback port."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def preload_write_side() -> None:
    """For the kill tests' zygotes (processes that fork one child per step): import what
    writing to Chroma needs, so that each child does not import it anew (0.7 s of a ~3 s
    step): Chroma's Rust and HTTP clients, llama-index's Chroma store, bm25s (and
    scipy.sparse) for the BM25 side, the doctor. Imports only: no client, thread or model
    call before the fork."""
    import bm25s  # noqa: F401
    import chromadb.api.fastapi  # noqa: F401
    import chromadb.api.rust  # noqa: F401
    from llama_index.vector_stores.chroma import ChromaVectorStore  # noqa: F401

    import rag.doctor  # noqa: F401
    import rag.sparse  # noqa: F401


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """`chroma run --path DATA --port PORT --host 127.0.0.1`; stop() kills it (SIGKILL by
    default, like a crash) and start() brings it back on the same port and data."""

    def __init__(self, data: Path, log: Path, port: int | None = None):
        assert shutil.which("chroma"), "the chroma CLI is missing: pip install -e . installs it with chromadb"
        self.data, self.log_path = Path(data), Path(log)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> "ChromaServer":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["chroma", "run", "--path", str(self.data), "--port", str(self.port),
                                      "--host", "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"chroma server did not start: {self.log_path.read_text()[-800:]}")
            time.sleep(0.2)

    def stop(self, kill: bool = True) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
        self.proc = None
