"""Pseudolabel genes checked against the read junctions: what the reads show is taught, what they
contradict is corrected or masked, never taught as the network called it.

A junction is well supported when at least `min_reads` reads show it and at least MINOR_SHARE of the
reads of every junction it overlaps on its strand (a rare alternative splice is no contradiction).
For every decoded coding gene on the junction's strand:
  - every intron a junction: `supported` (select gives these genes a larger sample weight);
  - a junction inside the gene's CDS span that the gene contradicts (an intron with a shifted
    splice site, or an intron the gene reads through as exon): the gene's introns that overlap such
    junctions are replaced by the junctions (`corrected`), when the result is still a gene: junctions
    that do not overlap each other, introns of at least `min_intron` bases, a CDS whose length stays a
    multiple of three and holds no stop codon before its end. Otherwise the gene is `masked` (its
    bases get sample weight 0) with the reason;
  - a junction with one end inside the gene and the other outside (two genes the reads join, or a
    gene the reads extend): `masked`, because a split gene or a merged one cannot be fixed from one
    intron;
  - no junction: `unsupported`, left as the network called it.
A well-supported junction inside no gene on its strand (`unexplained_junction`) is masked too: the
labels call that stretch intergenic, and the reads show it transcribed and spliced.
"""

import dataclasses
import logging

import numpy as np

from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, read_table
from genetune.core.intervals import any_overlap
from genetune.evidence.splicing import intron_keys
from genetune.io.fasta import CODE, STOP_CODON_SEQS
from genetune.io.sequences import cds_sequences

log = logging.getLogger("genetune.correct")
COLUMNS = ("seqid", "strand", "start", "end", "gene_id", "action", "reason")
ACTIONS = ("supported", "corrected", "masked", "unsupported", "unexplained_junction")
_STOPS = {bytes(int(CODE[ord(b)]) for b in codon) for codon in STOP_CODON_SEQS}
MINOR_SHARE = 0.1  # a junction with fewer reads than this share of an overlapping one is a minor splice form


def well_supported(junctions, min_reads):
    """Sorted (seqid, strand, start, end) of the junctions with >= min_reads reads and at least
    MINOR_SHARE of the reads of each junction they overlap on their strand."""
    by_strand = {}
    for j in junctions:
        if j[4] >= min_reads:
            by_strand.setdefault((j[0], j[1]), []).append((j[2], j[3], j[4]))
    out = []
    for (seqid, strand), js in by_strand.items():
        js.sort()
        starts = np.array([a for a, _, _ in js])
        longest = max(b - a for a, b, _ in js)
        for a, b, n in js:
            lo, hi = np.searchsorted(starts, a - longest), np.searchsorted(starts, b)
            strongest = max(n2 for a2, b2, n2 in js[lo:hi] if b2 > a)
            if n >= MINOR_SHARE * strongest:
                out.append((seqid, strand, a, b))
    return sorted(out)


def _replace_introns(t, junctions):
    """The transcript with its introns that overlap any of `junctions` replaced by them (exons and
    CDS re-cut from the same span), or None when a junction reaches outside the CDS span."""
    lo, hi = t.cds[0][0], t.cds[-1][1]
    if any(j0 <= lo or j1 >= hi for j0, j1 in junctions):
        return None
    introns = [
        iv for iv in zip([e for _, e in t.exons[:-1]], [s for s, _ in t.exons[1:]]) if not any_overlap([iv], junctions)
    ]
    introns = sorted(introns + list(junctions))
    exons, pos = [], t.exons[0][0]
    for i0, i1 in introns:
        exons.append((pos, i0))
        pos = i1
    exons.append((pos, t.exons[-1][1]))
    cds = [(max(s, lo), min(e, hi)) for s, e in exons if min(e, hi) > max(s, lo)]
    return dataclasses.replace(t, exons=exons, cds=cds, cds_phases=[], intron_exons=None)


def _frame_problem(t, sequence):
    """Why the coding sequence (codes, 5'->3') is no gene, or None."""
    if len(sequence) % 3:
        return f"the corrected CDS is {len(sequence)} bp, not a multiple of 3 (the junction shifts the frame)"
    codons = [sequence[i : i + 3] for i in range(0, len(sequence) - 3, 3)]
    if any(c in _STOPS for c in codons):
        return "the corrected CDS has a stop codon before its end"
    return None


def correct_genes(transcripts, junctions, genome_h5, min_reads=3, min_intron=30):
    """(genes with corrections applied, one row per gene and unexplained junction: COLUMNS).
    junctions: rows (seqid, strand, start, end, reads); genes stay in their input order."""
    good = well_supported(junctions, min_reads)
    by_strand = {}
    for j in good:
        by_strand.setdefault((j[0], j[1]), []).append((j[2], j[3]))
    starts = {k: np.array([a for a, _ in v]) for k, v in by_strand.items()}
    longest = {k: max(b - a for a, b in v) for k, v in by_strand.items()}
    explained = set()
    out, rows, candidates = [], [], {}
    for k, t in enumerate(transcripts):
        key = (t.seqid, t.strand)
        js = by_strand.get(key, [])
        if t.cds and js:
            first = int(np.searchsorted(starts[key], t.start - longest[key], side="left"))
            last = int(np.searchsorted(starts[key], t.end, side="left"))
            near = [j for j in js[first:last] if j[1] > t.start]
        else:
            near = []
        explained.update((t.seqid, t.strand, a, b) for a, b in near)
        introns = {(a, b) for _, _, a, b in intron_keys(t)}
        row = {"seqid": t.seqid, "strand": t.strand, "start": t.start, "end": t.end, "gene_id": t.gene_id}
        action, reason, gene = "unsupported", "", t
        crossing = [j for j in near if j[0] < t.start or j[1] > t.end]
        conflicting = [j for j in near if j not in introns and j not in crossing]
        if crossing:
            action = "masked"
            reason = f"a read junction {crossing[0][0] + 1}-{crossing[0][1]} reaches outside the gene (split or merged)"
        elif conflicting:
            if t.partial5 or t.partial3:
                action, reason = "masked", "read junctions contradict a gene cut by a sequence end"
            elif any(any_overlap([a], conflicting[i + 1 :]) for i, a in enumerate(conflicting)):
                action, reason = "masked", "overlapping read junctions (alternative splicing) contradict the gene"
            else:
                fixed = _replace_introns(t, conflicting)
                if fixed is None:
                    action, reason = "masked", "a read junction outside the CDS (start or stop codon, UTR)"
                elif min(b - a for (_, a), (b, _) in zip(fixed.exons[:-1], fixed.exons[1:])) < min_intron:
                    action, reason = "masked", f"the corrected gene would have an intron under {min_intron} bp"
                else:
                    action, reason, gene = "corrected", f"{len(conflicting)} intron(s) set to the read junctions", fixed
                    candidates[k] = fixed
        elif introns and all(i in near for i in introns):
            action, reason = "supported", f"all {len(introns)} intron(s) are read junctions"
        elif introns:
            reason = f"{sum(i in near for i in introns)} of {len(introns)} intron(s) are read junctions"
        out.append(gene)
        rows.append({**row, "action": action, "reason": reason})
    if candidates:  # frame and stop codons of every corrected gene, read from the genome in one pass
        keys = list(candidates)
        seqs = cds_sequences(genome_h5, [candidates[k] for k in keys])
        for i, k in enumerate(keys):
            problem = _frame_problem(candidates[k], seqs[i])
            if problem:
                out[k] = transcripts[k]
                rows[k].update(action="masked", reason=problem)
    for seqid, strand, a, b in good:
        if (seqid, strand, a, b) not in explained:
            rows.append(
                {
                    "seqid": seqid,
                    "strand": strand,
                    "start": a,
                    "end": b,
                    "gene_id": "",
                    "action": "unexplained_junction",
                    "reason": "a read junction inside no gene on its strand",
                }
            )
    counts = {a: sum(r["action"] == a for r in rows) for a in ACTIONS}
    log.info(
        "genes against %d well-supported read junctions (>= %d reads): %s",
        len(good),
        min_reads,
        ", ".join(f"{n} {a}" for a, n in counts.items()),
    )
    return out, rows


def write_tsv(rows, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(COLUMNS) + "\n")
        for r in rows:
            fh.write("\t".join(str(r[c]) for c in COLUMNS) + "\n")


def read_tsv(path):
    """The rows of a corrections.tsv (write_tsv), start and end as ints."""
    rows = read_table(path, COLUMNS, "corrections table", "correct_pseudolabels.py")
    for k, row in enumerate(rows, 2):
        if row["action"] not in ACTIONS:
            raise InputError(f"{path} line {k}: action {row['action']!r} is none of {', '.join(ACTIONS)}")
        row["start"], row["end"] = int(row["start"]), int(row["end"])
    return rows
