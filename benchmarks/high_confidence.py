"""How to choose the high-confidence subset: gene precision and the share of reference genes kept,
for the final annotation and its subsets at a sweep of `deliver: min_confidence` thresholds, with and
without the read-evidence rule (every intron a read junction), on real genomes with a reference.

    # after the workflow ran on each genome (benchmarks/real_genomes.py runs them too):
    .venv/bin/python benchmarks/high_confidence.py --results results [--genomes micromonas human_chr16_hints ...]

A default is good when, on every genome, its subset's gene precision is clearly above the full set's
while it keeps a useful share of the reference genes the full set finds.
"""

import argparse
import tempfile
from pathlib import Path

import yaml
from common import ROOT

from genetune.core.fileio import read_table
from genetune.deliver.deliver import GENE_COLUMNS
from genetune.deliver.support import high_confidence
from genetune.evaluate.evaluate import evaluate_stages
from genetune.io.chunks import read_keys, seq_lengths
from genetune.io.gff import read_gff3, write_gff3

THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def sweep(results, genome):
    res = Path(results) / genome
    config = yaml.safe_load((ROOT / "config" / "species" / f"{genome}.yaml").read_text())
    reference = ROOT / config["reference"]
    lengths = seq_lengths(*read_keys(res / "genome.h5"))
    genes = read_gff3(res / "final" / "annotation.gff3", lengths)
    rows = {r["gene_id"]: r for r in read_table(res / "final" / "genes.tsv", GENE_COLUMNS, "gene table", "deliver")}
    subsets = {}
    for evidence in (True, False):
        for t in THRESHOLDS:
            # the workflow's own rule; without the evidence rule, confidence alone
            support = {g.gene_id: rows[g.gene_id] if evidence else {} for g in genes}
            subsets[(t, evidence)] = [g for g in genes if high_confidence(g, support[g.gene_id], t)]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for (t, evidence), keep in subsets.items():
            paths[f"{t}:{evidence}"] = Path(tmp) / f"{t}_{evidence}.gff3"
            write_gff3(keep, lengths, paths[f"{t}:{evidence}"], "sweep")
        result = evaluate_stages(reference, paths, res / "genome.h5")
    print(f"\n{genome}: gene precision / share of reference genes found / genes, by min_confidence")
    print(f"{'min_confidence':>15}{'with evidence=full':>32}{'confidence only':>32}")
    for t in THRESHOLDS:
        cells = []
        for evidence in (True, False):
            gene = {(r[0], r[1]): r for r in result.tables[f"{t}:{evidence}"]}[("gene", "gene")]
            cells.append(f"{gene[2]:.3f} / {gene[3]:.3f} / {gene[6]:>5}")
        print(f"{t:>15.2f}" + "".join(f"{c:>32}" for c in cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(ROOT / "results"))
    ap.add_argument("--genomes", nargs="+", default=["micromonas", "human_chr16_hints", "human_chr16"])
    a = ap.parse_args()
    for genome in a.genomes:
        if (Path(a.results) / genome / "final" / "genes.tsv").exists():
            sweep(a.results, genome)
        else:
            print(f"{genome}: no {a.results}/{genome}/final/genes.tsv (run the workflow first)")


if __name__ == "__main__":
    main()
