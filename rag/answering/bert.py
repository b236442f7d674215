"""The span reader's network: a BERT encoder with a start/end head, in plain PyTorch.

Why not transformers' BertForQuestionAnswering: importing it costs every process that answers
~2.3 s on 2 cores (transformers' lazy module machinery: `import transformers` 0.8 s, the BERT
modelling module 1.5 s more), which is most of a cold `rag ask` after torch itself. This is the
same computation (post-LayerNorm BERT: embeddings, self-attention, GELU feed-forward, a linear
start/end head) with the same parameter names, so the state dict written by `rag train-reader`
(through transformers) loads unchanged; tests/test_reader.py checks its logits against
transformers' on the shipped weights. Training still uses transformers (its optimiser loop and
initialisation are not the hot path).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"

    @classmethod
    def from_dict(cls, d: dict) -> "BertConfig":
        if d.get("model_type", "bert") != "bert" or d.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"not a BERT config with absolute positions: model_type={d.get('model_type')!r}")
        if d.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"hidden_act {d.get('hidden_act')!r}: only 'gelu' (exact) is implemented")
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class _Embeddings(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, input_ids, token_type_ids):
        pos = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) + self.position_embeddings(pos)
        return self.LayerNorm(x)


class _SelfAttention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x, mask):
        b, n, h = x.shape
        d = h // self.heads

        def split(t):
            return t.view(b, n, self.heads, d).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)),
                                             attn_mask=mask, scale=1.0 / math.sqrt(d))
        return out.transpose(1, 2).reshape(b, n, h)


class _DenseNorm(nn.Module):
    """dense -> (dropout) -> LayerNorm(residual + x): BERT's "output" blocks."""

    def __init__(self, d_in: int, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(d_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.self = _SelfAttention(c)
        self.output = _DenseNorm(c.hidden_size, c)

    def forward(self, x, mask):
        return self.output(self.self(x, mask), x)


class _Intermediate(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, x):
        return F.gelu(self.dense(x))  # exact (erf) GELU, as BERT's "gelu"


class _Layer(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Intermediate(c)
        self.output = _DenseNorm(c.intermediate_size, c)

    def forward(self, x, mask):
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class _Encoder(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))


class _Bert(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.embeddings = _Embeddings(c)
        self.encoder = _Encoder(c)


@dataclass
class QAOutput:
    start_logits: torch.Tensor
    end_logits: torch.Tensor


class BertQA(nn.Module):
    """BERT with a linear start/end head; `forward` returns what transformers' does (the logits)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = _Bert(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None) -> QAOutput:
        x = _encode(self.bert, input_ids, token_type_ids, attention_mask)
        start, end = self.qa_outputs(x).split(1, dim=-1)
        return QAOutput(start.squeeze(-1), end.squeeze(-1))

    def load(self, state: dict) -> "BertQA":
        """Load a transformers BertForQuestionAnswering state dict; refuses missing or extra
        weights by name (position_ids buffers and a pooler, unused here, are ignored)."""
        return _load(self, {k: v for k, v in state.items() if not k.startswith("bert.pooler.")})


def _encode(bert: _Bert, input_ids, token_type_ids, attention_mask):
    if token_type_ids is None:
        token_type_ids = torch.zeros_like(input_ids)
    x = bert.embeddings(input_ids, token_type_ids)
    # which keys each query may attend to (True) over the padded batch; boolean, so it fits
    # any dtype autocast gives the attention (bf16 on machines where that is faster)
    mask = attention_mask[:, None, None, :].bool() if attention_mask is not None else None
    for layer in bert.encoder.layer:
        x = layer(x, mask)
    return x


def _load(model: nn.Module, state: dict) -> nn.Module:
    own = model.state_dict()
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise KeyError(f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.load_state_dict(state)
    return model


class _Pooler(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)


class BertPairScore(nn.Module):
    """BERT with its pooler (tanh of a dense layer over [CLS]) and a one-logit head: what
    transformers' BertForSequenceClassification(num_labels=1) computes, same parameter names.
    The answer verifier (answering/verifier.py) runs it."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = _Bert(config)
        self.bert.pooler = _Pooler(config)
        self.classifier = nn.Linear(config.hidden_size, 1)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None) -> torch.Tensor:
        x = _encode(self.bert, input_ids, token_type_ids, attention_mask)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        return self.classifier(pooled).squeeze(-1)

    def load(self, state: dict) -> "BertPairScore":
        """Load a transformers BertForSequenceClassification(num_labels=1) state dict; refuses
        missing or extra weights by name."""
        return _load(self, state)
