"""Gene statistics of annotations (first pass, final, reference) for the report: counts of genes,
transcripts and exons, and the length distributions of genes, CDS and introns."""

import numpy as np

from genetune.core.fileio import atomic_path
from genetune.io.chunks import read_keys, seq_lengths
from genetune.io.gff import read_annotation

STAT_COLUMNS = (
    "annotation",
    "genes",
    "coding_transcripts",
    "transcripts_per_gene",
    "exons_per_transcript",
    "single_exon_share",
    "gene_length_median",
    "gene_length_p10",
    "gene_length_p90",
    "cds_length_median",
    "intron_length_median",
    "intron_length_p10",
    "intron_length_p90",
)


def lengths_of(path, genome_h5):
    """(gene lengths, CDS lengths, intron lengths, exons per transcript, transcripts per gene)."""
    annotation = read_annotation(path, seq_lengths(*read_keys(genome_h5)))
    coding = [t for t in annotation.transcripts if t.cds]
    genes = {}
    for t in coding:
        genes.setdefault((t.seqid, t.gene_id), []).append(t)
    gene_len = [max(t.end for t in ts) - min(t.start for t in ts) for ts in genes.values()]
    cds_len = [t.coding_length for t in coding]
    introns = [e - s for t in coding for s, e in t.introns if t.exons[0][0] <= s and e <= t.exons[-1][1]]
    exons = [len(t.exons) for t in coding]
    per_gene = [len(ts) for ts in genes.values()]
    return [np.asarray(v, dtype=np.float64) for v in (gene_len, cds_len, introns, exons, per_gene)]


def gene_stats(lengths):
    """One row (dict, STAT_COLUMNS) per annotation of {name: lengths_of(...)}."""
    rows = []
    for name, (gene_len, cds_len, introns, exons, per_gene) in lengths.items():

        def q(a, p):
            return float(np.percentile(a, p)) if len(a) else 0.0

        rows.append(
            {
                "annotation": name,
                "genes": len(gene_len),
                "coding_transcripts": len(cds_len),
                "transcripts_per_gene": float(per_gene.mean()) if len(per_gene) else 0.0,
                "exons_per_transcript": float(exons.mean()) if len(exons) else 0.0,
                "single_exon_share": float((exons == 1).mean()) if len(exons) else 0.0,
                "gene_length_median": q(gene_len, 50),
                "gene_length_p10": q(gene_len, 10),
                "gene_length_p90": q(gene_len, 90),
                "cds_length_median": q(cds_len, 50),
                "intron_length_median": q(introns, 50),
                "intron_length_p10": q(introns, 10),
                "intron_length_p90": q(introns, 90),
            }
        )
    return rows


def write_stats(rows, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(STAT_COLUMNS) + "\n")
        for r in rows:
            fh.write("\t".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in STAT_COLUMNS) + "\n")


def plot_lengths(lengths, out_svg):
    """Histograms of gene, CDS and intron lengths (log scale) and of exons per transcript, for
    {name: lengths_of(...)}."""
    from genetune.core.figures import plt, save_svg

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for name, (gene_len, cds_len, introns, exons, _) in lengths.items():
        for ax, values, title in (
            (axes[0], gene_len, "gene length (bp)"),
            (axes[1], cds_len, "CDS length (bp)"),
            (axes[2], introns, "intron length (bp)"),
        ):
            if len(values):
                bins = np.logspace(np.log10(max(1, values.min())), np.log10(values.max() + 1), 30)
                ax.hist(values, bins=bins, histtype="step", label=f"{name} ({len(values)})")
            ax.set(xscale="log", title=title, ylabel="count")
        if len(exons):
            axes[3].hist(exons, bins=np.arange(0.5, min(40, exons.max()) + 1.5), histtype="step", label=name)
        axes[3].set(title="exons per transcript", ylabel="count")
    for ax in axes:
        ax.legend(fontsize=7)
    save_svg(fig, out_svg)
