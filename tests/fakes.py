"""Stand-ins for collaborators that are not the point of a unit test."""
from __future__ import annotations

import hashlib
import re

import numpy as np

from rag.embeddings import Embedder


_WORD = re.compile(r"\w+")


class HashEmbedder(Embedder):
    """A deterministic embedder with the real one's interface (`embed(texts)` -> (n, dim)
    float32 unit rows, `dim`, `name`, `kernel`): a hashed bag of lower-cased words,
    L2-normalised. Texts sharing words are similar,
    so retrieval and sentence scoring behave sensibly, in microseconds instead of a model
    call. Use it where the embedding model is not what the test is about; tests of
    answer quality keep the real model."""

    name = "hash"
    kernel = "hash"
    dim = 384

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim  # smaller for tests that only need many vectors stored (HNSW insert cost grows with it)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in _WORD.findall(t.lower()):
                out[i, int.from_bytes(hashlib.blake2b(w.encode(), digest_size=4).digest(), "big") % self.dim] += 1
        out += 1e-6  # an empty text still gets a unit vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)
