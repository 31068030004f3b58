"""Gene models from a state path: one `Gene` per coding run, its start moved to the first in-frame
ATG, scored as geneML scores its calls, and turned into a GFF3 Transcript once."""

import dataclasses
from dataclasses import dataclass

import numpy as np

from genetune.core import layout
from genetune.core.intervals import any_overlap, runs
from genetune.decode.states import CODING, CODON_POS, INTERGENIC, LONG_INTRON, START, STATE_CLASS, UTR5_INTRON
from genetune.decode.states import is_coding as coding_bases
from genetune.decode.states import is_intron as intron_bases
from genetune.io.fasta import LETTERS, START_CODON_SEQ, STOP_CODON_SEQS
from genetune.io.gff import Transcript, cds_phases


@dataclass(frozen=True)
class Gene:
    """A decoded gene in 5'->3' strand coordinates of the path it came from (segments ascending)."""

    exons: list
    cds: list
    partial5: bool = False  # touches the path's start at a sequence end: may continue beyond it
    partial3: bool = False
    first_codon_pos: int = 0  # codon position of the 5'-most coding base (0 unless cut at the 5' end)
    score: float = 0.0

    @property
    def end(self):
        return self.exons[-1][1]

    def to_transcript(self, seqid, strand, seq_len, offset=0):
        """The GFF3 transcript (genomic coordinates, CDS phases, score to 3 decimals) of a gene
        decoded `offset` bases into the strand of sequence `seqid`."""
        exons, cds = ([(s + offset, e + offset) for s, e in segs] for segs in (self.exons, self.cds))
        t = Transcript(
            seqid,
            strand,
            _to_genomic(exons, strand, seq_len),
            _to_genomic(cds, strand, seq_len),
            partial5=self.partial5,
            partial3=self.partial3,
            score=round(self.score, 3),
        )
        t.cds_phases = cds_phases(t, self.first_codon_pos)
        return t


def _to_genomic(intervals, strand, seq_len):
    if strand == "+":
        return [(int(s), int(e)) for s, e in intervals]
    return sorted((seq_len - int(e), seq_len - int(s)) for s, e in intervals)


def genes_from_path(path, min_cds_length, at_start=True, at_end=True):
    """The path's genes with at least `min_cds_length` coding bases. at_start/at_end: whether the
    path begins/ends at a sequence end (where genes may be cut)."""
    n = len(path)
    genes = []
    coding, intron = coding_bases(path), intron_bases(path)
    for a, b in runs(path != INTERGENIC):
        if not coding[a:b].any():
            continue
        if int(coding[a:b].sum()) < min_cds_length:
            continue
        first = int(path[a + int(np.argmax(coding[a:b]))])
        genes.append(
            Gene(
                exons=[(a + s, a + e) for s, e in runs(~intron[a:b])],
                cds=[(a + s, a + e) for s, e in runs(coding[a:b])],
                partial5=bool(a == 0 and at_start),
                partial3=bool(b == n and at_end),
                first_codon_pos=first - START if first >= START else int(CODON_POS[first - CODING]),
            )
        )
    return genes


def _codon(codes, p):
    return "".join(LETTERS[codes[p : p + 3]])


def first_atg(gene: Gene, codes, not_before=0):
    """The gene with its start codon moved up to the first in-frame ATG of its open reading frame.

    Eukaryotic ribosomes scan from the cap and start at the first AUG they meet, and curated
    annotations follow it: an ATG upstream and in frame, with no stop codon between, is the start.
    The network's start probabilities cannot tell the two ATGs apart (Micromonas: most wrong starts
    are the network's confident calls downstream of the reference's ATG), while the sequence can.
    The search stays in the exon that holds the start codon; when that exon begins with the start
    codon (no 5'UTR: geneML's models), it may grow it, down to `not_before` (the previous gene's end
    on this strand). Genes cut at a sequence end are left as they are.
    """
    s = gene.cds[0][0]
    if gene.partial5 or gene.first_codon_pos != 0 or _codon(codes, s) != START_CODON_SEQ:
        return gene
    exons = gene.exons
    i = next(k for k, (a, b) in enumerate(exons) if a <= s < b)
    lo = not_before if i == 0 and exons[0][0] == s else exons[i][0]
    best, p = s, s - 3
    while p >= lo:
        codon = _codon(codes, p)
        if codon in STOP_CODON_SEQS or not set(codon) <= set(layout.BASES):  # a stop, or unknown sequence
            break
        if codon == START_CODON_SEQ:
            best = p
        p -= 3
    if best == s:
        return gene
    return dataclasses.replace(
        gene,
        cds=[(best, gene.cds[0][1])] + gene.cds[1:],
        exons=[(best, exons[0][1])] + exons[1:] if best < exons[i][0] else exons,
    )


def gene_score(gene: Gene, path, probs, boundary=None):
    """geneML-style score of a decoded gene in [0, 1]: the mean probability of each of its bases'
    state class (CDS, UTR, intron), averaged with the mean boundary probability at its start
    codon, stop codon and splice sites when boundaries are given (cut ends are not scored)."""
    a, b = gene.exons[0][0], gene.exons[-1][1]
    states = path[a:b]
    deep = states >= LONG_INTRON
    agree = probs[np.arange(a, b), STATE_CLASS[np.where(deep, UTR5_INTRON, states)]].astype(np.float64)
    agree[deep] = np.maximum(agree[deep], probs[a:b][deep, layout.IG])  # inner bases of long introns
    consistency = float(np.mean(agree))
    if boundary is None:
        return consistency
    cds, exons = gene.cds, gene.exons
    sites = [boundary[e - 1, layout.DONOR] for _, e in exons[:-1]] + [
        boundary[s, layout.ACCEPTOR] for s, _ in exons[1:]
    ]
    if not gene.partial5:
        sites.append(boundary[cds[0][0], layout.START_CODON])
    if not gene.partial3:
        sites.append(boundary[cds[-1][1] - 1, layout.STOP_CODON])
    return (consistency + float(np.mean(sites))) / 2 if sites else consistency


def resolve_opposite_strand_overlaps(transcripts):
    """Of genes whose CDS overlap (share a base) on opposite strands, keep the better-scored (greedily,
    best first); same-strand genes are never compared."""
    order = sorted(range(len(transcripts)), key=lambda i: -transcripts[i].score)
    kept_cds = {}  # (seqid, strand) -> [(start, end)] of kept genes' CDS segments
    keep = []
    for i in order:
        t = transcripts[i]
        other = "-" if t.strand == "+" else "+"
        # CDS bases, not spans: a gene nested in the other strand's intron is no conflict
        if any_overlap(kept_cds.get((t.seqid, other), ()), t.cds):
            continue
        kept_cds.setdefault((t.seqid, t.strand), []).extend(t.cds)
        keep.append(i)
    return [transcripts[i] for i in sorted(keep)]
