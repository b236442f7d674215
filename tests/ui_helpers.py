"""Helpers for the web UI tests: run the real app on a free loopback port, drive Chromium."""
from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-gpu"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ui_settings(assistant, **ui):
    """The assistant's settings with UI overrides (e.g. username=..., max_upload_mb=...)."""
    s = assistant.settings
    return s.model_copy(update={"ui": s.ui.model_copy(update=ui)})


@contextlib.contextmanager
def running_app(assistant, **ui):
    """The app as `rag serve` launches it (same launch settings), over `assistant`, in this process."""
    from rag.web.app import launch

    settings = ui_settings(assistant, **ui)
    demo, url = launch(settings=settings, port=free_port(), block=False, assistant=assistant, quiet=True)
    try:
        yield demo, url
    finally:
        demo.close()


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 900):
    import pytest

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed at /usr/bin/chromium: run .ci/run or apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def wait_ready(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#rag-question textarea")
    page.wait_for_selector(".rag-status-ready")


def ask(page, question: str):
    """Type a question, press Ask, wait for the finished answer (or abstention); return its element."""
    n = page.locator("#rag-chat .rag-foot, #rag-chat .rag-error").count()
    page.fill("#rag-question textarea", question)
    page.click("#rag-ask")
    page.wait_for_function(
        "n => document.querySelectorAll('#rag-chat .rag-foot, #rag-chat .rag-error').length > n", arg=n)
    return page.locator("#rag-chat .rag-msg").last


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def parse_ref(classes: str):
    from rag.web.render import parse_ref_classes

    return parse_ref_classes(classes)


def wait_until(cond, timeout: float = 30.0, every: float = 0.2):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(every)
    return False
