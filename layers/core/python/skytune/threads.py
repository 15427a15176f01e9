"""The process's kept thread pool for overlapping DynamoDB round trips (a page's index groups, its
row items, its runs read from the tables): one pool for the life of a container, because starting
8 threads per read was 0.2-0.4 s of a cold query on a loaded machine (profiled: `Thread.start` waits
for each thread to be scheduled)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

#: Round trips in flight at once: a 100,000-run first page reads ~1,500 index groups in
#: BatchGetItems of 100, 15 sequential round trips otherwise.
KEPT_THREADS = 8

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def on_threads(work: Callable[[Any], Any], parts: Sequence, threads: int | None = None) -> list:
    """[work(part) for part in parts], the parts overlapping on the kept pool. `work` must not call
    this again (it would wait on its own pool). `threads`: a pool of that many threads for this call
    alone (e.g. a fold's series reads, where starting threads is nothing next to the reads)."""
    global _pool
    if len(parts) <= 1:
        return [work(part) for part in parts]
    if threads is not None:
        with ThreadPoolExecutor(min(threads, len(parts))) as own:
            return list(own.map(work, parts))
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(KEPT_THREADS, thread_name_prefix="kept")
    return list(_pool.map(work, parts))
