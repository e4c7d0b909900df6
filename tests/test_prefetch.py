"""prefetch_in_thread: order, bounded look-ahead, errors, early close."""
import threading
import time

import pytest

from cf_mm.prefetch import prefetch_in_thread


def test_yields_every_item_in_order():
    assert list(prefetch_in_thread(iter(range(1000)), depth=3)) == list(
        range(1000))
    assert list(prefetch_in_thread([])) == []


def test_producer_runs_at_most_depth_plus_one_ahead():
    produced = []
    blocked = threading.Event()

    def source():
        for i in range(100):
            produced.append(i)
            if i == 3:
                blocked.set()  # item 3 produced: the buffer is full now
            yield i

    items = prefetch_in_thread(source(), depth=2)
    assert next(items) == 0
    # Wait (without a deadline that a busy machine could miss) until the
    # thread has filled the buffer, then give it time to overrun it.
    assert blocked.wait(timeout=60)
    time.sleep(0.2)
    # Consumed 1; 2 wait in the buffer; 1 more may be produced and blocked.
    assert len(produced) == 1 + 2 + 1
    assert list(items) == list(range(1, 100))


def test_error_is_raised_where_it_happened():

    def source():
        yield 'a'
        yield 'b'
        raise KeyError('bad sample 2')

    items = prefetch_in_thread(source())
    assert next(items) == 'a'
    assert next(items) == 'b'
    with pytest.raises(KeyError, match='bad sample 2'):
        next(items)


def test_closing_early_stops_the_thread():
    before = threading.active_count()
    items = prefetch_in_thread(iter(range(10**9)), depth=1)
    assert next(items) == 0
    items.close()  # what `break` + garbage collection do
    assert threading.active_count() == before


def test_overlaps_production_with_consumption():
    """While the consumer works on item i, the thread produces item i + 1.

    Shown with events rather than wall time: the consumer holds item 0 until
    the producer has started item 1, which only a producer running ahead
    (in another thread) can do. A generous timeout turns a hang into a
    failure; a loaded machine only makes the wait longer."""
    started = [threading.Event() for _ in range(4)]

    def source():
        for i in range(4):
            started[i].set()
            yield i

    for item in prefetch_in_thread(source(), depth=1):
        if item + 1 < len(started):
            assert started[item + 1].wait(timeout=60), (
                f'item {item + 1} was not produced while item {item} was '
                'being consumed')
