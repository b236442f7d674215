"""The `onnx` embedding providers: the same sentence-transformers model run by
onnxruntime: `onnx` (fp32, the default: the same vectors, ~1.5x the
throughput of PyTorch here and far less per-call overhead on short queries)
and `onnx-int8` (dynamic int8 quantisation of the MatMuls).

At first use the model is exported from its local folder with
torch.onnx.export (and, for onnx-int8, quantised with onnxruntime.quantization.quantize_dynamic)
into a cache folder (RAG_ONNX_CACHE, default ~/.cache/rag-news/onnx); later
processes load the cached file. Tokenisation uses the model's own
tokenizer.json (the `tokenizers` library), pooling and normalisation follow the
model's sentence-transformers config (mean pooling, L2 norm for MiniLM).

No optimum: its install downgrades transformers/huggingface-hub below what
gradio needs; onnxruntime alone is enough.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from .embeddings import Embedder, resolve_model_path
from .errors import ConfigError

_export_lock = threading.Lock()


def cache_dir() -> Path:
    return Path(os.environ.get("RAG_ONNX_CACHE") or Path.home() / ".cache" / "rag-news" / "onnx")


def _model_key(path: Path) -> str:
    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "modules.json"):
        p = path / name
        if p.exists():
            h.update(p.read_bytes())
    weights = next((p for p in (path / "model.safetensors", path / "pytorch_model.bin") if p.exists()), None)
    if weights is not None:
        st = weights.stat()
        h.update(f"{st.st_size}".encode())
    return h.hexdigest()[:16]


def export(model_dir: Path, out_dir: Path, quantize: bool = True) -> Path:
    """Export (and quantise) the transformer of a sentence-transformers folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = out_dir / "model.onnx"
    final = out_dir / ("model-int8-pc-matmul.onnx" if quantize else "model.onnx")
    if final.exists():
        return final  # cached: no torch import, no rebuild at start
    if not fp32.exists():
        import torch
        from transformers import AutoModel

        bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

        class Wrapped(torch.nn.Module):  # keyword call: positional order differs across versions
            def __init__(self):
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state

        model = Wrapped().eval()
        ids = torch.ones((2, 16), dtype=torch.long)
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            tmp_path = Path(tmp) / "model.onnx"
            with torch.no_grad():
                torch.onnx.export(
                    model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(tmp_path),
                    input_names=["input_ids", "attention_mask", "token_type_ids"],
                    output_names=["last_hidden_state"],
                    dynamic_axes={n: {0: "batch", 1: "seq"} for n in
                                  ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
                    opset_version=17, dynamo=False,
                )
            os.replace(tmp_path, fp32)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp_q = out_dir / f".int8-{os.getpid()}.onnx"
        # Only the MatMuls, int8 weights per output channel: mean cosine 0.995
        # with fp32 on news chunks. Quantising everything (Gather, attention
        # inputs) or per-tensor weights fell to 0.82-0.95.
        quantize_dynamic(str(fp32), str(tmp_q), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
        os.replace(tmp_q, final)
    return final


# One session.run costs about as much as this many padded tokens (MiniLM, one thread:
# batches cut with 4, 16 or 48 cost the same CPU within 5%, one text per run 10% more).
RUN_COST_TOKENS = 16


def plan_batches(lengths: list[int], max_rows: int, run_cost: int = RUN_COST_TOKENS) -> list[list[int]]:
    """Indices of texts in batches that cost the fewest padded tokens, `run_cost` per run.

    A batch is padded to its longest text, and padded positions cost the model as much as
    real ones, so one batch of an answer's candidate sentences (12-150 tokens) computed
    about twice the tokens it holds. Sorted by length, the texts are cut into contiguous
    batches of at most `max_rows` by dynamic programming (O(n * max_rows))."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    ln = [lengths[i] for i in order]
    n = len(ln)
    best, cut = [0] + [float("inf")] * n, [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(max(0, j - max_rows), j):
            v = best[i] + (j - i) * ln[j - 1] + run_cost
            if v < best[j]:
                best[j], cut[j] = v, i
    batches, j = [], n
    while j > 0:
        batches.append(order[cut[j]:j])
        j = cut[j]
    return batches[::-1]


class OnnxEmbedder(Embedder):
    def __init__(self, model: str, device: str = "cpu", batch_size: int = 64, quantize: bool = False,
                 threads: int = 0):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = model
        self.batch_size = batch_size
        path = Path(resolve_model_path(model))
        if not (path / "tokenizer.json").exists():
            raise ConfigError(f"The onnx embedding provider needs a local model folder with tokenizer.json; "
                              f"{path} has none. Use RAG_EMBEDDING__PROVIDER=sentence-transformers.")
        st_cfg = {}
        if (path / "sentence_bert_config.json").exists():
            st_cfg = json.loads((path / "sentence_bert_config.json").read_text())
        self.max_len = int(st_cfg.get("max_seq_length", 256))
        pooling = path / "1_Pooling" / "config.json"
        if pooling.exists() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens", True):
            raise ConfigError(f"{model}: only mean-pooling models are supported by the onnx provider.")
        with _export_lock:
            onnx_path = export(path, cache_dir() / _model_key(path), quantize=quantize)
        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.enable_truncation(self.max_len)
        self.tok.no_padding()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads  # 0: onnxruntime's default (one per physical core)
        # Idle pool threads sleep instead of spinning. The answer path alternates onnxruntime
        # (the question, the candidate sentences) with PyTorch (the span reader) on the same
        # cores, and a spinning pool kept them busy after each run: at 10k chunks on a 2-core
        # AVX2 EPYC (2026-11-27, three interleaved rounds of 32 questions) ask() p50 was
        # 387/442/404 ms spinning and 339/362/394 ms not, the reader's share 215/262/230 ms and
        # 185/195/215 ms; bulk embedding (ingest) took the same time either way.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(json.loads((path / "config.json").read_text()).get("hidden_size", 384))

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        enc = self.tok.encode_batch(list(texts))
        for idx in plan_batches([len(e.ids) for e in enc], self.batch_size):  # little padding
            n = max(len(enc[i].ids) for i in idx)
            ids = np.zeros((len(idx), n), dtype=np.int64)
            mask = np.zeros((len(idx), n), dtype=np.int64)
            for row, i in enumerate(idx):
                e = enc[i].ids
                ids[row, :len(e)] = e
                mask[row, :len(e)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feeds)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[idx] = pooled
        return out


class OnnxInt8Embedder(OnnxEmbedder):
    """Mean cosine 0.995 with fp32 and ~1.3x faster, but `rag eval` lost a
    little (answer_hit 0.675 vs 0.688 on eval/gold.jsonl), so not the default."""

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 64, threads: int = 0):
        super().__init__(model, device, batch_size, quantize=True, threads=threads)
