"""Write the reader's weights as int8 (half the size of fp16) for shipping.

    python -m rag.training.quantize rag/data/reader

Every weight matrix is stored as int8 with one fp32 scale per row (symmetric,
scale = max |w| / 127 of the row); vectors (biases, LayerNorm) stay fp16. The reader
dequantizes at load time (answering/reader.py load_model) and computes exactly as
with fp16 weights, on every CPU. Integer *compute* (torch dynamic quantization,
onnxruntime int8) was measured too and lost F1 (see MODEL_CARD.md).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

MIN_ELEMENTS = 4096  # smaller matrices are not worth a scale per row


def int8_state(state: dict) -> dict:
    """{name: int8 matrix, name + SCALE_SUFFIX: fp32 row scales, other: fp16}."""
    import torch

    from ..answering.reader import SCALE_SUFFIX

    out = {}
    for name, t in state.items():
        t = t.detach().float()
        if t.ndim == 2 and t.numel() >= MIN_ELEMENTS:
            scale = t.abs().amax(dim=1, keepdim=True) / 127.0
            scale[scale == 0] = 1.0
            out[name] = torch.round(t / scale).clamp(-127, 127).to(torch.int8).contiguous()
            out[name + SCALE_SUFFIX] = scale.contiguous()
        elif t.is_floating_point():
            out[name] = t.to(torch.float16).contiguous()
        else:
            out[name] = t.contiguous()
    return out


def write_int8(state: dict, folder: Path) -> Path:
    from safetensors.torch import save_file

    from ..answering.reader import INT8_WEIGHTS

    path = folder / INT8_WEIGHTS
    save_file(int8_state(state), str(path), metadata={"format": "pt", "quantization": "int8 per-row symmetric"})
    path.chmod(0o644)  # safetensors writes 0600; package data must be readable by every user
    return path


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m rag.training.quantize", description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path, help="reader folder with config.json and model.safetensors")
    p.add_argument("--keep", action="store_true", help="keep model.safetensors beside the int8 file")
    a = p.parse_args(argv)
    src = a.folder / "model.safetensors"
    if not src.exists():
        print(f"error: {src} not found: pass a folder written by `rag train-reader`.", file=sys.stderr)
        return 2
    from safetensors.torch import load_file

    out = write_int8(load_file(str(src)), a.folder)
    if not a.keep:
        src.unlink()
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
