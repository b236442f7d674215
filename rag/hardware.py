"""What this CPU can do, read once: model name, the SIMD/matrix flags that matter, and
whether bf16 matrix maths is fast here (AMX or AVX512-BF16) or emulated (AVX2 only).

`machine()` adds the library versions that decide kernel speed; `machine_key()` hashes
it, so a choice measured on one machine (see rag/kernels.py) is never reused on another,
even when several machines share a home directory. `chosen_kernel()` is the embedding
kernel picked for this machine, for any other model runner (the span reader) that wants
to follow the same choice (e.g. bf16 autocast or not)."""
from __future__ import annotations

import hashlib
import json
import os
import platform
from functools import lru_cache

RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
LIBRARIES = ("torch", "onnxruntime", "sentence-transformers", "transformers", "numpy")


@lru_cache(maxsize=1)
def cpu_info() -> dict:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = val.strip()
                elif key == "flags":
                    flags = set(val.split())
                    break
    except OSError:
        pass
    return {"model": model, "flags": [f for f in RELEVANT_FLAGS if f in flags],
            "cores": os.cpu_count() or 1}


def has(flag: str) -> bool:
    return flag in cpu_info()["flags"]


def bf16_fast() -> bool:
    """bf16 matmuls run in hardware (AMX tiles or AVX512-BF16), so autocast pays off."""
    return has("amx_bf16") or has("avx512_bf16")


def describe() -> str:
    c = cpu_info()
    return f"{c['model']} ({c['cores']} cores; {' '.join(c['flags']) or 'no AVX2'})"


@lru_cache(maxsize=1)
def library_versions() -> dict:
    """Installed versions (read from package metadata: nothing is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def machine() -> dict:
    """Everything a kernel's speed depends on: CPU model, flags, cores, library versions."""
    return {**cpu_info(), "python": platform.python_version(), "libraries": library_versions()}


def machine_key() -> str:
    return hashlib.sha256(json.dumps(machine(), sort_keys=True).encode()).hexdigest()[:16]


def chosen_kernel(settings=None):
    """The embedding kernel chosen for this machine (rag.kernels.Choice): `.name`,
    `.bf16` (run torch models under bf16 autocast), `.reason`."""
    from .kernels import chosen_kernel as _chosen

    return _chosen(settings)
