"""What every script shares: argument parsing, logging to stderr, one-line errors."""

import argparse
import ctypes
import json
import logging
import os
import re
import resource
import sys
import time
from pathlib import Path

import yaml

from genetune.core.errors import InputError


def _number(convert, ok, need):
    """An argparse type: `convert` the text, refuse it unless `ok(value)` (`need` says what is wanted)."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if convert is int else 'a number'}"
            ) from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text} {need}")
        return value

    return parse


positive_int = _number(int, lambda v: v >= 1, "must be >= 1")
non_negative_int = _number(int, lambda v: v >= 0, "must be >= 0")
fraction = _number(float, lambda v: 0 < v < 1, "must lie strictly between 0 and 1")


class _Parser(argparse.ArgumentParser):
    """A command-line mistake is one line and exit status 1, like every other user error."""

    def error(self, message):
        self.exit(1, f"error: {message} (see --help)\n")


def parser(description):
    p = _Parser(description=description)
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="CPU threads (torch's intra-op threads; worker threads for data steps)",
    )
    p.add_argument("--debug", action="store_true", help="show the traceback of an error in your input too")
    return p


def piece_options(p):
    p.add_argument("--piece", type=non_negative_int, help="scattered run: this piece (0-based) of --pieces")
    p.add_argument("--pieces", type=positive_int, help="scattered run: the genome's number of pieces")


def piece(args):
    """(k, n) of --piece/--pieces, or None for the whole genome."""
    if (args.piece is None) != (args.pieces is None):
        raise InputError("--piece and --pieces go together")
    if args.piece is None:
        return None
    if args.piece >= args.pieces:
        raise InputError(f"--piece {args.piece} is not one of 0..{args.pieces - 1} (--pieces {args.pieces})")
    return args.piece, args.pieces


# what to lower when a step runs out of memory (every step: or give its rule more memory, mem_mb)
MEMORY_SETTINGS = {
    "predict": "predict: batch_size (windows per forward pass), or scatter: pieces (less genome per job)",
    "finetune": "finetune: batch_size",
    "decode": "scatter: pieces (fewer sequences per job)",
}
_AMOUNT = re.compile(r"allocate (?:memory: you tried to allocate )?([0-9.]+ ?(?:[KMGTP]i?B|bytes))", re.I)


def memory_message(exc, step):
    """One sentence for an allocation failure (numpy's MemoryError, torch's CPU allocator, CUDA out of
    memory): the step, about how much it asked for, what to lower; None for any other error."""
    text = str(exc)
    cuda = "CUDA out of memory" in text or type(exc).__name__ == "OutOfMemoryError"
    if not (isinstance(exc, MemoryError) or cuda or "can't allocate memory" in text):
        return None
    amount = _AMOUNT.search(text)
    size = amount.group(1) if amount else "more than was free"
    if size.endswith("bytes"):
        size = f"{float(size.split()[0]) / 2**30:.2f} GiB"
    where = "GPU memory" if cuda else "memory"
    lower = MEMORY_SETTINGS.get(step, "the size of what it reads")
    return (
        f"{step}: out of {where} (it asked for {size}); lower {lower}, or give the job more memory "
        f"(the rule's mem_mb, e.g. --set-resources {step}:mem_mb=..., or a larger GPU)"
    )


# Problems with the user's files, settings or disk: one line, exit status 1. Anything else is a
# bug in genetune and keeps its traceback.
USER_ERRORS = (InputError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def run(main):
    """Call main(); a user error becomes one line on stderr and exit status 1 (--debug: traceback)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    t0 = time.time()
    try:
        main()
    except (MemoryError, RuntimeError) as exc:
        message = memory_message(exc, Path(sys.argv[0]).stem)
        if message is None or "--debug" in sys.argv:
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(1)
    except USER_ERRORS as exc:
        if "--debug" in sys.argv:
            raise
        message = str(exc)
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.filename}: {exc.strerror.lower() if exc.strerror else exc}"
        print(f"error: {message}", file=sys.stderr)
        if getattr(exc, "exit_at_once", False):
            sys.stderr.flush()
            sys.stdout.flush()
            os._exit(1)
        sys.exit(1)
    logging.getLogger("genetune").info("done in %.1f s, %s", time.time() - t0, peak_memory())


def peak_memory():
    """The step's peak resident memory, as the log's last line says it: what `mem_mb` must cover
    (benchmarks/memory.py reads it; Snakemake's benchmark sampling misses short peaks)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return f"peak memory {own + children:.0f} MB" + (f" ({children:.0f} MB in child processes)" if children else "")


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


def settings_source(value):
    """How errors name settings given as `value`: the file, or --settings for inline JSON."""
    return value if value and not value.lstrip().startswith("{") else "--settings"


def load_settings(value):
    """Settings from a YAML/JSON file path, or inline JSON (as Snakemake rules pass them); each
    settings dataclass's from_dict validates them against the config schema (genetune.core.settings)."""
    if value is None:
        data = {}
    elif value.lstrip().startswith("{"):
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InputError(f"--settings: not valid JSON ({exc.msg} at character {exc.pos})") from None
    else:
        try:
            with open(value) as fh:
                data = yaml.safe_load(fh) or {}
        except OSError as exc:
            raise InputError(f"{value}: cannot read settings ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise InputError(f"{value}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise InputError(f"{value}: settings must be a mapping of keys to values, not {type(data).__name__}")
    return data


def section_settings(value, section):
    """A script's config section from --settings (a YAML/JSON file or inline JSON): validated by the
    schema's `section`, the schema's defaults filled (the one place they are written)."""
    from genetune.core.settings import section_defaults, validate_section

    return {**section_defaults(section), **validate_section(section, load_settings(value), settings_source(value))}


def optional_input(p, flag, help):
    """An input file the workflow may have or not: `FLAG PATH`, or FLAG with nothing after it (a rule's
    empty input) or left out, both meaning none."""
    p.add_argument(flag, nargs="?", default=None, const=None, help=f"{help} (optional)")


def boolean(value):
    """A yes/no option as a rule writes a config value: true/false (any case), yes/no, 1/0."""
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"not true or false: {value!r}")
