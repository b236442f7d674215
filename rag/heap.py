"""Keep the C heap from growing with the number of embedding calls.

torch's activation tensors (a few MB to hundreds of MB, a different size per batch as
sequence lengths vary) come from glibc's heap arenas once glibc has raised its mmap
threshold; freed, they stay in the arenas, which fragment and do not shrink: ingesting
one 1 MB file grew RSS by ~1.2 GB, ~0.2 GB more per MB of text.

Measured (2026-11-25, 2-core AMD EPYC with AVX512-BF16, bulk kernel torch-bf16, 3,000
chunk texts of 100-1,200 characters in calls of 512 as ingest makes them;
`python scripts/measure_heap.py`):

| way | wall s | RSS after | peak RSS |
|---|---|---|---|
| nothing | 33.2 | 1003 MB | 1028 MB |
| a fixed 1 MiB mmap threshold (mallopt; ingest until 2026-11-25) | 48.7 | 806 MB | 851 MB |
| malloc_trim(0) after each batch of 32 (now) | 35.9 | 795 MB | 918 MB |

A fixed mmap threshold sends every large block to mmap: each is mapped, zeroed by the
kernel and unmapped again: embedding took 36% more time than with trimming here.
Trimming after each batch hands the freed pages back at the cost of one pass over the
free lists: the same bound on RSS between batches at nearly full speed; the peak within
a batch is higher by what one batch's activations take. Ingesting a 2 MB news file
(`python scripts/measure_hostile_ingest.py --mb 2 --only normal`): 111 s, peak 1055 MB
with the mmap threshold; 88 s, 1078 MB now (89 s, 1254 MB when trimming only after each
call of 512 texts, with torch's batches of 64). In `rag bench` at 10k chunks the gain was
smaller: embedding within ingest 168 s before, 163 s now, peak RSS of the build 1711 MB
before, 1341 MB now (the trims cost ~8% against no bound at all). No-op on other libcs.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Optional

_libc: Optional[ctypes.CDLL] = None
_tried = False


def _glibc() -> Optional[ctypes.CDLL]:
    global _libc, _tried
    if not _tried:
        _tried = True
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            lib.malloc_trim  # noqa: B018 - glibc only (not musl, macOS, Windows)
            _libc = lib
        except (OSError, AttributeError):
            _libc = None
    return _libc


def trim_heap() -> bool:
    """Return the heap's free pages to the system (glibc malloc_trim); True when done."""
    lib = _glibc()
    return bool(lib is not None and lib.malloc_trim(0))
