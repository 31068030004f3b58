"""What every script shares: argument parsing, logging to stderr, one-line errors."""

import argparse
import ctypes
import logging
import sys
import time

from .errors import InputError


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (torch's intra-op threads; worker threads for data steps)")
    return p


def run(main):
    """Call main(); an InputError (or missing file) becomes one line on stderr and exit status 1."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    t0 = time.time()
    try:
        main()
    except (InputError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    logging.getLogger("genetune").info("done in %.1f s", time.time() - t0)


def keep_freed_memory():
    """Ask glibc to keep freed memory for reuse: one arena for all threads, no trimming.

    A model step allocates and frees tens of MB per batch. By default glibc hands such blocks back
    to the kernel (per-thread arenas are trimmed, large blocks unmapped) and the next batch
    page-faults them in again: a fifth of prediction time was spent in the kernel. Peak memory
    stays what it was; it is only not returned between batches. No-op without glibc."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8  # malloc.h
    mallopt(m_arena_max, 1)
    mallopt(m_mmap_threshold, 1 << 30)  # fixing any threshold turns glibc's adaptive one off
    mallopt(m_trim_threshold, 2**31 - 1)


def load_settings(value):
    """Settings from a YAML/JSON file path, or inline JSON (as Snakemake rules pass them)."""
    import json

    import yaml
    if value is None:
        return {}
    if value.lstrip().startswith("{"):
        return json.loads(value)
    try:
        with open(value) as fh:
            return yaml.safe_load(fh) or {}
    except OSError as exc:
        raise InputError(f"{value}: cannot read settings ({exc.strerror})") from None
