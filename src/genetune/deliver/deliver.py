"""What an annotator takes away beside the GFF3: the proteins, the CDS and the spliced transcripts
(FASTA, one record per transcript) and the same gene models as GTF.

FASTA records are named by the transcript ID, with the gene ID and the location in the description
(`gene=<id> loc=<seqid>:<start>-<end>(<strand>)`, 1-based inclusive). A CDS cut by a sequence end
carries `partial=5prime`/`3prime` (in the GFF3 and the FASTA description) and is translated from the
frame its GFF phase gives, never from its first base; a complete CDS translates from its start
codon, read M whatever amino acid it codes elsewhere (NCBI's rule), and its final stop codon is left
out of the protein. The code is NCBI's table `genetic_code` (genetic_code.py).

GTF (GTF2.2, as Ensembl and gffread write it): transcript, exon, CDS (without the stop codon, with
its frame), start_codon and stop_codon (complete ends only) lines, every one with gene_id and
transcript_id; positions 1-based inclusive.
"""

import dataclasses
from pathlib import Path

import numpy as np

from genetune.core.fileio import atomic_path
from genetune.deliver.genetic_code import translate
from genetune.io.fasta import LETTERS
from genetune.io.gff import cds_phases, sorted_by_position, write_gff3
from genetune.io.sequences import cds_sequences

FASTA_WIDTH = 60


def _letters(codes):
    return "".join(LETTERS[np.frombuffer(codes, np.uint8)]).upper()


def _description(t):
    partial = [name for name, flag in (("5prime", t.partial5), ("3prime", t.partial3)) if flag]
    text = f"gene={t.gene_id} loc={t.seqid}:{t.start + 1}-{t.end}({t.strand})"
    return text + (f" partial={','.join(partial)}" if partial else "")


def first_phase(t):
    """GFF phase of the 5'-most CDS segment: the bases before its first whole codon."""
    phases = t.cds_phases or cds_phases(t)
    return int(phases[0] if t.strand == "+" else phases[-1])


def protein(t, cds, table=1):
    """The protein of transcript t from its CDS letters (5'->3')."""
    coding = cds[first_phase(t) :] if t.partial5 else cds
    aa = translate(coding, table, first_is_start=not t.partial5)
    return aa[:-1] if not t.partial3 and aa.endswith("*") else aa


def _write_fasta(records, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for name, description, seq in records:
            fh.write(f">{name} {description}\n")
            for i in range(0, len(seq), FASTA_WIDTH):
                fh.write(seq[i : i + FASTA_WIDTH] + "\n")


def write_sequences(transcripts, genome_h5, out_faa, out_cds, out_mrna, table=1):
    """proteins.faa, cds.fna and mrna.fna of the coding transcripts, in genome order; returns the
    number of transcripts."""
    coding = [t for t in transcripts if t.cds]
    cds = cds_sequences(genome_h5, coding)
    mrna = cds_sequences(genome_h5, coding, part="exons")
    rows = []
    for k, t in enumerate(coding):
        letters = _letters(cds[k])
        rows.append((t.transcript_id, _description(t), letters, protein(t, letters, table), _letters(mrna[k])))
    _write_fasta([(n, d, p) for n, d, _, p, _ in rows], out_faa)
    _write_fasta([(n, d, c) for n, d, c, _, _ in rows], out_cds)
    _write_fasta([(n, d, m) for n, d, _, _, m in rows], out_mrna)
    return len(rows)


def _trim_stop(t):
    """The CDS segments without the stop codon's bases (_codon), genomic order."""
    stop = _codon(t, at_start=False)
    out = []
    for s, e in t.cds:
        for a, b in stop:  # the codon lies at the segment's 3' end, so at most one end is cut
            if a <= s < b:
                s = min(b, e)
            if a < e <= b:
                e = max(a, s)
        if s < e:
            out.append((s, e))
    return out


def _codon(t, at_start):
    """Genomic segments of the start (at_start) or stop codon of a complete end, ascending."""
    at_left = at_start == (t.strand == "+")  # start codon of + and stop codon of -: the genomic left end
    out, left = [], 3
    for s, e in t.cds if at_left else t.cds[::-1]:
        n = min(left, e - s)
        out.append((s, s + n) if at_left else (e - n, e))
        left -= n
        if not left:
            break
    return sorted(out)


def write_gtf(transcripts, seq_order, path, source="genetune"):
    """annotation.gtf of the coding transcripts (GTF2.2); seq_order: the sequence ids in genome order."""
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for t in sorted_by_position([t for t in transcripts if t.cds], seq_order):
            attrs = f'gene_id "{t.gene_id}"; transcript_id "{t.transcript_id}";'

            def line(kind, s, e, frame=".", t=t, attrs=attrs):
                fh.write(f"{t.seqid}\t{source}\t{kind}\t{s + 1}\t{e}\t.\t{t.strand}\t{frame}\t{attrs}\n")

            line("transcript", t.start, t.end)
            for s, e in t.exons:
                line("exon", s, e)
            coding = _trim_stop(t) if not t.partial3 else list(t.cds)
            phases = cds_phases(dataclasses.replace(t, cds=coding), (3 - first_phase(t)) % 3) if coding else []
            for (s, e), ph in zip(coding, phases):
                line("CDS", s, e, ph)
            if not t.partial5:
                for s, e in _codon(t, at_start=True):
                    line("start_codon", s, e, "0")
            if not t.partial3:
                for s, e in _codon(t, at_start=False):
                    line("stop_codon", s, e, "0")
    return path


FILES = {  # deliverable -> file name in final/ (the high-confidence set inserts .high_confidence)
    "gff3": "annotation.gff3",
    "gtf": "annotation.gtf",
    "faa": "proteins.faa",
    "cds": "cds.fna",
    "mrna": "mrna.fna",
    "genes": "genes.tsv",
}
GENE_COLUMNS = (
    "gene_id",
    "seqid",
    "start",
    "end",
    "strand",
    "score",
    "introns",
    "introns_supported",
    "exon_coverage",
    "coding_score",
    "evidence",
    "high_confidence",
)


def file_name(kind, high_confidence=False):
    name = FILES[kind]
    if not high_confidence:
        return name
    stem, _, suffix = name.rpartition(".")
    return f"{stem}.high_confidence.{suffix}"


def _write_genes_tsv(transcripts, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(GENE_COLUMNS) + "\n")
        for t in transcripts:
            row = {
                "gene_id": t.gene_id,
                "seqid": t.seqid,
                "start": t.start + 1,
                "end": t.end,
                "strand": t.strand,
                "score": "" if t.score is None else f"{t.score:g}",
                **t.attributes,
            }
            fh.write("\t".join(str(row.get(c, "")) for c in GENE_COLUMNS) + "\n")


def write_set(transcripts, lengths, genome_h5, out_dir, high_confidence, table, comments):
    """The GFF3, GTF, FASTA files and genes.tsv of one gene set."""
    name = {kind: Path(out_dir) / file_name(kind, high_confidence) for kind in FILES}
    write_gff3(transcripts, lengths, name["gff3"], "genetune", comments=comments)
    write_gtf(transcripts, list(lengths), name["gtf"])
    write_sequences(transcripts, genome_h5, name["faa"], name["cds"], name["mrna"], table)
    _write_genes_tsv(transcripts, name["genes"])
