"""Run an iterator a few items ahead in a background thread.

Used wherever a loop alternates between producing input on the CPU (decoding
images, reading feature chunks from disk, converting float16 to float32) and
heavy kernels that release the GIL (torch, faiss): the next input is produced
while the current one is computed on. This module imports no mm* package.
"""
import queue
import threading
from typing import Iterable, Iterator, TypeVar

Item = TypeVar('Item')


def prefetch_in_thread(iterable: Iterable[Item],
                       depth: int = 2) -> Iterator[Item]:
    """Iterate ``iterable`` in a background thread, ``depth`` items ahead.

    At most ``depth`` items wait in the buffer while one more is being
    produced, so memory stays bounded by ``depth + 2`` items. An exception
    raised by ``iterable`` is re-raised here, at the position where it
    happened; closing the generator (``break``, garbage collection) stops the
    thread after the item it is producing.

    Args:
        iterable (Iterable): What to iterate (a DataLoader, chunks of a
            feature store).
        depth (int): Items buffered ahead. Defaults to 2.

    Yields:
        The items of ``iterable``, in order.
    """
    items: queue.Queue = queue.Queue(maxsize=max(1, int(depth)))
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in iterable:
                if not put((None, item)):
                    return
        except BaseException as exc:  # re-raised in the consumer
            put((exc, None))
            return
        put((None, done))

    thread = threading.Thread(target=produce, name='cf_mm-prefetch',
                              daemon=True)
    thread.start()
    try:
        while True:
            error, item = items.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        thread.join()
