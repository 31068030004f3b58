"""Atomic outputs: write to a temporary name beside the target, rename on success.

Nothing is half-written: on any error the temporary file is removed, and so are the folders the
write created; a killed job's temporary file (`.<name>.tmp<pid>` of a process no longer alive)
is removed by the next write of the same target. Writing into a read-only folder or onto a full
disk is one InputError naming the path.
"""

import contextlib
import errno
import gzip
import hashlib
import os
from pathlib import Path

from genetune.core.errors import InputError

WRITE_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
}


def sha256(path) -> str:
    """Hex sha256 of a file, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(path):
    """Remove `.<name>.tmp<pid>` files beside `path` whose process is gone (a killed earlier run)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    prefix = f".{path.name}.tmp"
    for p in path.parent.iterdir():
        if p.name.startswith(prefix) and p.name[len(prefix) :].isdigit():
            pid = int(p.name[len(prefix) :])
            if pid != os.getpid() and not _alive(pid):
                with contextlib.suppress(OSError):
                    p.unlink() if p.is_file() else None
                    removed.append(p)
    return removed


def _missing_parents(path):
    out, p = [], path.parent
    while not p.exists():
        out.append(p)
        p = p.parent
    return out


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path; on success it is renamed to `path`, on error it is removed (and the
    folders made for it)."""
    path = Path(path)
    made = _missing_parents(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(path, exc) from None
    remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    ok = False
    try:
        try:
            yield tmp
            os.replace(tmp, path)
            ok = True
        except (OSError, RuntimeError, ValueError) as exc:
            # torch.save and HDF5 may report a full disk in their own words (an iostream error, an
            # unexpected position, "errno = 28"), not as OSError(ENOSPC)
            known = isinstance(exc, OSError) and exc.errno in WRITE_ERRORS
            code = exc.errno if known else _out_of_space(tmp, exc)
            if code:
                raise _write_error(path, OSError(code, os.strerror(code)), during_write=True) from None
            raise
    finally:
        if tmp.exists():
            tmp.unlink()
        if not ok:
            for d in made:  # innermost first; only the empty ones this write created
                with contextlib.suppress(OSError):
                    d.rmdir()


SPACE_WORDS = {  # how libraries word a full disk or quota when they do not raise OSError(ENOSPC)
    errno.ENOSPC: ("no space left", "errno = 28"),
    errno.EDQUOT: ("quota exceeded", "errno = 122"),
}


def _out_of_space(tmp, exc):
    """ENOSPC or EDQUOT when `exc`, raised while writing `tmp`, came from a full disk or quota: its
    message says so, or the folder's file system has (next to) no free blocks left. Else None."""
    text = " ".join(str(e) for e in (exc, exc.__cause__, exc.__context__) if e).lower()
    for code, words in SPACE_WORDS.items():
        if any(w in text for w in words):
            return code
    try:
        st = os.statvfs(Path(tmp).parent)
    except OSError:
        return None
    return errno.ENOSPC if st.f_bavail * st.f_frsize < (1 << 20) else None


def _write_error(path, exc, during_write=False):
    why = WRITE_ERRORS.get(exc.errno, exc.strerror or str(exc))
    err = InputError(f"{path}: cannot write it ({why}); free space or choose another output folder")
    # HDF5 objects of a file whose close failed on a full disk crash the interpreter when they are
    # freed at exit (h5py): the script ends at once after reporting this (cli.run)
    err.exit_at_once = during_write and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return err


def open_h5(path, mode="r"):
    """An input HDF5 file, opened with one clear error when it is missing, a folder, not HDF5, or
    truncated (a full disk or a killed job)."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an HDF5 file")
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        text = str(exc)
        why = (
            "truncated: it was cut short, by a full disk or a killed job; make it again"
            if "truncated" in text
            else "not an HDF5 file"
            if "signature" in text
            else text
        )
        raise InputError(f"{path}: cannot be read as HDF5 ({why})") from None


def require(h5, path, *names, what=""):
    """Fail with one sentence unless every dataset in `names` is in the open file."""
    missing = [n for n in names if n not in h5]
    if missing:
        kind = f" (is it {what}?)" if what else ""
        raise InputError(f"{path}: has no {', '.join(missing)}{kind}")


def _is_gzip(path):
    """gzip and bgzip both start with the gzip magic bytes."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_text(path):
    """Open plain or gzip/bgzip text."""
    return gzip.open(path, "rt") if _is_gzip(path) else open(path)


def open_binary(path):
    """Open plain or gzip/bgzip bytes (buffered for streaming)."""
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb", buffering=1 << 20)


def read_table(path, columns, what, maker):
    """The rows (dicts by column) of a tab-separated table with the header `columns`, written by
    `maker`; one clear error when it cannot be read, has another header or a short row."""
    try:
        lines = open(path).read().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    if not lines or tuple(lines[0].split("\t")) != tuple(columns):
        raise InputError(f"{path}: not a {what} of {maker} (columns {', '.join(columns)})")
    rows = []
    for k, line in enumerate(lines[1:], 2):
        if not line:
            continue
        cols = line.split("\t")
        if len(cols) != len(columns):
            raise InputError(f"{path} line {k}: needs {len(columns)} tab-separated columns, not {len(cols)}")
        rows.append(dict(zip(columns, cols)))
    return rows
