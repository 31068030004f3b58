"""GFF3 (or GTF) -> transcript models, parsed line by line with gffutils' attribute parser (no
SQLite database; the eight fixed columns are split here, which halves the parse time against
building a gffutils Feature per line).

GTF (2.2, as UCSC's refGene, Ensembl and GENCODE write it) is told by its attribute syntax
(`gene_id "..."; transcript_id "...";`): exon, CDS, start_codon, stop_codon and UTR lines are
grouped by transcript_id, transcripts by gene_id. GTF's CDS leaves the stop codon out, so the
stop_codon lines are added to the CDS (where a CDS already holds its stop codon, as AUGUSTUS
writes it, that changes nothing); phases follow from the 5'-most CDS line's frame.

Helixer's pseudolabel path keeps one transcript per gene: the longest coding one
(GeenuFF `_filter_to_coding`); `select_transcripts` does the same by default.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import gffutils.constants
import gffutils.parser

from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_text
from genetune.core.intervals import merge

EXON_TYPES = {"exon"}
CDS_TYPES = {"CDS"}
UTR_TYPES = {"five_prime_UTR", "three_prime_UTR", "UTR"}
GFF3_DIALECT = dict(gffutils.constants.dialect)  # fixed: gffutils would re-infer it on every line
# Helixer (GeenuFF) ignores pseudogenic transcripts and their children: they are never labelled.
IGNORED_TRANSCRIPT_TYPES = {"pseudogenic_transcript"}


def is_gene_type(featuretype):
    """Gene-level ("super locus") features: gene, pseudogene and the SO *_gene types."""
    return featuretype in ("gene", "pseudogene") or featuretype.endswith("_gene")


@dataclass
class Transcript:
    """One transcript in 0-based half-open genomic coordinates, segments ascending.

    `span` is the transcript line's extent when the GFF3 has one; it can reach past the exons
    (a "hanging" intron of a gene cut by a contig end), which Helixer labels as intron.
    """

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
    span: tuple = None
    end_phases: tuple = (0, 0)  # GFF phase of the lowest and the highest CDS line
    strand_conflict: bool = False  # an exon on the other strand (GeenuFF masks the whole gene)
    intron_exons: list = None  # the exons GeenuFF subtracts from the span, if not all of them
    score: float = None  # GFF3 column 6 of the gene and mRNA lines (a decoder's confidence)
    attributes: dict = field(default_factory=dict)  # further GFF3 attributes of the gene and mRNA lines

    @property
    def start(self):
        return self.span[0] if self.span else self.exons[0][0]

    @property
    def end(self):
        return self.span[1] if self.span else self.exons[-1][1]

    @property
    def coding_length(self):
        return sum(e - s for s, e in self.cds)

    @property
    def selection_length(self):
        """GeenuFF's measure for "longest": the CDS span minus every intron touching it. Equals
        coding_length for sound models; negative when GeenuFF's introns swallow the CDS."""
        lo, hi = self.cds_span
        return hi - lo - sum(e - s for s, e in self.introns if min(e, hi) - max(s, lo) > 0)

    @property
    def introns(self):
        """The span minus the exons: gaps between exons plus any hanging intron at either end."""
        out, pos = [], self.start
        for s, e in self.exons if self.intron_exons is None else self.intron_exons:
            if s > pos:
                out.append((pos, s))
            pos = max(pos, e)
        if self.end > pos:
            out.append((pos, self.end))
        return out

    @property
    def cds_span(self):
        """Start codon to stop codon; stretched over a hanging intron next to a coding end exon,
        as GeenuFF does for partial genes."""
        lo, hi = self.cds[0][0], self.cds[-1][1]
        if self.exons[0][0] == lo != self.start:
            lo = self.start
        if self.exons[-1][1] == hi != self.end:
            hi = self.end
        return lo, hi


@dataclass
class Gene:
    """A gene-level feature (or a transcript without one) and its transcripts, in file order."""

    gene_id: str
    seqid: str
    strand: str
    start: int
    end: int
    transcripts: list = field(default_factory=list)


@dataclass
class Annotation:
    transcripts: list  # every transcript with exon/CDS/UTR children, in file order
    genes: list  # every gene-level feature, in file order


@dataclass
class _Line:
    seqid: str
    featuretype: str
    start: int
    end: int
    strand: str
    frame: str
    attributes: dict


def _parse_line(path, lineno, cols):
    """The nine columns of a feature line; start/end as ints, attributes by gffutils."""
    try:
        start, end = int(cols[3]), int(cols[4])
    except ValueError:
        raise InputError(f"{path} line {lineno}: invalid coordinates {cols[3]}..{cols[4]}") from None
    try:
        attributes, _ = gffutils.parser._split_keyvals(cols[8], dialect=GFF3_DIALECT)
    except Exception as exc:  # gffutils raises assorted errors on malformed attributes
        raise InputError(f"{path} line {lineno}: cannot parse GFF3 attributes ({exc})") from None
    return _Line(cols[0], cols[2], start, end, cols[6], cols[7], attributes)


def gff_lines(path):
    """(line number, text) of the feature part; stops at ##FASTA; CRLF and gzip are fine."""
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if line.startswith("##FASTA"):
                return
            if line and not line.startswith("#"):
                yield lineno, line


def read_gff3(path, seq_lengths=None):
    """Parse a GFF3 into transcripts. `seq_lengths` (seqid -> length) enables range checks."""
    return read_annotation(path, seq_lengths).transcripts


GTF_ATTRIBUTE = re.compile(r'\s*([^\s";]+)\s+(?:"([^"]*)"|([^\s;]+))\s*(?:;|$)')
GTF_UTR_TYPES = {"UTR", "5UTR", "3UTR", "five_prime_utr", "three_prime_utr", "five_prime_UTR", "three_prime_UTR"}


def gtf_attributes(text):
    """{key: value} of a GTF attribute column, or None when it is not GTF syntax."""
    out, pos = {}, 0
    text = text.strip()
    while pos < len(text):
        m = GTF_ATTRIBUTE.match(text, pos)
        if not m:
            return None
        out[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
        pos = m.end()
    return out


def is_gtf(path):
    """True when the first feature line's attributes are GTF's key "value"; pairs."""
    for _, line in gff_lines(path):
        cols = line.split("\t")
        attrs = gtf_attributes(cols[8]) if len(cols) == 9 else None
        return bool(attrs) and "gene_id" in attrs
    return False


def read_gtf(path, seq_lengths=None):
    """Transcripts and genes of a GTF (see the module docstring), validated like GFF3."""
    path = Path(path)
    rows = defaultdict(lambda: {"exon": [], "CDS": [], "codon": [], "UTR": []})
    meta, gene_of, first_line = {}, {}, {}
    for lineno, line in gff_lines(path):
        cols = line.split("\t")
        if len(cols) != 9:
            raise InputError(f"{path} line {lineno}: expected 9 tab-separated columns, found {len(cols)}")
        kind = cols[2]
        if kind == "exon":
            group = "exon"
        elif kind == "CDS":
            group = "CDS"
        elif kind in ("start_codon", "stop_codon"):
            group = "codon"
        elif kind in GTF_UTR_TYPES:
            group = "UTR"
        else:
            continue
        f = _parse_line(path, lineno, cols[:8] + [""])
        attrs = gtf_attributes(cols[8])
        if not attrs or "transcript_id" not in attrs or "gene_id" not in attrs:
            raise InputError(f"{path} line {lineno}: a GTF {kind} line needs gene_id and transcript_id attributes")
        if f.start > f.end or f.start < 1:
            raise InputError(f"{path} line {lineno}: invalid coordinates {cols[3]}..{cols[4]}")
        _check_range(path, lineno, f, seq_lengths)
        if f.strand not in ("+", "-"):
            raise InputError(f"{path} line {lineno}: {kind} has no strand")
        tid = attrs["transcript_id"]
        if tid in meta and meta[tid] != (f.seqid, f.strand):
            raise InputError(
                f"{path} line {lineno}: transcript '{tid}' is on {meta[tid][0]} {meta[tid][1]} "
                f"and here on {f.seqid} {f.strand}"
            )
        meta[tid] = (f.seqid, f.strand)
        gene_of.setdefault(tid, attrs["gene_id"])
        first_line.setdefault(tid, lineno)
        extra = kind  # the codon kind; the frame of a CDS line
        if group == "CDS":
            if f.frame not in ("0", "1", "2"):
                raise InputError(f"{path} line {lineno}: CDS frame '{f.frame}' is not 0, 1 or 2")
            extra = int(f.frame)
        rows[tid][group].append((f.start - 1, f.end, extra, lineno))
    genes, transcripts = {}, []
    for tid in sorted(rows, key=first_line.get):
        r = rows[tid]
        seqid, strand = meta[tid]
        cds_rows = sorted(r["CDS"])
        stops = [(s, e) for s, e, kind, _ in r["codon"] if kind == "stop_codon"]
        cds = merge([(s, e) for s, e, *_ in cds_rows] + (stops if cds_rows else []))
        exons = (
            merge([(s, e) for s, e, *_ in r["exon"]])
            if r["exon"]
            else merge([(s, e) for g in ("CDS", "codon", "UTR") for s, e, *_ in r[g]])
        )
        outside = [c for c in cds if not any(s <= c[0] and c[1] <= e for s, e in exons)]
        if outside:
            raise InputError(f"{path} line {first_line[tid]}: CDS of '{tid}' lies outside its exons")
        gid = gene_of[tid]
        t = Transcript(
            seqid,
            strand,
            exons,
            cds,
            gene_id=gid,
            transcript_id=tid,
            span=(exons[0][0], exons[-1][1]) if exons else None,
        )
        if cds_rows:
            five_prime = cds_rows[0] if strand == "+" else cds_rows[-1]
            t.cds_phases = cds_phases(t, (3 - five_prime[2]) % 3)
            t.end_phases = (t.cds_phases[0], t.cds_phases[-1])
        if gid not in genes:
            genes[gid] = Gene(gid, seqid, strand, t.start, t.end)
        g = genes[gid]
        g.start, g.end = min(g.start, t.start), max(g.end, t.end)
        g.transcripts.append(t)
        transcripts.append(t)
    return Annotation(transcripts, list(genes.values()))


def _score(text):
    """GFF3 column 6 as a float (None for "." or anything else that is no number)."""
    try:
        return float(text)
    except ValueError:
        return None


def _check_range(path, lineno, f, seq_lengths):
    if seq_lengths is None:
        return
    if f.seqid not in seq_lengths:
        raise InputError(f"{path} line {lineno}: sequence '{f.seqid}' is not in the FASTA")
    if f.end > seq_lengths[f.seqid]:
        raise InputError(
            f"{path} line {lineno}: end {f.end} is past the end of '{f.seqid}' ({seq_lengths[f.seqid]} bp)"
        )


def read_annotation(path, seq_lengths=None):
    """Transcripts and genes of a GFF3 (or GTF, read_gtf), validated (one InputError naming file and line)."""
    path = Path(path)
    if is_gtf(path):
        return read_gtf(path, seq_lengths)
    kinds, parents, meta, lineno_of, marks = {}, {}, {}, {}, {}
    children = defaultdict(lambda: {"exon": [], "CDS": [], "UTR": []})
    gene_order = []
    for lineno, line in gff_lines(path):
        cols = line.split("\t")
        if len(cols) != 9:
            raise InputError(f"{path} line {lineno}: expected 9 tab-separated columns, found {len(cols)}")
        f = _parse_line(path, lineno, cols)
        if f.start > f.end or f.start < 1:
            raise InputError(f"{path} line {lineno}: invalid coordinates {cols[3]}..{cols[4]}")
        _check_range(path, lineno, f, seq_lengths)
        fid = f.attributes.get("ID", [None])[0]
        pids = f.attributes.get("Parent", [])
        if fid is not None:
            kinds[fid] = f.featuretype
            parents[fid] = pids
            meta[fid] = (f.seqid, f.strand, f.start - 1, f.end)
            marks[fid] = (_score(cols[5]), set(f.attributes.get("partial", [])))
            lineno_of.setdefault(fid, lineno)
            if is_gene_type(f.featuretype):
                gene_order.append(fid)
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
    genes = {gid: Gene(gid, meta[gid][0], meta[gid][1], meta[gid][2], meta[gid][3]) for gid in gene_order}
    transcripts = []
    for tid in sorted(children, key=lineno_of.get):
        ch = children[tid]
        if kinds[tid] in IGNORED_TRANSCRIPT_TYPES:
            continue
        seqid, strand, t_start, t_end = meta[tid]
        if strand not in ("+", "-"):
            raise InputError(f"{path} line {lineno_of[tid]}: transcript '{tid}' has no strand")
        for c in ch["exon"] + ch["CDS"] + ch["UTR"]:
            if c[4] != seqid:
                raise InputError(f"{path} line {c[3]}: on sequence '{c[4]}' but its parent '{tid}' is on '{seqid}'")
        for c in ch["CDS"]:
            if c[5] != strand:
                raise InputError(f"{path} line {c[3]}: CDS on strand '{c[5]}' but its parent '{tid}' is on '{strand}'")
        exons = sorted((s, e) for s, e, *_ in ch["exon"])
        for a, b in zip(exons, exons[1:]):
            if b[0] < a[1]:
                raise InputError(
                    f"{path} line {lineno_of[tid]}: exons of '{tid}' overlap ({a[0] + 1}-{a[1]} and {b[0] + 1}-{b[1]})"
                )
        cds_rows = sorted(ch["CDS"])
        cds = merge([(s, e) for s, e, *_ in cds_rows])
        if not exons:  # CDS-only (or CDS + UTR) annotation: the exons are their union
            exons = merge([(s, e) for s, e, *_ in ch["CDS"] + ch["UTR"]])
        outside = [c for c in cds_rows if not any(s <= c[0] and c[1] <= e for s, e in exons)]
        if outside:
            raise InputError(f"{path} line {outside[0][3]}: CDS of '{tid}' lies outside its exons")
        strand_conflict = any(c[5] != strand for c in ch["exon"])
        if strand_conflict and cds:
            # GeenuFF stops reading exons at the first one on the other strand (and masks the gene)
            first_bad = min(c[0] for c in ch["exon"] if c[5] != strand)
            intron_exons = [e for e in exons if e[0] < first_bad]
        else:
            intron_exons = None
        gene = next((p for p in parents.get(tid, []) if p in genes), None)
        if is_gene_type(kinds[tid]):  # exons/CDS hung directly on a gene
            gene = tid
        span = (min(t_start, exons[0][0]), max(t_end, exons[-1][1]))
        t = Transcript(
            seqid,
            strand,
            exons,
            cds,
            gene_id=gene or tid,
            transcript_id=tid,
            cds_phases=[r[2] for r in cds_rows] if len(cds) == len(cds_rows) else [],
            span=span,
            end_phases=(cds_rows[0][2], cds_rows[-1][2]) if cds_rows else (0, 0),
            strand_conflict=strand_conflict,
            intron_exons=intron_exons,
            score=marks[tid][0],
            partial5="5prime" in marks[tid][1],
            partial3="3prime" in marks[tid][1],
        )
        if gene is None:  # a transcript without a gene line is its own gene
            genes[tid] = Gene(tid, seqid, strand, span[0], span[1])
            gene_order.append(tid)
        genes[t.gene_id].transcripts.append(t)
        transcripts.append(t)
    return Annotation(transcripts, [genes[g] for g in sorted(genes, key=lambda g: lineno_of[g])])


def select_transcripts(transcripts, longest_coding_only=True):
    """Helixer's choice: per gene the first transcript with the longest CDS (GeenuFF's
    selection_length); genes without CDS dropped."""
    if not longest_coding_only:
        return [t for t in transcripts if t.cds]
    best = {}
    for t in transcripts:
        if not t.cds or t.selection_length < 0:
            continue
        key = (t.seqid, t.gene_id)
        if key not in best or t.selection_length > best[key].selection_length:
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


def _escaped(value):
    """A GFF3 attribute value with the characters GFF3 reserves percent-encoded."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    for ch in "%;=&,\t\n":
        text = text.replace(ch, f"%{ord(ch):02X}")
    return text


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
            score = "." if t.score is None else f"{t.score:g}"

            def row(kind, start, end, attrs, phase=".", score=".", t=t):
                fh.write(f"{t.seqid}\t{source}\t{kind}\t{start}\t{end}\t{score}\t{t.strand}\t{phase}\t{attrs}\n")

            extra = "".join(f";{k}={_escaped(v)}" for k, v in t.attributes.items())
            row("gene", t.start + 1, t.end, f"ID={g}{pattr}{extra}", score=score)
            row("mRNA", t.start + 1, t.end, f"ID={m};Parent={g}{pattr}{extra}", score=score)
            for i, (s, e) in enumerate(t.exons, 1):
                row("exon", s + 1, e, f"ID={m}.exon{i};Parent={m}")
            for (s, e), ph in zip(t.cds, t.cds_phases or cds_phases(t)):
                row("CDS", s + 1, e, f"ID={m}.cds;Parent={m}", phase=ph)
            cs, ce = t.cds[0][0], t.cds[-1][1]
            for s, e in t.exons:
                for a, b, left in ((s, min(e, cs), True), (max(s, ce), e, False)):
                    if a < b:
                        kind = "five_prime_UTR" if left == (t.strand == "+") else "three_prime_UTR"
                        row(kind, a + 1, b, f"Parent={m}")
