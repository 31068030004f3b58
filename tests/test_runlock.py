"""Who works on a folder: the locks of a run that is gone are removed, a live one is named, and two
trainers never share a round's folder."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from genetune.core import runlock
from genetune.core.errors import InputError


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # reaped: no process has it now (pids are not reused this fast)


def test_the_locks_of_a_run_that_is_gone_are_removed_and_a_live_one_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runlock.LOCKS.mkdir(parents=True)
    runlock.RUNS.mkdir(parents=True)
    for name in ("0.input.lock", "0.output.lock", "1.input.lock"):
        (runlock.LOCKS / name).write_text("x\n")
    host = socket.gethostname()
    dead = {"pid": _dead_pid(), "host": host, "ticks": 1, "since": "then", "locks": ["0.input.lock", "0.output.lock"]}
    live = {**runlock.me(), "locks": ["1.input.lock"]}
    other = {"pid": 1, "host": "elsewhere", "ticks": 1, "since": "then", "locks": []}
    for record in (dead, live, other):
        (runlock.RUNS / f"{record['pid']}@{record['host']}.json").write_text(json.dumps(record))
    lines = runlock.clear_stale_locks()
    assert sorted(p.name for p in runlock.LOCKS.iterdir()) == ["1.input.lock"]
    assert any(f"removed the locks of the run pid {dead['pid']}" in line for line in lines)
    assert any("still at work" in line and str(os.getpid()) in line for line in lines)
    assert any("host elsewhere" in line and "snakemake --unlock" in line for line in lines)


def test_a_reused_pid_is_no_live_run():
    record = {**runlock.me(), "ticks": runlock.me()["ticks"] + 1}  # this pid, another start time
    assert runlock.alive(record) is False and runlock.alive(runlock.me()) is True


def test_a_second_trainer_is_refused_naming_the_first_and_a_dead_ones_lock_is_taken_over(tmp_path):
    lock = tmp_path / ".finetune.trainer.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(runlock.__file__.rsplit("/genetune/", 1)[0])!r})
        from genetune.core.runlock import exclusive
        with exclusive({str(lock)!r}, "fine-tuning"):
            print("holding", flush=True)
            time.sleep(60)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(InputError, match=rf"already being done by pid {holder.pid} on host .*ps -p {holder.pid}"):
            with runlock.exclusive(lock, "fine-tuning"):
                pass
    finally:
        holder.kill()
        holder.wait()
    assert lock.exists()  # killed with -9: its lock stays behind ...
    with runlock.exclusive(lock, "fine-tuning"):  # ... and is taken over
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()
