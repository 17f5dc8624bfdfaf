"""Detection one step ahead: a worker thread prepares item i+1 while the estimator works on item i.

Why: MediaPipe's graph runs in C++ on one core and releases the GIL, so with photos (or video frames)
taken strictly in turn the second core of a small CPU idles through every detection. Reading and
detecting the next item on one worker thread while the generative model runs on the current one
took predict over a folder from 2.60x to 2.06x MediaPipe alone per photo on renders, 3.60x to 3.33x
on real photos, on the 2-core test machine (docs/BENCHMARKS.md, "one photo ahead"). One worker, fed in order, keeps every detector call
on the same thread and in the items' order, which MediaPipe's video mode (tracking) relies on.
Results are the same as without it: each item's detection and estimate are computed as before.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prepared_ahead(items: Iterable[T], prepare: Callable[[T], R],
                   initializer: Callable[[], None] | None = None) -> Iterator[tuple[T, Future]]:
    """(item, future of prepare(item)) in the items' order, the next item's prepare already running.

    future.result() gives prepare's value or raises its exception, in the caller's thread, so a
    failure on one item (an unreadable photo) is that item's to handle. Stopping early (break, or
    closing the generator) waits for the one prepare in flight, so its detector is idle afterwards.
    initializer: run once on the worker thread before its first prepare (Pipeline.on_worker_thread).
    """
    it = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="maskhand-detect",
                            initializer=initializer) as worker:
        def submit_next() -> tuple[T, Future] | None:
            for item in it:
                return item, worker.submit(prepare, item)
            return None

        pending = submit_next()
        while pending is not None:
            current, pending = pending, submit_next()  # the next one starts before the current is handed out
            yield current
