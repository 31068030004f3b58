"""Evidence on part of a genome, scored on the rest: the demo species with its RNA-seq on chr1 only
(config/species/demo_reads_chr1.yaml), every stage scored on chr2-chr4, where no read ever reached
the decoder, beside the final check's table and the round verdicts. The final must be chosen
automatically and beat the first pass there.

    python benchmarks/partial_evidence.py [--config config/species/demo_reads_chr1.yaml] [--keep DIR]
"""

import argparse
from pathlib import Path

import yaml
from common import ROOT, work_dir
from real_genomes import LEVELS, _link_checkout, print_taxonomy, run_workflow, scores

from genetune.io.gff import read_gff3, write_gff3


def on_sequences(gff3, seqids, lengths, out):
    """The genes of gff3 on the given sequences, as GFF3."""
    write_gff3([t for t in read_gff3(gff3) if t.seqid in seqids], {s: lengths[s] for s in seqids}, out, "subset")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--config",
        type=Path,
        default=Path("config/species/demo_reads_chr1.yaml"),
        help="a species config under config/species/ whose demo_inputs have read_contigs",
    )
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--keep", type=Path)
    a = p.parse_args()
    cfg = yaml.safe_load((ROOT / a.config).read_text())
    species = cfg["species"]
    read_contigs = set(cfg["demo_inputs"][species]["read_contigs"])
    with work_dir(a.keep, "genetune-partial-") as work:
        _link_checkout(work)
        wall = run_workflow(work, a.config.stem, a.cores)
        res = work / "results" / species
        from genetune.io.chunks import read_keys, seq_lengths

        lengths = seq_lengths(*read_keys(res / "genome.h5"))
        scored = [s for s in lengths if s not in read_contigs]
        stages = {"first pass": res / "first_pass/annotation.gff3"}
        stages.update(
            {
                f"round {r}": res / f"round{r}/annotation.gff3"
                for r in range(1, 10)
                if (res / f"round{r}/annotation.gff3").exists()
            }
        )
        stages["final"] = res / "final/annotation.gff3"
        subset = {k: on_sequences(v, scored, lengths, work / f"{k.replace(' ', '_')}.gff3") for k, v in stages.items()}
        reference = on_sequences(work / cfg["reference"], scored, lengths, work / "reference.gff3")
        table = scores(reference, subset, res / "genome.h5")
        print(f"{species}: reads on {', '.join(sorted(read_contigs))}; scored on {', '.join(scored)}")
        print(f"{'':<14}{'gene F1':>9}{'transcr.':>9}{'CDS-exon':>9}{'base':>7}{'genes':>7}")
        for label, (f1, n, _) in table.items():
            print(f"{label:<14}" + "".join(f"{f1[lvl]:>9.3f}" for lvl in LEVELS[:3]) + f"{f1[LEVELS[3]]:>7.3f}{n:>7}")
        print_taxonomy(species, table)
        print(f"\nthe final check (results/{species}/final/rounds.tsv)\n{(res / 'final/rounds.tsv').read_text()}")
        for verdict in sorted(res.glob("round*/verdict.tsv")):
            print(f"{verdict.relative_to(res)}: {verdict.read_text().splitlines()[1]}")
        first, final = table["first pass"][0], table["final"][0]
        gain = {lvl: final[lvl] - first[lvl] for lvl in LEVELS[:3]}
        print(
            f"final - first pass where no read reached: gene F1 {gain['gene', 'gene']:+.3f}, "
            f"CDS-exon F1 {gain['cds_exon', 'cds_exon']:+.3f}"
        )
        print(f"whole workflow: {wall:.0f} s on {a.cores} cores")


if __name__ == "__main__":
    main()
