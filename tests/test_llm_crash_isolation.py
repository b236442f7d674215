"""The local model runs in its own process: when it crashes, the UI keeps serving.

Starts the real web UI (`rag serve`) with the local backend over a real index of
the bundled articles, asks through gradio_client, sends SIGSEGV to the llama.cpp
server process while it writes the answer, then asks again.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ui_helpers import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
Q = "How many vaccine doses did Vietnam secure?"


def llama_children(parent_pid: int) -> list[int]:
    """Pids of llama.cpp server processes started by `parent_pid` (read from /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent_pid and "llama_cpp.server" in cmd:
            out.append(int(d.name))
    return out


@pytest.fixture()
def served_ui(tmp_path):
    index = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_LLM__BACKEND": "local", "RAG_INDEX_DIR": str(index),
           "RAG_LLM__MAX_TOKENS": "256",  # a long answer: the kill lands while it is written
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "rag", "ingest", "--index", str(index),
                    str(ROOT / "rag" / "data" / "articles")], env=env, check=True, capture_output=True)
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--index", str(index), "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/"
    try:
        import httpx

        def up():
            try:
                return httpx.get(url, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(up, timeout=120), (tmp_path / "serve.log").read_text(errors="replace")[-2000:]
        # the page answers once the index, the embedding model and the reader are loaded
        assert wait_until(lambda: "Ready in" in (tmp_path / "serve.log").read_text(errors="replace"),
                          timeout=180), (tmp_path / "serve.log").read_text(errors="replace")[-2000:]
        yield proc, url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_model_crash_mid_answer_falls_back_and_the_next_question_is_answered(served_ui):
    from gradio_client import Client

    proc, url = served_ui
    client = Client(url, download_files=False, verbose=False)
    client.predict(Q, api_name="/ask")  # warm: the model server is started on first use
    first = llama_children(proc.pid)
    assert len(first) == 1, "the local model runs in a child process of the UI"

    killed = []

    def cpu_ticks(pid: int) -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    def kill_while_writing():
        # the model server is idle until the question reaches it; once it has used 0.1 s of CPU
        # it is decoding the answer (which takes it well over a second): kill it then
        pid = first[0]
        start = cpu_ticks(pid)
        deadline = time.time() + 60
        while time.time() < deadline and cpu_ticks(pid) - start < 10:
            time.sleep(0.01)
        os.kill(pid, signal.SIGSEGV)
        killed.append(pid)

    t = threading.Thread(target=kill_while_writing)
    t.start()
    crashed = client.predict("How much did vaccine diplomacy save the state budget?", api_name="/ask")
    t.join()
    assert killed, "the model process was there to kill"
    assert proc.poll() is None, "the UI process survived the model's crash"
    assert crashed["path"] == "extractive-fallback", crashed
    assert "local model" in crashed["fallback_reason"] and "signal 11" in crashed["fallback_reason"]
    assert not crashed["abstained"] and crashed["quotes"], "the extractive answer is still given"

    again = client.predict(Q, api_name="/ask")
    assert not again["abstained"] and again["quotes"]
    assert again["llm_text"], "the model was started again and wrote the answer"
    restarted = llama_children(proc.pid)
    assert len(restarted) == 1 and restarted[0] not in killed
