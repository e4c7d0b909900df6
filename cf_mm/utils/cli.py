"""Command-line helpers: argument types naming their rule, one-line errors.

Framework-free (standard library only).
"""
import argparse
import sys
from typing import Callable, List

from .atomic import WriteError
from .lock import LockHeldError

# Errors that mean bad input (a file, an argument, a busy directory) or an
# output that cannot be written (a full disk, a file-size limit; the message
# names the file): the tools print them as one line instead of a traceback.
USER_ERRORS = (ValueError, FileNotFoundError, LockHeldError, WriteError)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'must be an integer >= 1, got {text!r}') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def int_at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'must be an integer >= {minimum}, got {text!r}') from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f'must be >= {minimum}, got {value}')
        return value

    return parse


def probability(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'must be a number in [0, 1], got {text!r}') from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f'must be in [0, 1], got {text}')
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'must be a number > 0, got {text!r}') from None
    if not value > 0 or value == float('inf'):
        raise argparse.ArgumentTypeError(f'must be > 0, got {text}')
    return value


def positive_float_list(text: str) -> List[float]:
    """argparse type: comma-separated numbers, each > 0."""
    items = [t.strip() for t in text.split(',') if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f'names no number: {text!r}')
    out = []
    for item in items:
        try:
            out.append(positive_float(item))
        except argparse.ArgumentTypeError as err:
            raise argparse.ArgumentTypeError(
                f'every value {err} (in {text!r})') from None
    return out


def positive_int_list(text: str) -> List[int]:
    """argparse type: comma-separated integers, each >= 1."""
    items = [t.strip() for t in text.split(',') if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f'names no integer: {text!r}')
    out = []
    for item in items:
        try:
            out.append(positive_int(item))
        except argparse.ArgumentTypeError as err:
            raise argparse.ArgumentTypeError(
                f'every value {err} (in {text!r})') from None
    return out


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line.

    An exception re-raised from a DataLoader worker carries the worker's
    whole traceback; its last line is the original ``Type: message``.
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    if 'Original Traceback' in str(err):
        return lines[-1]
    return ' '.join(lines)


def run_main(main: Callable[[], object]) -> None:
    """Run a tool's ``main``; bad input exits 2 with ``error: <one line>``.

    An integer returned by ``main`` is the exit status; anything else
    (a result a test may use) means success.
    """
    try:
        code = main()
    except USER_ERRORS as err:
        print(f'error: {one_line(err)}', file=sys.stderr)
        sys.exit(2)
    if isinstance(code, int) and not isinstance(code, bool) and code:
        sys.exit(code)
