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

    def source():
        for i in range(100):
            produced.append(i)
            yield i

    items = prefetch_in_thread(source(), depth=2)
    assert next(items) == 0
    time.sleep(0.3)  # give the thread every chance to run ahead
    # Consumed 1; 2 wait in the buffer; 1 more may be produced and blocked.
    assert len(produced) <= 1 + 2 + 1
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
    # Producer and consumer each sleep 50 ms per item (sleep releases the
    # GIL, as torch and faiss kernels do): overlapped, 8 items take about
    # 8 x 50 ms, one after the other 8 x 100 ms.
    def source():
        for i in range(8):
            time.sleep(0.05)
            yield i

    tic = time.perf_counter()
    for _ in prefetch_in_thread(source()):
        time.sleep(0.05)
    assert time.perf_counter() - tic < 0.7
