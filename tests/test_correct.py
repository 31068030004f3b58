"""Pseudolabel genes against the read junctions (correct.py) and the doubt masks (doubt.py)."""

import dataclasses

import h5py
import numpy as np

from genetune.core import layout
from genetune.decode.profile import Profile
from genetune.io.gff import Transcript, read_gff3, select_transcripts
from genetune.pseudolabels.correct import correct_genes, read_tsv, write_tsv
from genetune.pseudolabels.doubt import deep_intron_bases, split_gaps


def _introns(t):
    return [(e, s) for (_, e), (s, _) in zip(t.exons[:-1], t.exons[1:])]


def _junctions(t, reads=9):
    return [(t.seqid, t.strand, a, b, reads) for a, b in _introns(t)]


def _recut(t, exons):
    lo, hi = t.cds[0][0], t.cds[-1][1]
    cds = [(max(s, lo), min(e, hi)) for s, e in exons if min(e, hi) > max(s, lo)]
    return dataclasses.replace(t, exons=exons, cds=cds, cds_phases=[], intron_exons=None)


def _truth(tiny_species, n_introns=2):
    """Coding genes of the tiny species' truth with at least n_introns introns, CDS-only (no UTRs)."""
    genes = select_transcripts(read_gff3(tiny_species["dir"] / "annotation.gff3"))
    out = []
    for t in genes:
        if len(t.cds) > n_introns and not t.partial5 and not t.partial3:
            out.append(dataclasses.replace(t, exons=list(t.cds), span=None, intron_exons=None))
    return out


def test_a_gene_whose_every_intron_the_reads_show_is_supported(tiny_species):
    t = _truth(tiny_species)[0]
    fixed, rows = correct_genes([t], _junctions(t), tiny_species["dir"] / "genome.h5")
    assert fixed == [t] and rows[0]["action"] == "supported"


def test_a_shifted_splice_site_and_a_missed_intron_are_corrected_to_the_junctions(tiny_species):
    """The decoded gene moved one acceptor by 3 bp (frame kept) and read through another intron as
    exon: the reads' junctions restore the true gene exactly."""
    t = _truth(tiny_species)[0]
    ex = list(t.exons)
    shifted = ex[:1] + [(ex[1][0] + 3, ex[1][1])] + ex[2:]
    merged = [(shifted[0][0], shifted[0][1])] + [(shifted[1][0], shifted[2][1])] + shifted[3:]  # intron 2 missed
    decoded = _recut(t, merged)
    fixed, rows = correct_genes([decoded], _junctions(t), tiny_species["dir"] / "genome.h5")
    assert rows[0]["action"] == "corrected", rows[0]
    assert fixed[0].exons == t.exons and fixed[0].cds == t.cds


def test_a_junction_that_breaks_the_frame_masks_the_gene_instead(tiny_species):
    t = _truth(tiny_species)[0]
    a, b = _introns(t)[0]
    fixed, rows = correct_genes([t], [(t.seqid, t.strand, a, b + 1, 9)], tiny_species["dir"] / "genome.h5")
    assert rows[0]["action"] == "masked" and "multiple of 3" in rows[0]["reason"]
    assert fixed == [t]  # labelled as called, but never kept (select masks it)


def test_a_junction_reaching_out_of_a_gene_masks_it_and_one_inside_no_gene_is_listed(tiny_species):
    t = _truth(tiny_species)[0]
    crossing = (t.seqid, t.strand, t.start - 200, t.exons[0][1] + 10, 9)
    lonely = (t.seqid, t.strand, t.end + 5000, t.end + 5300, 9)
    weak = (t.seqid, t.strand, t.end + 7000, t.end + 7300, 2)  # under min_reads: no evidence
    _, rows = correct_genes([t], [crossing, lonely, weak], tiny_species["dir"] / "genome.h5", min_reads=3)
    assert rows[0]["action"] == "masked" and "reaches outside the gene" in rows[0]["reason"]
    assert [(r["action"], r["start"]) for r in rows[1:]] == [("unexplained_junction", t.end + 5000)]


def test_corrections_round_trip_through_their_table(tiny_species, tmp_path):
    t = _truth(tiny_species)[0]
    _, rows = correct_genes([t], _junctions(t)[:1], tiny_species["dir"] / "genome.h5")
    write_tsv(rows, tmp_path / "c.tsv")
    assert read_tsv(tmp_path / "c.tsv") == rows and rows[0]["action"] == "unsupported"


def _gene(seqid, strand, exons, gene_id):
    return Transcript(seqid, strand, exons, list(exons), gene_id=gene_id, transcript_id=gene_id + ".1")


def test_two_genes_closer_than_an_intron_have_their_gap_and_facing_codons_masked():
    prof = Profile(intron_lengths=[[0.8, 100.0], [0.2, 1000.0]])
    a = _gene("c", "+", [(100, 400)], "a")
    b = _gene("c", "+", [(900, 1200)], "b")  # 500 bp after a: shorter than many introns
    far = _gene("c", "+", [(60_000, 60_300)], "far")
    other = _gene("c", "-", [(1500, 1800)], "other")  # the other strand: no pair
    gaps, pairs = split_gaps([a, b, far, other], prof, quantile=0.9)
    assert pairs == [("a", "b")]
    assert gaps == [("c", "+", 400 - 9, 900 + 9)]  # stop codon of a, start codon of b, 6 bp beyond each


def test_intron_bases_beyond_the_models_context_are_doubt():
    t = _gene("c", "+", [(0, 100), (2100, 2200), (2300, 2400)], "g")
    assert deep_intron_bases([t], 400) == [("c", "+", 500, 1700)]  # the 100 bp intron has none


def test_selection_weighs_evidence_genes_masks_doubt_and_contradicted_genes(tiny_species, tmp_path):
    """Real files: labels from the truth, perfect predictions. Genes with all introns in the reads
    weigh evidence_gene_weight; a masked gene is never kept; a split-gene gap and deep intron bases
    get weight 0."""
    from genetune.demo.simulate import predictions_from_labels
    from genetune.pseudolabels.select import SelectConfig, select_confident

    d = tiny_species["dir"]
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5")
    genes = select_transcripts(read_gff3(d / "annotation.gff3"))
    multi = [t for t in genes if len(t.exons) > 2]
    backed, doomed = multi[0], multi[1]
    junctions = _junctions(backed)
    corrections = [
        {
            "seqid": t.seqid,
            "strand": t.strand,
            "start": t.start,
            "end": t.end,
            "gene_id": t.gene_id,
            "action": action,
            "reason": "test",
        }
        for t, action in ((doomed, "masked"), (backed, "supported"))
    ]
    cfg = SelectConfig(keep_fraction=1.0, evidence_gene_weight=4, mask_margin=0, split_gap_quantile=0.99)
    prof = Profile(intron_lengths=[[0.5, 100.0], [0.5, 3000.0]])  # a long tail: most gaps look like introns
    select_confident(
        d / "labels.h5",
        tmp_path / "p.h5",
        tmp_path / "c.h5",
        cfg,
        d / "annotation.gff3",
        genes_tsv=tmp_path / "g.tsv",
        junctions=junctions,
        corrections=corrections,
        profile=prof,
    )
    lines = (tmp_path / "g.tsv").read_text().splitlines()
    rows = {r["gene_id"]: r for r in (dict(zip(lines[0].split("\t"), ln.split("\t"))) for ln in lines[1:])}
    assert rows[doomed.gene_id]["kept"] == "no" and rows[doomed.gene_id]["evidence"] == "masked"
    with h5py.File(tmp_path / "c.h5") as c:
        ids, se, sw = c[layout.SEQIDS][:].astype(str), c[layout.START_ENDS][:], c[layout.SAMPLE_WEIGHTS][:]
        assert c.attrs["evidence_weighted_genes"] == 1 and c.attrs["split_gaps"] >= 1
        assert c.attrs["deep_intron_bases"] > 0  # predictions without a model context: 400 bp assumed

        def weights(t, a, b):
            """Sample weights of [a, b) on t's strand, in genomic order, from every chunk they touch."""
            parts = []
            for i in range(len(ids)):
                s0, s1 = int(se[i, 0]), int(se[i, 1])
                lo, hi = min(s0, s1), max(s0, s1)
                if ids[i] != t.seqid or (s0 < s1) != (t.strand == "+") or max(a, lo) >= min(b, hi):
                    continue
                x, y = max(a, lo), min(b, hi)
                parts.append((x, sw[i][x - s0 : y - s0] if s0 < s1 else sw[i][s0 - y : s0 - x][::-1]))
            return np.concatenate([p for _, p in sorted(parts, key=lambda p: p[0])])

        exon = backed.cds[1]
        assert set(np.unique(weights(backed, *exon))) <= {0, 4} and 4 in weights(backed, *exon)
        assert not weights(doomed, doomed.start, doomed.end).any()
        kept = [t for t in genes if rows[t.gene_id]["kept"] == "yes"]
        seqid, strand, a, b = deep_intron_bases(kept, 400)[0]
        assert not weights(_gene(seqid, strand, [(a, b)], "x"), a, b).any()
        assert weights(_gene(seqid, strand, [(a, b)], "x"), a - 50, a).all()  # near the exon: still taught


def test_a_rare_alternative_splice_is_no_contradiction():
    from genetune.pseudolabels.correct import well_supported

    junctions = [
        ("c", "+", 100, 200, 50),
        ("c", "+", 100, 210, 4),
        ("c", "+", 150, 400, 10),
        ("c", "-", 100, 210, 4),
        ("c", "+", 500, 600, 2),
    ]
    # 4 reads against 50 on an overlapping junction: minor; the same 4 reads alone on the other strand: kept;
    # 2 reads: under min_reads
    assert well_supported(junctions, 3) == [("c", "+", 100, 200), ("c", "+", 150, 400), ("c", "-", 100, 210)]


def test_two_strong_overlapping_junctions_that_contradict_a_gene_mask_it(tiny_species):
    t = _truth(tiny_species)[0]
    a, b = _introns(t)[0]
    junctions = [(t.seqid, t.strand, a + 3, b, 9), (t.seqid, t.strand, a, b + 3, 9)]  # alternative splice forms
    fixed, rows = correct_genes([t], junctions, tiny_species["dir"] / "genome.h5")
    assert rows[0]["action"] == "masked" and rows[0]["reason"].startswith("overlapping read junctions")
    assert fixed == [t]
