"""What every script shares: argument parsing, logging to stderr, one-line errors."""

import argparse
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
