#!/usr/bin/env python
"""The final annotation an annotator takes away: annotation.gff3 with locus tags and per-gene
confidence and evidence, its proteins.faa, cds.fna, mrna.fna (one record per transcript) and
annotation.gtf (GTF2.2), and the same for the high-confidence subset."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.deliver.final import deliver
from genetune.deliver.genetic_code import TABLES


def main():
    p = cli.parser(__doc__)
    p.add_argument("--gff3", required=True, help="the chosen stage's annotation.gff3")
    p.add_argument("--genome-h5", required=True)
    cli.optional_input(p, "--junctions", "junctions.tsv: read junctions, for introns_supported and evidence")
    cli.optional_input(p, "--coverage-h5", "coverage.h5: RNA-seq coverage, for exon_coverage")
    cli.optional_input(p, "--psauron-model", "PSAURON's model_state_dict.pt, for coding_score")
    p.add_argument("--prefix", required=True, help="locus-tag prefix (config naming: prefix)")
    p.add_argument("--genetic-code", type=int, default=1, choices=sorted(TABLES), help="NCBI translation table")
    p.add_argument("--settings", help="the config's deliver section (min_confidence): a YAML/JSON file or inline JSON")
    p.add_argument("--comment", action="append", default=[], help="a header line for the GFF3 (repeat)")
    p.add_argument(
        "--out-dir",
        required=True,
        help="final/: annotation.gff3, .gtf, proteins.faa, cds.fna, "
        "mrna.fna, genes.tsv, and the same with .high_confidence",
    )
    a = p.parse_args()
    s = cli.section_settings(a.settings, "deliver")
    n, high = deliver(
        a.gff3,
        a.genome_h5,
        a.out_dir,
        a.prefix,
        a.genetic_code,
        s["min_confidence"],
        junctions=a.junctions,
        coverage_h5=a.coverage_h5,
        psauron_model=a.psauron_model,
        comments=a.comment,
    )
    print(f"{n} genes, {high} of them high-confidence, in {a.out_dir}")


if __name__ == "__main__":
    cli.run(main)
