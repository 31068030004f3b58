"""GFF3 -> transcript models, parsed with gffutils' line parser (no SQLite database).

Helixer's pseudolabel path keeps one transcript per gene: the longest coding one
(GeenuFF `_filter_to_coding`); `select_transcripts` does the same by default.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import gffutils.iterators

from .errors import InputError
from .fileio import atomic_path

TRANSCRIPT_TYPES = {"mRNA", "transcript", "ncRNA", "lnc_RNA", "tRNA", "rRNA", "pseudogenic_transcript"}
EXON_TYPES = {"exon"}
CDS_TYPES = {"CDS"}
UTR_TYPES = {"five_prime_UTR", "three_prime_UTR", "UTR"}
GENE_TYPES = {"gene", "pseudogene", "ncRNA_gene"}


@dataclass
class Transcript:
    """One transcript in 0-based half-open genomic coordinates, segments ascending."""

    seqid: str
    strand: str
    exons: list
    cds: list
    gene_id: str = ""
    transcript_id: str = ""
    expression: float = 0.0
    cds_phases: list = field(default_factory=list)  # GFF phase of each CDS segment, if given
    partial5: bool = False  # cut by a sequence end at its 5' end
    partial3: bool = False

    @property
    def start(self):
        return self.exons[0][0]

    @property
    def end(self):
        return self.exons[-1][1]

    @property
    def coding_length(self):
        return sum(e - s for s, e in self.cds)

    @property
    def introns(self):
        return [(a[1], b[0]) for a, b in zip(self.exons, self.exons[1:]) if b[0] > a[1]]


def _merge(segments):
    out = []
    for s, e in sorted(segments):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def read_gff3(path, seq_lengths=None):
    """Parse a GFF3 into transcripts. `seq_lengths` (seqid -> length) enables range checks."""
    path = Path(path)
    lines = []
    with open(path, newline=None) as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.startswith("##FASTA"):
                break
            lines.append(line)
    parents = {}
    kinds = {}
    children = defaultdict(lambda: {"exon": [], "CDS": [], "UTR": []})
    meta = {}
    lineno_of = {}
    for lineno, line in enumerate(lines, 1):
        if not line or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 9:
            raise InputError(f"{path} line {lineno}: expected 9 tab-separated columns, found {len(cols)}")
        try:
            f = gffutils.feature.feature_from_line(line, strict=False, keep_order=True)
        except Exception as exc:  # gffutils raises assorted errors on malformed lines
            raise InputError(f"{path} line {lineno}: cannot parse GFF3 line ({exc})") from None
        if f.start is None or f.end is None or f.start > f.end or f.start < 1:
            raise InputError(f"{path} line {lineno}: invalid coordinates {cols[3]}..{cols[4]}")
        if seq_lengths is not None:
            if f.seqid not in seq_lengths:
                raise InputError(f"{path} line {lineno}: sequence '{f.seqid}' is not in the FASTA")
            if f.end > seq_lengths[f.seqid]:
                raise InputError(f"{path} line {lineno}: end {f.end} is past the end of '{f.seqid}' "
                                 f"({seq_lengths[f.seqid]} bp)")
        fid = f.attributes.get("ID", [None])[0]
        pids = f.attributes.get("Parent", [])
        if fid is not None:
            kinds[fid] = f.featuretype
            parents[fid] = pids
            meta[fid] = (f.seqid, f.strand, f.start - 1, f.end)
            lineno_of[fid] = lineno
        if f.featuretype in EXON_TYPES | CDS_TYPES | UTR_TYPES:
            if not pids:
                raise InputError(f"{path} line {lineno}: {f.featuretype} without a Parent")
            kind = "exon" if f.featuretype in EXON_TYPES else "CDS" if f.featuretype in CDS_TYPES else "UTR"
            phase = None
            if kind == "CDS":
                if f.frame not in ("0", "1", "2"):
                    raise InputError(f"{path} line {lineno}: CDS phase '{f.frame}' is not 0, 1 or 2")
                phase = int(f.frame)
            for p in pids:
                children[p][kind].append((f.start - 1, f.end, phase, lineno, f.seqid, f.strand))
    for pid, ch in children.items():
        if pid not in kinds:
            first = min(c[3] for k in ch.values() for c in k)
            raise InputError(f"{path} line {first}: Parent '{pid}' is not defined in the file")
    transcripts = []
    for tid, ch in children.items():
        seqid, strand = meta[tid][0], meta[tid][1]
        if strand not in "+-":
            raise InputError(f"{path} line {lineno_of[tid]}: transcript '{tid}' has no strand")
        exons = sorted((s, e) for s, e, *_ in ch["exon"])
        for a, b in zip(exons, exons[1:]):
            if b[0] < a[1]:
                raise InputError(f"{path} line {lineno_of[tid]}: exons of '{tid}' overlap ({a[0]+1}-{a[1]} and "
                                 f"{b[0]+1}-{b[1]})")
        cds_rows = sorted(ch["CDS"])
        cds = _merge([(s, e) for s, e, *_ in cds_rows])
        if not exons:
            exons = _merge([(s, e) for s, e, *_ in ch["CDS"] + ch["UTR"]])
        gene = next((p for p in parents.get(tid, []) if kinds.get(p) in GENE_TYPES), tid)
        t = Transcript(seqid, strand, exons, cds, gene_id=gene, transcript_id=tid,
                       cds_phases=[r[2] for r in cds_rows] if len(cds) == len(cds_rows) else [])
        transcripts.append(t)
    return transcripts


def select_transcripts(transcripts, longest_coding_only=True):
    """Helixer's choice: per gene the transcript with the longest CDS; genes without CDS dropped."""
    if not longest_coding_only:
        return list(transcripts)
    best = {}
    for t in transcripts:
        if not t.cds:
            continue
        key = (t.seqid, t.gene_id)
        if key not in best or t.coding_length > best[key].coding_length:
            best[key] = t
    return sorted(best.values(), key=lambda t: (t.seqid, t.start))


def cds_phases(t: Transcript, first_codon_pos=0):
    """GFF3 phase of each CDS segment (ascending genomic order); first_codon_pos is the codon
    position of the 5'-most coding base (0 unless the gene is cut at its 5' end)."""
    order = t.cds if t.strand == "+" else t.cds[::-1]
    phases, done = {}, first_codon_pos
    for seg in order:
        phases[seg] = (3 - done % 3) % 3
        done += seg[1] - seg[0]
    return [phases[seg] for seg in t.cds]


def sorted_by_position(transcripts, seqids):
    """Transcripts in the order of `seqids`, then by start and strand (the order GFF3 is written in)."""
    order = {sid: i for i, sid in enumerate(seqids)}
    return sorted(transcripts, key=lambda t: (order[t.seqid], t.start, t.strand))


def write_gff3(transcripts, seq_lengths, path, source, comments=()):
    """gene / mRNA / exon / CDS (with phase) / five_prime_UTR / three_prime_UTR, one transcript
    per gene, sorted by sequence order and position; partial genes carry partial=5prime,3prime."""
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("##gff-version 3\n")
        for line in comments:
            fh.write(f"# {line}\n")
        for sid, n in seq_lengths.items():
            fh.write(f"##sequence-region {sid} 1 {n}\n")
        for t in sorted_by_position(transcripts, seq_lengths):
            g, m = t.gene_id, t.transcript_id
            partial = [name for name, flag in (("5prime", t.partial5), ("3prime", t.partial3)) if flag]
            pattr = f";partial={','.join(partial)}" if partial else ""
            col = f"{t.seqid}\t{source}\t{{}}\t{{}}\t{{}}\t.\t{t.strand}\t{{}}\t{{}}\n"
            fh.write(col.format("gene", t.start + 1, t.end, ".", f"ID={g}{pattr}"))
            fh.write(col.format("mRNA", t.start + 1, t.end, ".", f"ID={m};Parent={g}{pattr}"))
            for i, (s, e) in enumerate(t.exons, 1):
                fh.write(col.format("exon", s + 1, e, ".", f"ID={m}.exon{i};Parent={m}"))
            for (s, e), ph in zip(t.cds, t.cds_phases or cds_phases(t)):
                fh.write(col.format("CDS", s + 1, e, ph, f"ID={m}.cds;Parent={m}"))
            cs, ce = t.cds[0][0], t.cds[-1][1]
            for s, e in t.exons:
                for a, b, left in ((s, min(e, cs), True), (max(s, ce), e, False)):
                    if a < b:
                        kind = "five_prime_UTR" if left == (t.strand == "+") else "three_prime_UTR"
                        fh.write(col.format(kind, a + 1, b, ".", f"Parent={m}"))
