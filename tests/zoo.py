"""An "annotation zoo": a GFF3 over a simulated genome with what real annotations contain.

Built from simulated gene models, each varied one way: several isoforms (including ties),
non-coding genes, pseudogenes, genes without UTRs, wrong start phases, too-short introns,
overlapping and nested genes, genes cut by a contig end (hanging introns), an exon on the wrong
strand; both strands throughout. Written gene line first, sorted, as GeenuFF's reader needs.
"""

from genetune.io.gff import cds_phases


def _row(seqid, kind, s, e, strand, attrs, phase="."):
    return f"{seqid}\tzoo\t{kind}\t{s + 1}\t{e}\t.\t{strand}\t{phase}\t{attrs}\n"


def _transcript(
    t, tid, gid, exons=None, cds=None, span=None, kind="mRNA", exon_kind="exon", phases=None, exon_strand=None
):
    exons = exons if exons is not None else t.exons
    cds = cds if cds is not None else t.cds
    span = span or (exons[0][0], exons[-1][1])
    rows = [_row(t.seqid, kind, *span, t.strand, f"ID={tid};Parent={gid}")]
    for i, (s, e) in enumerate(exons):
        rows.append(
            _row(
                t.seqid,
                exon_kind,
                s,
                e,
                exon_strand if exon_strand and i == 0 else t.strand,
                f"ID={tid}.e{i};Parent={tid}",
            )
        )
    if cds:
        phases = phases or cds_phases(type(t)(t.seqid, t.strand, exons, cds))
        rows += [
            _row(t.seqid, "CDS", s, e, t.strand, f"ID={tid}.cds;Parent={tid}", ph) for (s, e), ph in zip(cds, phases)
        ]
    return rows


def _gene(t, gid, span, kind="gene"):
    return _row(t.seqid, kind, *span, t.strand, f"ID={gid}")


def _no_utr(t):
    lo, hi = t.cds[0][0], t.cds[-1][1]
    exons = [(max(s, lo), min(e, hi)) for s, e in t.exons if e > lo and s < hi]
    return exons


def zoo_rows(t, k, seq_len):
    """GFF3 rows for gene model t varied by case k."""
    g, tid = t.gene_id, t.transcript_id
    case = k % 11
    if case == 1:  # two isoforms of equal coding length; the first (with UTRs) wins the tie
        return [_gene(t, g, (t.start, t.end))] + _transcript(t, tid, g) + _transcript(t, tid + "b", g, exons=_no_utr(t))
    if case == 2:  # isoform without UTRs listed first, a longer-CDS isoform second
        short = t.cds[:-1] if len(t.cds) > 1 else t.cds
        ex = [e for e in t.exons if e[0] < short[-1][1]]
        ex[-1] = (ex[-1][0], short[-1][1])
        return (
            [_gene(t, g, (t.start, t.end))] + _transcript(t, tid + "s", g, exons=ex, cds=short) + _transcript(t, tid, g)
        )
    if case == 3:  # non-coding gene
        return [_gene(t, g, (t.start, t.end), "ncRNA_gene")] + _transcript(t, tid, g, cds=[], kind="lnc_RNA")
    if case == 4:  # pseudogene with a pseudogenic transcript
        return [_gene(t, g, (t.start, t.end), "pseudogene")] + _transcript(
            t, tid, g, cds=[], kind="pseudogenic_transcript", exon_kind="pseudogenic_exon"
        )
    if case == 5:  # no UTRs at all
        ex = _no_utr(t)
        return [_gene(t, g, (ex[0][0], ex[-1][1]))] + _transcript(t, tid, g, exons=ex)
    if case == 6:  # 5'-most CDS with a non-zero phase
        ph = cds_phases(t)
        ph[0 if t.strand == "+" else -1] = 2
        return [_gene(t, g, (t.start, t.end))] + _transcript(t, tid, g, phases=ph)
    if case == 7:  # a too-short intron inside the last exon
        s, e = t.exons[-1]
        if e - s < 60:
            return [_gene(t, g, (t.start, t.end))] + _transcript(t, tid, g)
        mid = (s + e) // 2
        ex = t.exons[:-1] + [(s, mid), (mid + 12, e)]
        cds = [c for c in t.cds]
        cds[-1] = (cds[-1][0], min(cds[-1][1], mid)) if cds[-1][0] < mid else cds[-1]
        if cds[-1][1] > mid + 12 or cds[-1][0] >= mid:
            cds = t.cds
            ex = t.exons
        return [_gene(t, g, (t.start, t.end))] + _transcript(t, tid, g, exons=ex, cds=cds)
    if case == 8:  # a second gene, without UTRs, overlapping this one's 3' end on the same strand
        o = min(t.end + 200, seq_len)
        inner = (t.end - 40, o) if t.strand == "+" else (max(t.start - 200, 0), t.start + 40)
        other = type(t)(t.seqid, t.strand, [inner], [inner], gene_id=g + "o", transcript_id=tid + "o")
        rows = [_gene(t, g, (t.start, t.end))] + _transcript(t, tid, g)
        extra = [_gene(other, g + "o", inner)] + _transcript(other, tid + "o", g + "o")
        return rows + extra if t.strand == "+" else extra + rows
    if case == 9:  # a single-exon gene nested in this gene's first intron, without UTRs
        rows = [_gene(t, g, (t.start, t.end))] + _transcript(t, tid, g)
        if not t.introns or t.introns[0][1] - t.introns[0][0] < 90:
            return rows
        a, b = t.introns[0]
        inner = (a + 30, b - 30)
        nested = type(t)(t.seqid, t.strand, [inner], [inner], gene_id=g + "n", transcript_id=tid + "n")
        return rows + [_gene(nested, g + "n", inner)] + _transcript(nested, tid + "n", g + "n")
    if case == 10:  # one exon on the other strand
        return [_gene(t, g, (t.start, t.end))] + _transcript(t, tid, g, exon_strand="-" if t.strand == "+" else "+")
    return [_gene(t, g, (t.start, t.end))] + _transcript(t, tid, g)


def partial_rows(t, seq_len, at_start):
    """t cut by a contig end inside its second exon's neighbourhood: the mRNA reaches the contig
    end past the remaining exons (a hanging intron), CDS phases set for the cut codons."""
    if len(t.exons) < 2:
        return []
    if at_start:
        exons, span = t.exons[1:], (0, t.end)
    else:
        exons, span = t.exons[:-1], (t.start, seq_len)
    lo, hi = exons[0][0], exons[-1][1]
    cds = [(max(s, lo), min(e, hi)) for s, e in t.cds if e > lo and s < hi]
    if not cds:
        return []
    five_prime_cut = at_start == (t.strand == "+")
    removed = t.coding_length - sum(e - s for s, e in cds)
    first_pos = removed % 3 if five_prime_cut else 0
    cut = type(t)(t.seqid, t.strand, exons, cds)
    phases = cds_phases(cut, first_pos)
    return [_gene(t, t.gene_id, span)] + _transcript(
        t, t.transcript_id, t.gene_id, exons=exons, cds=cds, span=span, phases=phases
    )


def write_zoo(transcripts, seq_lengths, path):
    """The zoo GFF3 for simulated transcripts; the first and last gene of each contig are cut."""
    by_seq = {}
    for t in transcripts:
        by_seq.setdefault(t.seqid, []).append(t)
    with open(path, "w") as fh:
        fh.write("##gff-version 3\n")
        for sid, ts in by_seq.items():
            ts = sorted(ts, key=lambda t: t.start)
            for i, t in enumerate(ts):
                if i == 0:
                    rows = partial_rows(t, seq_lengths[sid], at_start=True)
                elif i == len(ts) - 1:
                    rows = partial_rows(t, seq_lengths[sid], at_start=False)
                else:
                    rows = zoo_rows(t, i, seq_lengths[sid])
                fh.writelines(rows)
    return path
