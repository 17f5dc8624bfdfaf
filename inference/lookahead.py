"""Detection ahead: worker threads prepare the next items while the estimator works on the current one.

Why: MediaPipe's graph runs in C++ on one core and releases the GIL, so with photos (or video frames)
taken strictly in turn the second core of a small CPU idles through every detection. Reading and
detecting the next item on one worker thread while the generative model runs on the current one
took predict over a folder from 2.60x to 2.06x MediaPipe alone per photo on renders, 3.60x to 3.33x
on real photos, on the 2-core test machine (docs/BENCHMARKS.md, "one photo ahead"). On real photos
detection is the larger share (a photo MediaPipe misses costs its second look 70-360 ms), so one
worker still left the model's thread waiting: two workers, each on its own detector, took the same
loop from 2.6x to 2.2x (docs/BENCHMARKS.md, "two photos ahead").

One worker (the default) keeps every detector call on the same thread and in the items' order, which
MediaPipe's video mode (tracking) relies on. With more, items start in order and may finish out of
order; they are still handed out in order. Results are the same as without it: each item's
detection and estimate are computed as before.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prepared_ahead(items: Iterable[T], prepare: Callable[[T], R],
                   initializer: Callable[[], None] | None = None, workers: int = 1) -> Iterator[tuple[T, Future]]:
    """(item, future of prepare(item)) in the items' order, the next `workers` items' prepares already
    running on `workers` threads (prepare must be safe to call from that many threads at once).

    future.result() gives prepare's value or raises its exception, in the caller's thread, so a
    failure on one item (an unreadable photo) is that item's to handle. Stopping early (break, or
    closing the generator) waits for the prepares in flight, so the detectors are idle afterwards,
    and starts no more. initializer: run once on each worker thread before its first prepare
    (Pipeline.on_worker_thread).
    """
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers must be a whole number of at least 1; got {workers!r}")
    it = iter(items)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="maskhand-detect", initializer=initializer)
    pending: deque[tuple[T, Future]] = deque()

    def top_up() -> None:
        while len(pending) < workers:
            try:
                item = next(it)
            except StopIteration:
                return
            pending.append((item, pool.submit(prepare, item)))

    try:
        top_up()
        while pending:
            current = pending.popleft()
            top_up()  # the next ones start before the current one is handed out
            yield current
    finally:
        # the handed-out item may still be running, so one more than `workers` can be queued:
        # one not started yet is dropped, those running are waited for
        pool.shutdown(wait=True, cancel_futures=True)
