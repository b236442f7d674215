"""The span reader's matrix products in int8, one scale per token (RAG_READER__COMPUTE=int8).

Each quantized Linear keeps its weights as int8 with one fp32 scale per output row and, at
every call, scales each token's input (each row of the activation matrix) by its own absmax /
127, multiplies in integers (`torch._int_mm`: int8 x int8 -> int32, oneDNN's VNNI / AVX2 /
AMX-INT8 kernels) and applies the two scales and the bias in fp32.

Why not a library:
- PyTorch's `quantize_dynamic` (fbgemm) scales a Linear's input per tensor, over every window of
  the batch and its padding: a window's logits then depend on what else is read with it
  (forced F1 .539 in one batching, .519 in another; eval/candidates/2026-11-27-int8-reader.md).
- torchao 0.18's Int8DynamicActivationInt8WeightConfig scales per token as here, but its CPU path
  ran the reader slower than fp32 (289 vs 265 ms for 6 windows of 256 tokens, 2026-11-27).

Per token, a window's logits are the same alone or in any batch (tests/test_reader.py).
Layer 0's FFN output stays fp32: its inputs carry the outlier features that one scale per token
cannot hold (the 2026-11-27 sweep on training data); so does the 2-output QA head (no gain).
"""
from __future__ import annotations

import torch
from torch import nn

# Linear layers of answering/bert.py's networks left in fp32 (names as in the state dict)
KEEP_FP32 = ("bert.encoder.layer.0.output.dense", "qa_outputs", "classifier", "bert.pooler.dense")


class Int8Linear(nn.Module):
    """y = x W^T + b with int8 W (per output row) and int8 x (per token)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        w = linear.weight.detach().float()
        scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        # (in, out) with the output dimension contiguous in memory: what _int_mm takes fastest
        self.register_buffer("weight_q", torch.round(w / scale[:, None]).to(torch.int8).t())
        self.register_buffer("weight_scale", scale)
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().float())
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).float()
        inv = 127.0 / x2.abs().amax(dim=1, keepdim=True).clamp(min=1e-12)
        xq = torch.round(x2 * inv).to(torch.int8)
        y = torch._int_mm(xq, self.weight_q).float()
        y.div_(inv)
        y.mul_(self.weight_scale)
        if self.bias is not None:
            y.add_(self.bias)
        return y.reshape(*shape[:-1], self.out_features)


def quantize(model: nn.Module, keep: tuple[str, ...] = KEEP_FP32) -> nn.Module:
    """Replace, in place, every nn.Linear of `model` but those named in `keep` by an Int8Linear."""
    for parent_name, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            full = f"{parent_name}.{name}" if parent_name else name
            if isinstance(child, nn.Linear) and full not in keep:
                setattr(parent, name, Int8Linear(child))
    return model
