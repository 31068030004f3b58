"""Are two result folders the same? Text files byte for byte; HDF5 files dataset by dataset and
attribute by attribute (the files' own bytes hold creation times); checkpoints tensor by tensor
(their zip records hold times too). Logs and benchmark timings are not results and are skipped.

    .venv/bin/python benchmarks/same_outputs.py RESULTS_A RESULTS_B

Used for refactorings that must not change behaviour (issue 25: the demo before and after) and for
reruns that must match an uninterrupted run. Exit status 1 and one line per difference otherwise.
"""

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

TIMED = ("wall_s", "seconds", "elapsed", "time")  # columns and attributes that hold times, not results


def _h5_items(path):
    out = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
            out.update({f"{name}@{k}": v for k, v in obj.attrs.items() if not any(t in k for t in TIMED)})

        f.visititems(visit)
        out.update({f"/@{k}": v for k, v in f.attrs.items() if not any(t in k for t in TIMED)})
    return out


def _same_value(a, b):
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return False


def _pt_items(path):
    import torch

    def flatten(obj, prefix=""):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from flatten(v, f"{prefix}/{k}")
        elif isinstance(obj, torch.Tensor):
            yield prefix, obj.detach().cpu().numpy()
        else:
            yield prefix, obj

    return {
        k: v
        for k, v in flatten(torch.load(path, map_location="cpu", weights_only=False))
        if not any(t in k for t in TIMED)
    }


def _different_keys(ia, ib):
    return sorted(k for k in ia.keys() | ib.keys() if k not in ia or k not in ib or not _same_value(ia[k], ib[k]))


def differences(a: Path, b: Path):
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    for rel in sorted(files_a ^ files_b):
        yield f"{rel}: only in {a if rel in files_a else b}"
    for rel in sorted(files_a & files_b):
        pa, pb = a / rel, b / rel
        if rel.suffix == ".log" or "benchmark" in rel.parts:
            continue
        if rel.suffix in (".h5", ".pt"):
            items = _h5_items if rel.suffix == ".h5" else _pt_items
            bad = _different_keys(items(pa), items(pb))
            if bad:
                yield f"{rel}: {len(bad)} datasets, entries or attributes differ, first {bad[:3]}"
        elif pa.read_bytes() != pb.read_bytes():
            yield f"{rel}: bytes differ"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    args = ap.parse_args()
    n_files = sum(1 for p in args.a.rglob("*") if p.is_file())
    diffs = list(differences(args.a, args.b))
    for line in diffs:
        print(line)
    print(f"{n_files} files in {args.a}: {'the same' if not diffs else f'{len(diffs)} differ'}")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
