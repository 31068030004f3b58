"""Where gene-level F1 is lost: every reference gene sorted into one outcome, with the errors of the
one-to-one misses and the structure (longest intron, exon count) of found against missed genes.

Outcomes, per reference gene (a locus: its coding transcripts), against the predicted genes on the
same sequence and strand whose CDS overlaps its CDS bases:
  exact   one of its transcripts has a predicted transcript's CDS chain (what gene F1 counts);
  missed  no predicted CDS overlaps it;
  merged  a predicted gene overlapping it also overlaps another reference gene;
  split   two or more predicted genes overlap it, none of them another reference gene;
  one_to_one  one predicted gene overlaps it and only it, with another chain. Its errors, against the
          reference transcript sharing the most CDS exons (several may hold for one gene):
          start (CDS 5' end differs), stop (3' end differs), splice_shift (a reference intron
          overlapped by a predicted intron with other ends), missed_intron (a reference intron no
          predicted intron overlaps), extra_intron (a predicted intron no reference intron overlaps).
"""

from collections import defaultdict

import numpy as np

from genetune.core.fileio import atomic_path
from genetune.core.intervals import any_overlap

OUTCOMES = ("exact", "split", "merged", "missed", "one_to_one")
ERRORS = ("start", "stop", "splice_shift", "missed_intron", "extra_intron")
INTRON_BINS = (("no intron", 0, 1), ("< 1 kb", 1, 1000), (">= 1 kb", 1000, None))
EXON_BINS = (("1 exon", 1, 2), ("2-5 exons", 2, 6), (">= 6 exons", 6, None))
HEADER = ("stage", "group", "class", "n_genes", "n_found", "n_missed")


def _introns(cds):
    return [(cds[k][1], cds[k + 1][0]) for k in range(len(cds) - 1)]


def _chain_errors(ref, pred):
    """Error classes of a predicted transcript against one reference transcript (same strand)."""
    errors = set()
    five = (lambda t: t.cds[0][0]) if ref.strand == "+" else (lambda t: t.cds[-1][1])
    three = (lambda t: t.cds[-1][1]) if ref.strand == "+" else (lambda t: t.cds[0][0])
    if five(ref) != five(pred):
        errors.add("start")
    if three(ref) != three(pred):
        errors.add("stop")
    r_int, p_int = _introns(ref.cds), _introns(pred.cds)
    p_set = set(p_int)
    for s, e in r_int:
        if (s, e) in p_set:
            continue
        hits = [(ps, pe) for ps, pe in p_int if ps < e and s < pe]
        errors.add("splice_shift" if hits else "missed_intron")
    r_set = set(r_int)
    for s, e in p_int:
        if (s, e) not in r_set and not any(rs < e and s < re for rs, re in r_int):
            errors.add("extra_intron")
    return errors


def _loci(transcripts):
    """{(seqid, gene_id): [transcripts]} of coding transcripts."""
    out = defaultdict(list)
    for t in transcripts:
        if t.cds:
            out[(t.seqid, t.gene_id)].append(t)
    return out


def _bin(value, bins):
    for name, lo, hi in bins:
        if value >= lo and (hi is None or value < hi):
            return name
    return bins[-1][0]


def classify(ref_all, pred):
    """[(reference gene key, outcome, {errors}, longest intron, exon count)] per reference gene."""
    ref_genes, pred_genes = _loci(ref_all), _loci(pred)
    pred_by_strand = defaultdict(list)
    for key, ts in pred_genes.items():
        pred_by_strand[(ts[0].seqid, ts[0].strand)].append(key)
    ref_by_strand = defaultdict(list)
    for key, ts in ref_genes.items():
        ref_by_strand[(ts[0].seqid, ts[0].strand)].append(key)

    def span(ts):
        return min(t.cds[0][0] for t in ts), max(t.cds[-1][1] for t in ts)

    def overlapping(ts, candidates, genes):
        lo, hi = span(ts)
        out = []
        for key in candidates:
            other = genes[key]
            olo, ohi = span(other)
            if olo < hi and lo < ohi and any(any_overlap(a.cds, b.cds) for a in ts for b in other):
                out.append(key)
        return out

    pred_chains = {(t.seqid, t.strand, tuple(t.cds)) for ts in pred_genes.values() for t in ts}
    rows = []
    for key, ts in ref_genes.items():
        strand_key = (ts[0].seqid, ts[0].strand)
        longest = max((e - s for t in ts for s, e in _introns(t.cds)), default=0)
        n_exons = max(len(t.cds) for t in ts)
        errors = set()
        if any((t.seqid, t.strand, tuple(t.cds)) in pred_chains for t in ts):
            outcome = "exact"
        else:
            hits = overlapping(ts, pred_by_strand.get(strand_key, ()), pred_genes)
            if not hits:
                outcome = "missed"
            elif any(len(overlapping(pred_genes[h], ref_by_strand[strand_key], ref_genes)) > 1 for h in hits):
                outcome = "merged"
            elif len(hits) > 1:
                outcome = "split"
            else:
                outcome = "one_to_one"
                pts = pred_genes[hits[0]]
                ref_t, pred_t = max(
                    ((r, p) for r in ts for p in pts), key=lambda rp: len(set(rp[0].cds) & set(rp[1].cds))
                )
                errors = _chain_errors(ref_t, pred_t)
        rows.append((key, outcome, errors, longest, n_exons))
    return rows


def summarise(rows):
    """Rows of (group, class, n_genes, n_found, n_missed): outcomes, one-to-one errors, and found
    (exact) against not found genes by longest intron and by exon count."""
    out = []
    outcomes = [r[1] for r in rows]
    for name in OUTCOMES:
        out.append(("outcome", name, outcomes.count(name), "", ""))
    for name in ERRORS:
        out.append(("one_to_one_error", name, sum(name in r[2] for r in rows if r[1] == "one_to_one"), "", ""))
    for group, index, bins in (("longest_intron", 3, INTRON_BINS), ("exon_count", 4, EXON_BINS)):
        for name, _, _ in bins:
            members = [r for r in rows if _bin(r[index], bins) == name]
            found = sum(r[1] == "exact" for r in members)
            out.append((group, name, len(members), found, len(members) - found))
    return out


def write_tsv(tables, path):
    """tables: {stage: summarise() rows}."""
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(HEADER) + "\n")
        for stage, rows in tables.items():
            for row in rows:
                fh.write("\t".join(map(str, (stage, *row))) + "\n")


def plot(tables, path):
    """Stacked bars of the outcomes per stage, and bars of the one-to-one errors (SVG)."""
    from genetune.core.figures import plt, save_svg

    stages = list(tables)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    counts = {s: {(g, c): n for g, c, n, *_ in tables[s]} for s in stages}
    bottom = np.zeros(len(stages))
    for name in OUTCOMES:
        vals = np.array([counts[s][("outcome", name)] for s in stages], float)
        ax.bar(stages, vals, bottom=bottom, label=name.replace("_", "-"))
        bottom += vals
    ax.set(ylabel="reference genes", title="what became of each reference gene")
    ax.legend(fontsize=8)
    width = 0.8 / max(1, len(stages))
    for k, s in enumerate(stages):
        bx.bar(np.arange(len(ERRORS)) + k * width, [counts[s][("one_to_one_error", e)] for e in ERRORS], width, label=s)
    bx.set_xticks(
        np.arange(len(ERRORS)) + width * (len(stages) - 1) / 2, [e.replace("_", " ") for e in ERRORS], fontsize=8
    )
    bx.set(ylabel="one-to-one genes with the error", title="errors of one-to-one genes")
    bx.legend(fontsize=8)
    save_svg(fig, path)
