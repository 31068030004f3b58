"""Who works on a folder. Snakemake's locks say only that some run holds a working directory, and a
run killed outright (kill -9 of the process group, a lost login node or ssh session) leaves them
behind; genetune records which run holds them (pid, host, start), so that the next run removes the
locks of a run that is gone and names one that is alive. The same record keeps two trainers off one
round's folder.

A process is alive when its pid exists on this host with the start time recorded (a pid reused by
another process does not count). A record from another host cannot be checked from here: it is
named, never removed.
"""

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from genetune.core.errors import InputError
from genetune.core.fileio import _write_error

RUNS = Path(".snakemake") / "genetune-runs"
LOCKS = Path(".snakemake") / "locks"


def _started(pid):
    """The start time of process `pid` in clock ticks since boot (/proc), or None where it is not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def me():
    pid = os.getpid()
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "ticks": _started(pid),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def alive(record):
    """True or False for a record of this host; None where it is another host's (cannot tell)."""
    if record.get("host") != socket.gethostname():
        return None
    started = _started(record["pid"])
    if started is None:
        return False
    return record.get("ticks") is None or started == record["ticks"]


def describe(record):
    return f"pid {record['pid']} on host {record['host']}, started {record['since']}"


def _records():
    out = []
    for path in sorted(RUNS.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            out.append((path, json.loads(path.read_text())))
    return out


def claim_run():
    """At the start of a real run (Snakemake's onstart, the locks held): record this run and its locks."""
    RUNS.mkdir(parents=True, exist_ok=True)
    others = {name for _, r in _records() if alive(r) is not False for name in r.get("locks", [])}
    record = {**me(), "locks": sorted(p.name for p in LOCKS.glob("*.lock") if p.name not in others)}
    path = RUNS / f"{record['pid']}@{record['host']}.json"
    path.write_text(json.dumps(record))


def release_run():
    """At the end of a run (onsuccess, onerror): its record goes."""
    mine = me()
    with contextlib.suppress(OSError):
        (RUNS / f"{mine['pid']}@{mine['host']}.json").unlink()


def clear_stale_locks():
    """Remove the Snakemake locks of recorded runs that are gone; return a line for each run found
    (removed, alive, or of another host) for the log."""
    lines = []
    for path, record in _records():
        state = alive(record)
        if state is False:
            for name in record.get("locks", []):
                with contextlib.suppress(OSError):
                    (LOCKS / name).unlink()
            path.unlink(missing_ok=True)
            lines.append(f"removed the locks of the run {describe(record)}, which is no longer running")
        elif state:
            lines.append(f"the run {describe(record)} is still at work in this folder; wait for it to end")
        else:
            lines.append(
                f"the run {describe(record)} holds this folder; if it is gone (`ps -p {record['pid']}` on "
                f"{record['host']} shows nothing), run `snakemake --unlock`, then the same command again"
            )
    return lines


@contextlib.contextmanager
def exclusive(lock_path, what):
    """Hold `lock_path` while the block runs: a second process is refused with one sentence naming
    the first; the lock of a process that is gone (this host) is taken over."""
    lock_path = Path(lock_path)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(lock_path.parent, exc) from None
    record = me()
    for _ in range(2):
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(lock_path.read_text())
            except (OSError, ValueError):
                holder = None
            if holder is not None and alive(holder) is not False:
                how = f"`ps -p {holder['pid']}` on {holder['host']} shows nothing"
                raise InputError(
                    f"{what}: already being done by {describe(holder)}; two at once would overwrite each other. "
                    f"Wait for it to end, or, if it is gone ({how}), delete {lock_path}"
                ) from None
            lock_path.unlink(missing_ok=True)  # its holder is gone (or the record is unreadable)
            continue
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        break
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)
