"""A census of a soak worker's memory on request, loaded into the worker the soak starts (the soak puts this
directory on its PYTHONPATH and sets CORRIDOR_SOAK_CENSUS_DIR; in any other process this module does nothing).

The soak writes `census-N.request` into that directory; a thread of the worker answers with `census-N.json`: its
GC-tracked Python objects counted by type (with `sys.getsizeof` bytes), pymalloc's allocated blocks, and glibc's
`mallinfo2` (heap bytes in use and free: growth that is not Python's, RocksDB's or the allocator's own). Two
censuses diffed attribute a growth of RSS to Python objects by type, or say it is not in Python's heap. Nothing
is traced between censuses, so the worker runs at full speed; a census pauses it for a second or two."""

from __future__ import annotations

import os

if os.environ.get("CORRIDOR_SOAK_CENSUS_DIR"):
    import contextlib
    import ctypes
    import gc
    import json
    import sys
    import threading
    import time
    from collections import Counter
    from pathlib import Path

    class _Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")]  # fmt: skip

    def _malloc() -> dict[str, int]:
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallinfo2.restype = _Mallinfo2
            info = libc.mallinfo2()
        except (OSError, AttributeError):  # not glibc 2.33+
            return {}
        return {"heap_bytes": info.arena, "in_use_bytes": info.uordblks, "free_bytes": info.fordblks,
                "mmapped_bytes": info.hblkhd}  # fmt: skip

    def _census() -> dict:
        counts: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        for obj in gc.get_objects():
            kind = type(obj)
            name = f"{kind.__module__}.{kind.__qualname__}"
            counts[name] += 1
            with contextlib.suppress(Exception):  # a __sizeof__ that fails must not stop the census
                sizes[name] += sys.getsizeof(obj)
        return {"at": time.time(), "allocated_blocks": sys.getallocatedblocks(), "malloc": _malloc(),
                "counts": dict(counts), "bytes": dict(sizes)}  # fmt: skip

    def _serve(where: Path) -> None:
        n = 0
        while True:
            if (where / f"census-{n}.request").exists():
                started = time.perf_counter()
                answer = _census()
                answer["seconds"] = time.perf_counter() - started
                (where / f"census-{n}.tmp").write_text(json.dumps(answer))
                (where / f"census-{n}.tmp").rename(where / f"census-{n}.json")
                n += 1
            time.sleep(0.5)

    threading.Thread(target=_serve, args=(Path(os.environ["CORRIDOR_SOAK_CENSUS_DIR"]),), daemon=True,
                     name="soak-census").start()
