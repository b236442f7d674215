"""What this CPU can do, read once: model name, the SIMD/matrix flags that matter, and
whether bf16 matrix maths is fast here (AMX or AVX512-BF16) or emulated (AVX2 only)."""
from __future__ import annotations

import os
import platform
from functools import lru_cache

RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


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
