"""The final annotation, made from the chosen stage's gene models: locus tags (naming.py), per-gene
confidence and evidence (support.py), and every deliverable of the full set and of its high-confidence
subset (deliver.py's writers)."""

import dataclasses

from genetune.deliver import support
from genetune.deliver.deliver import write_set
from genetune.deliver.naming import locus_tags
from genetune.evidence import splicing
from genetune.io.chunks import read_keys, seq_lengths
from genetune.io.gff import read_gff3


def _header(path):
    """The `# ` comment lines at the head of a GFF3 (what made it)."""
    out = []
    with open(path) as fh:
        for line in fh:
            if line.startswith("# "):
                out.append(line[2:].rstrip("\n"))
            elif not line.startswith("#"):
                break
    return out


def deliver(
    gff3,
    genome_h5,
    out_dir,
    prefix,
    table=1,
    min_confidence=0.0,
    junctions=None,
    coverage_h5=None,
    psauron_model=None,
    comments=(),
):
    """final/: the chosen annotation with locus tags and support attributes, its sequences, GTF and
    gene table, and the same for its high-confidence subset. Returns (genes, high-confidence genes)."""
    from genetune.deliver import protein_score  # torch: only where PSAURON scores

    lengths = seq_lengths(*read_keys(genome_h5))
    transcripts = locus_tags([t for t in read_gff3(gff3, lengths) if t.cds], list(lengths), prefix)
    rows = support.annotate(
        transcripts,
        junctions=splicing.read_tsv(junctions) if junctions else None,
        coverage_h5=coverage_h5,
        psauron=protein_score.load(psauron_model) if psauron_model else None,
        genome_h5=genome_h5,
    )
    named = []
    for t, row in zip(transcripts, rows):
        row["high_confidence"] = "yes" if support.high_confidence(t, row, min_confidence) else "no"
        named.append(dataclasses.replace(t, attributes={**t.attributes, **row}))
    header = _header(gff3) + list(comments) + [support.HEADER]
    write_set(named, lengths, genome_h5, out_dir, False, table, header)
    high = [t for t in named if t.attributes["high_confidence"] == "yes"]
    write_set(
        high,
        lengths,
        genome_h5,
        out_dir,
        True,
        table,
        header + [f"high-confidence subset: evidence=full or score >= {min_confidence:g}"],
    )
    return len(named), len(high)
