"""`python ui.py` as a user starts it: gradio's own port variable, no share-link banner,
and a busy port is a message that names the settings to change."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ui_helpers import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent


def test_ui_honours_gradio_server_port_and_never_suggests_a_share_link(tmp_path):
    import httpx

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_SERVER_PORT": str(port),
           "RAG_INDEX_DIR": str(tmp_path / "index"), "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("RAG_UI__PORT", None)
    log = tmp_path / "ui.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "ui.py")], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        def up():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(up, timeout=180), log.read_text(errors="replace")[-3000:]
        # a second UI on the same port: a clear message, not gradio's traceback
        second = subprocess.run([sys.executable, "-m", "rag", "serve", "--index", str(tmp_path / "index"),
                                 "--port", str(port)], env=env, capture_output=True, text=True,
                                timeout=300, cwd=tmp_path)
        assert second.returncode != 0
        assert "RAG_UI__PORT" in second.stderr and "Traceback" not in second.stderr, second.stderr[-2000:]
        assert wait_until(lambda: "Ready in" in log.read_text(errors="replace"), timeout=120)
    finally:
        proc.terminate()
        proc.wait(20)
    printed = log.read_text(errors="replace")
    assert f"127.0.0.1:{port}" in printed
    assert "share=True" not in printed and "public link" not in printed, printed
