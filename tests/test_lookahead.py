"""inference/lookahead.py: the next items are prepared on worker threads while the caller works on
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


def test_two_workers_prepare_two_items_at_once_and_hand_them_out_in_order():
    both_running = threading.Barrier(2, timeout=5)  # passes only when two prepares run at the same time
    threads = set()

    def prepare(i):
        threads.add(threading.current_thread().name)
        if i in (1, 2):  # prepared together while item 0 is handed out
            both_running.wait()
        time.sleep(0.05 if i % 2 else 0.0)  # odd items finish after the even ones started with them
        return i * i

    out = [(i, f.result()) for i, f in prepared_ahead(range(6), prepare, workers=2)]
    assert out == [(i, i * i) for i in range(6)]
    assert len(threads) == 2 and threading.current_thread().name not in threads


def test_two_workers_run_the_initializer_on_each_thread():
    initialised = []
    out = [f.result() for _, f in prepared_ahead(range(4), lambda i: threading.current_thread().name,
                                                 initializer=lambda: initialised.append(
                                                     threading.current_thread().name), workers=2)]
    assert set(out) <= set(initialised) and len(initialised) == len(set(initialised))


def test_stopping_early_with_two_workers_waits_for_both_in_flight_and_starts_no_more():
    finished, calls, lock = [], [], threading.Lock()

    def prepare(i):
        with lock:
            calls.append(i)
        time.sleep(0.2)
        with lock:
            finished.append(i)
        return i

    ahead = prepared_ahead(range(100), prepare, workers=2)
    for i, future in ahead:
        future.result()
        if i == 2:
            break
    ahead.close()
    # 3 was running; 4 was queued behind 2 and may have started on 2's thread before the stop
    assert sorted(calls) in ([0, 1, 2, 3], [0, 1, 2, 3, 4]) and sorted(finished) == sorted(calls)


def test_workers_must_be_a_positive_whole_number():
    with pytest.raises(ValueError, match="workers"):
        next(prepared_ahead(range(3), lambda i: i, workers=0))
