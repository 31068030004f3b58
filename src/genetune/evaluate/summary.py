"""The numbers people check first about a gene set, the first pass beside the final annotation:
genes, mono-exonic share, exons per transcript, median gene, CDS, intron and protein lengths,
partial genes, read support and the high-confidence subset (from the final genes.tsv), and, with a
reference, the evaluation (gene and CDS-exon level). One figure: protein lengths of both."""

import numpy as np

from genetune.core.fileio import atomic_path, read_table
from genetune.deliver.deliver import GENE_COLUMNS, first_phase
from genetune.evaluate.evaluate import HEADER
from genetune.io.chunks import read_keys, seq_lengths
from genetune.io.gff import read_annotation

MEASURES = (
    "genes",
    "transcripts",
    "mono_exonic_share",
    "exons_per_transcript",
    "gene_length_median",
    "cds_length_median",
    "intron_length_median",
    "protein_length_median",
    "partial_genes",
    "full_read_support_share",
    "high_confidence_genes",
)
EVALUATION = (
    ("gene", "gene", "precision"),
    ("gene", "gene", "recall"),
    ("gene", "gene", "f1"),
    ("cds_exon", "cds_exon", "f1"),
)


def protein_lengths(transcripts):
    """Amino acids each CDS codes (its phase and, for a complete 3' end, the stop codon left out)."""
    skips = [first_phase(t) if t.partial5 else 0 for t in transcripts]
    out = [(t.coding_length - skip) // 3 - (0 if t.partial3 else 1) for t, skip in zip(transcripts, skips)]
    return np.asarray(out, dtype=np.float64)


def numbers(path, genome_h5, genes_tsv=None):
    """{measure: value} of an annotation (genes_tsv: the final annotation's support table)."""
    coding = [t for t in read_annotation(path, seq_lengths(*read_keys(genome_h5))).transcripts if t.cds]
    exons = np.array([len(t.exons) for t in coding], dtype=np.float64)
    introns = [e - s for t in coding for s, e in t.introns]

    def median(values):
        return float(np.median(values)) if len(values) else 0.0

    out = {
        "genes": len({(t.seqid, t.gene_id) for t in coding}),
        "transcripts": len(coding),
        "mono_exonic_share": float((exons == 1).mean()) if len(exons) else 0.0,
        "exons_per_transcript": float(exons.mean()) if len(exons) else 0.0,
        "gene_length_median": median([t.end - t.start for t in coding]),
        "cds_length_median": median([t.coding_length for t in coding]),
        "intron_length_median": median(introns),
        "protein_length_median": median(protein_lengths(coding)),
        "partial_genes": sum(1 for t in coding if t.partial5 or t.partial3),
    }
    if genes_tsv:
        rows = read_table(genes_tsv, GENE_COLUMNS, "gene table", "deliver.py")
        if any(r["evidence"] for r in rows):
            out["full_read_support_share"] = sum(r["evidence"] == "full" for r in rows) / max(1, len(rows))
        out["high_confidence_genes"] = sum(r["high_confidence"] == "yes" for r in rows)
    return out, protein_lengths(coding)


def evaluation(metrics_tsv, stage):
    """{name: value} of the stage's evaluation rows (gene precision/recall/F1, CDS-exon F1)."""
    table = read_table(metrics_tsv, HEADER, "evaluation table", "evaluate.py")
    rows = {(r["stage"], r["level"], r["feature"]): r for r in table}
    return {
        f"{level}_{column}": float(rows[(stage, level, feature)][column])
        for level, feature, column in EVALUATION
        if (stage, level, feature) in rows
    }


def write_summary(columns, path):
    """summary.tsv: one row per measure, one column per annotation ({name: {measure: value}})."""
    names = list(columns)
    measures = [m for m in MEASURES if any(m in c for c in columns.values())]
    measures += [m for m in dict.fromkeys(m for c in columns.values() for m in c) if m not in measures]
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(["measure", *names]) + "\n")
        for m in measures:
            cells = [columns[n].get(m, "") for n in names]
            fh.write("\t".join([m, *(f"{v:.4g}" if isinstance(v, float) else str(v) for v in cells)]) + "\n")


def plot_protein_lengths(lengths, out_svg):
    """Protein length histograms (log scale) of {name: protein_lengths(...)}."""
    from genetune.core.figures import plt, save_svg

    fig, ax = plt.subplots(figsize=(6, 3.6))
    top = max((v.max() for v in lengths.values() if len(v)), default=10)
    bins = np.logspace(0, np.log10(top + 1), 40)
    for name, values in lengths.items():
        if len(values):
            ax.hist(
                np.maximum(values, 1),
                bins=bins,
                histtype="step",
                label=f"{name} ({len(values)}, median {np.median(values):.0f} aa)",
            )
    ax.set(xscale="log", xlabel="protein length (aa)", ylabel="proteins", title="protein lengths")
    ax.legend(fontsize=7)
    save_svg(fig, out_svg)
