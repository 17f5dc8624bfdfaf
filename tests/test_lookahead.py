"""inference/lookahead.py: the next item is prepared on one worker thread while the caller works on
the current one; order, errors and early stops behave as in a plain loop."""
import threading
import time

import pytest

from maskhand.inference.lookahead import prepared_ahead


def test_items_come_in_order_each_prepared_once_on_one_worker_thread():
    threads, seen = set(), []

    def prepare(i):
        threads.add(threading.current_thread().name)
        seen.append(i)
        return i * i

    out = [(i, f.result()) for i, f in prepared_ahead(range(6), prepare)]
    assert out == [(i, i * i) for i in range(6)]
    assert seen == list(range(6))
    assert len(threads) == 1 and threading.current_thread().name not in threads


def test_the_next_item_is_prepared_while_the_caller_works_on_the_current_one():
    started = {i: threading.Event() for i in range(3)}

    def prepare(i):
        started[i].set()
        return i

    for i, future in prepared_ahead(range(3), prepare):
        assert future.result() == i
        if i + 1 < 3:  # the caller has not asked for item i+1 yet, but its prepare is under way
            assert started[i + 1].wait(5), f"item {i + 1} was not started while item {i} was handed out"


def test_a_failure_is_raised_by_its_own_items_result_and_the_rest_go_on():
    def prepare(i):
        if i == 1:
            raise ValueError("unreadable")
        return i

    results = []
    for i, future in prepared_ahead(range(3), prepare):
        try:
            results.append(future.result())
        except ValueError as err:
            results.append(str(err))
    assert results == [0, "unreadable", 2]


def test_stopping_early_waits_for_the_prepare_in_flight_and_starts_no_more():
    finished, calls = [], []

    def prepare(i):
        calls.append(i)
        time.sleep(0.2)
        finished.append(i)
        return i

    ahead = prepared_ahead(range(100), prepare)
    for i, future in ahead:
        future.result()
        if i == 2:
            break
    ahead.close()
    assert calls == [0, 1, 2, 3] and finished == calls  # item 3 was in flight: it finished, 4 never began


def test_an_empty_input_gives_nothing():
    assert list(prepared_ahead([], pytest.fail)) == []
