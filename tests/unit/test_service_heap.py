"""After start-up a service hides what start-up built from the garbage collector and collects
the young generation less often; cyclic garbage made afterwards is still collected."""

from __future__ import annotations

import subprocess
import sys

import orjson

PROBE = """
import asyncio, gc, json, weakref
from pactwatch.service import GC_GEN0_THRESHOLD, settle_heap

class Node:
    pass

built_at_start = [Node() for _ in range(1000)]
asyncio.run(settle_heap())
frozen = gc.get_freeze_count()
threshold = gc.get_threshold()

# a reference cycle dropped after start-up: only the collector can free it
a, b = Node(), Node()
a.other, b.other = b, a
probe = weakref.ref(a)
del a, b
gc.collect()
print(json.dumps({
    "frozen": frozen,
    "threshold": threshold,
    "expected": GC_GEN0_THRESHOLD,
    "cycle_freed": probe() is None,
}))
"""


def test_settle_heap_freezes_start_up_objects_and_still_frees_cycles() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    report = orjson.loads(result.stdout)
    assert report["frozen"] >= 1000  # at least the objects built before it
    assert report["threshold"][0] == report["expected"] > 700  # above Python's default
    assert report["cycle_freed"] is True
