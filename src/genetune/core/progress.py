"""Progress bars for long steps, on stderr (the rule's log)."""

import sys

from tqdm import tqdm


def progress(iterable=None, **kwargs):
    """A tqdm progress bar refreshed at most every 10 s and shown only once a step has run 2 s, so
    that bad input that fails at once prints its one error line and nothing else. Use it as a
    context manager (or iterate it to the end)."""
    return tqdm(iterable, file=sys.stderr, mininterval=10, delay=2, **kwargs)


def tracked(iterable, **kwargs):
    """Iterate with a progress bar that is closed however the loop ends."""
    with progress(iterable, **kwargs) as bar:
        yield from bar
