#!/usr/bin/env python
"""final/provenance.yaml: what made a species' results (genetune's version, the complete validated config
and its sha256). A rule of its own, so a config change reruns only the rules that read what changed;
each computing rule records the settings that shaped its own output."""

import hashlib
import json

import _bootstrap  # noqa: F401
import yaml

from genetune import __version__
from genetune.core import cli
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path


def main():
    p = cli.parser(__doc__)
    p.add_argument("--config-json", required=True, help="the species' complete config as JSON")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    try:
        config = json.loads(a.config_json)
    except json.JSONDecodeError as exc:
        raise InputError(f"--config-json: not valid JSON ({exc.msg})") from None
    text = json.dumps(config, sort_keys=True, default=str)
    record = {"genetune": __version__, "config_sha256": hashlib.sha256(text.encode()).hexdigest(), "config": config}
    with atomic_path(a.out) as tmp, open(tmp, "w") as fh:
        yaml.safe_dump(record, fh, sort_keys=False)
    print(f"config sha256 {record['config_sha256']} -> {a.out}")


if __name__ == "__main__":
    cli.run(main)
