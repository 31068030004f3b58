"""The training metrics table (metrics.tsv): long format, one row per (check, split, metric)."""

from pathlib import Path

from genetune.core.fileio import atomic_path

METRICS_HEADER = ("epoch", "step", "split", "metric", "value", "lr")


def write_metrics(rows, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(METRICS_HEADER) + "\n")
        for r in rows:
            fh.write(f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]:.6g}\t{r[5]:.6g}\n")


def read_metrics(path):
    """Rows of a metrics.tsv as dicts (value and lr as floats)."""
    lines = Path(path).read_text().splitlines()
    header = lines[0].split("\t")
    out = []
    for ln in lines[1:]:
        r = dict(zip(header, ln.split("\t")))
        r["epoch"], r["step"] = int(r["epoch"]), int(r["step"])
        r["value"], r["lr"] = float(r["value"]), float(r["lr"])
        out.append(r)
    return out
