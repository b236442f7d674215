"""The local GGUF model, run in its own process: llama.cpp's OpenAI-compatible server.

Why a separate process: a crash in native code (a segfault in a llama.cpp kernel, an
out-of-memory kill) must not take the web UI or the CLI down with it. The product
starts `python -m llama_cpp.server` on a free loopback port the first time the
`local` backend is used, talks to it through the same OpenAI-compatible client as
the `openai` backend, and starts it again on the next request after it died.
The child is told to exit when its parent does (Linux PR_SET_PDEATHSIG).
"""
from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

from ..errors import LLMError

INSTALL_HINT = ("The local LLM backend needs the local-llm extra: pip install -e '.[local-llm]' "
                "(see the README), or choose another backend with RAG_LLM__BACKEND / --llm.")
READY_TIMEOUT_S = 120.0  # loading a GGUF of a few hundred MB from a cold disk


def available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _threads() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


class LocalServer:
    """One supervised llama.cpp server for one GGUF file."""

    def __init__(self, model_path: Path, n_ctx: int):
        self.model_path, self.n_ctx = model_path, n_ctx
        self.proc: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self.restarts = 0
        self._lock = threading.Lock()
        self._log = Path(tempfile.gettempdir()) / f"rag-llm-server-{os.getpid()}-{id(self)}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> str:
        """Start the server if it is not running (first use, or after it died); its base URL."""
        with self._lock:
            if self.alive():
                return self.base_url
            if self.proc is not None:
                self.restarts += 1
            if not available():
                raise LLMError(INSTALL_HINT)
            self.port = _free_port()
            env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
            cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
                   "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
                   "--n_threads", str(_threads()), "--n_threads_batch", str(_threads()),
                   "--chat_format", "chatml", "--verbose", "False"]
            log = open(self._log, "wb")
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, preexec_fn=_die_with_parent if os.name == "posix" else None)
            log.close()
            self._wait_ready()
            return self.base_url

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LLMError(f"The local model server exited with code {self.proc.returncode} while "
                               f"loading {self.model_path}: {self.log_tail()} Check RAG_LLM__MODEL_PATH.")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise LLMError(f"The local model server did not come up within {READY_TIMEOUT_S:.0f} s: "
                       f"{self.log_tail()}")

    def log_tail(self, n: int = 3) -> str:
        try:
            lines = self._log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    def stop(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        try:
            self._log.unlink()
        except OSError:
            pass

    def died_message(self) -> Optional[str]:
        """Plain words for a server that is gone, or None while it runs."""
        if self.proc is None or self.proc.poll() is None:
            return None
        code = self.proc.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"the local model stopped (it {how}); it is started again on the next question"


_SERVERS: dict[tuple[str, int], LocalServer] = {}
_SERVERS_LOCK = threading.Lock()


def server_for(model_path: Path, n_ctx: int) -> LocalServer:
    key = (str(model_path.resolve()), n_ctx)
    with _SERVERS_LOCK:
        if key not in _SERVERS:
            _SERVERS[key] = LocalServer(model_path, n_ctx)
        return _SERVERS[key]


@atexit.register
def _stop_all() -> None:
    for s in list(_SERVERS.values()):
        s.stop()
