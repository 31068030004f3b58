"""The species profile (profile.py) and what the decoder does with it: long introns, junctions."""

import numpy as np
import pytest

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.decode import DecodeConfig, Scorer, decode_strand, profile
from genetune.decode.genes import genes_from_path
from genetune.decode.profile import Profile
from genetune.io.fasta import CODE, ONE_HOT
from genetune.io.gff import Transcript

LONG = Profile(intron_lengths=[[0.5, 100.0], [0.5, 3000.0]], boundary_weight=0.0)


def _probs(n, calls):
    """(n, 4) probabilities: 0.9 for the called class of each [a, b) stretch, 0.1/3 for the others."""
    p = np.full((n, 4), 0.1 / 3, np.float32)
    for (a, b), cls in calls:
        p[a:b] = 0.1 / 3
        p[a:b, cls] = 0.9
    return p


def _decode(seq, probs, cfg, prof=LONG, junctions=()):
    codes = CODE[np.frombuffer(seq.encode(), np.uint8)].astype(np.int64)
    phase = np.full((len(seq), 4), 0.25, np.float32)
    path = decode_strand(codes, probs, phase, Scorer.build(cfg, prof), onehot=ONE_HOT[codes], junctions=junctions)
    return genes_from_path(path, cfg.min_cds_length)


def _long_intron_case():
    """Exon 1 (ATG + 30 codons, 50-143), a 5 kb intron (GT...AG, 143-5143), exon 2 (30 codons + TAA).
    The network calls the intron's first and last 100 bases intron and its middle intergenic, as
    a network with 400 bp of context does deep inside a long intron."""
    head, exon1, exon2 = "C" * 50, "ATG" + "AAA" * 30, "AAA" * 30 + "TAA"
    intron = "GTAAGT" + "C" * 4988 + "TTTCAG"
    seq = head + exon1 + intron + exon2 + "C" * 50
    i0, i1 = len(head) + len(exon1), len(head) + len(exon1) + len(intron)
    probs = _probs(
        len(seq),
        [
            ((0, 50), layout.IG),
            ((50, i0), layout.CDS),
            ((i0, i0 + 100), layout.INTRON),
            ((i0 + 100, i1 - 100), layout.IG),
            ((i1 - 100, i1), layout.INTRON),
            ((i1, i1 + len(exon2)), layout.CDS),
            ((i1 + len(exon2), len(seq)), layout.IG),
        ],
    )
    return seq, probs, [(50, i0), (i1, i1 + len(exon2))]


def test_a_long_intron_the_network_calls_intergenic_is_bridged():
    seq, probs, exons = _long_intron_case()
    cfg = DecodeConfig(min_cds_length=6, min_intron=20)
    (gene,) = _decode(seq, probs, cfg)
    assert gene.cds == exons
    # without long-intron states the same predictions give no such gene: the middle would have to be called intron
    assert all(
        g.cds != exons for g in _decode(seq, probs, DecodeConfig(min_cds_length=6, min_intron=20, long_introns=False))
    )


def test_a_real_intergenic_gap_of_the_same_length_is_not_bridged():
    """Two genes 5 kb apart whose codons offer GT donors (GTC) and AG acceptors (AGC) to a bridge."""
    gene_a, gene_b = "ATG" + "GTCAAA" * 15 + "TAA", "ATG" + "AGCAAA" * 15 + "TAA"
    seq = "C" * 50 + gene_a + "C" * 5000 + gene_b + "C" * 50
    a0, b0 = 50, 50 + len(gene_a) + 5000
    probs = _probs(
        len(seq),
        [((0, len(seq)), layout.IG), ((a0, a0 + len(gene_a)), layout.CDS), ((b0, b0 + len(gene_b)), layout.CDS)],
    )
    genes = _decode(seq, probs, DecodeConfig(min_cds_length=6, min_intron=20))
    assert [g.cds for g in genes] == [[(a0, a0 + len(gene_a))], [(b0, b0 + len(gene_b))]]


def test_the_intron_length_distribution_decides_whether_a_long_intron_is_bridged():
    """A species whose introns are all short (the profile says so) does not bridge 5 kb."""
    seq, probs, exons = _long_intron_case()
    cfg = DecodeConfig(min_cds_length=6, min_intron=20)
    short = Profile(intron_lengths=[[0.9, 60.0], [0.1, 150.0]], boundary_weight=0.0)
    assert all(g.cds != exons for g in _decode(seq, probs, cfg, prof=short))


def test_a_read_junction_is_an_intron_whatever_the_network_says_inside_it():
    """The network calls a 300 bp intron coding (it reads through in frame); 40 reads span it."""
    exon1, intron, exon2 = "ATG" + "AAA" * 20, "GTAAGT" + "C" * 291 + "CAG", "AAA" * 20 + "TAA"
    seq = "C" * 50 + exon1 + intron + exon2 + "C" * 50
    i0 = 50 + len(exon1)
    i1 = i0 + len(intron)
    probs = _probs(len(seq), [((0, len(seq)), layout.IG), ((50, i1 + len(exon2)), layout.CDS)])
    cfg = DecodeConfig(min_cds_length=6, min_intron=20)
    (alone,) = _decode(seq, probs, cfg)
    assert alone.cds == [(50, i1 + len(exon2))]
    (gene,) = _decode(seq, probs, cfg, junctions=[(i0 - 1, i1, 40)])
    assert gene.cds == [(50, i0), (i1, i1 + len(exon2))]
    assert gene.exons == gene.cds


def test_geometric_mixture_fit_recovers_short_and_long_introns():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.exponential(80, 3000), rng.exponential(4000, 1000)])
    (w1, m1), (w2, m2) = profile.fit_geometric_mixture(x, [[0.5, 50.0], [0.5, 1000.0]])
    assert w1 == pytest.approx(0.75, abs=0.03) and m1 == pytest.approx(80, rel=0.1)
    assert w2 == pytest.approx(0.25, abs=0.03) and m2 == pytest.approx(4000, rel=0.1)


def _genes(introns_per_gene, intron_length, n_genes=40):
    out = []
    for k in range(n_genes):
        start = 10_000 * k
        cds, at = [], start
        for _ in range(introns_per_gene + 1):
            cds.append((at, at + 150))
            at += 150 + intron_length
        out.append(Transcript("chr1", "+", list(cds), list(cds), gene_id=f"g{k}"))
    return out


def test_each_round_moves_the_profile_a_bounded_step_towards_the_species():
    prior = Profile()
    genes = _genes(3, 5000)  # every intron 5 kb, every exon 150 bp
    one = profile.estimate(prior, genes, {"chr1": 500_000}, min_intron=30)
    longest = one.intron_lengths[-1]
    assert longest[1] == pytest.approx(2 * prior.intron_lengths[-1][1])  # at most 2x per round
    assert all(
        abs(w1 - w0) <= profile.MAX_WEIGHT_STEP + 1e-9
        for (w0, _), (w1, _) in zip(prior.intron_lengths, one.intron_lengths)
    )
    assert one.exon_mean == pytest.approx(150)  # 250 -> 150: within the 2x step
    two = profile.estimate(one, genes, {"chr1": 500_000}, min_intron=30)
    assert two.intron_lengths[-1][1] > one.intron_lengths[-1][1]  # the next round moves on
    few = profile.estimate(prior, genes[:3], {"chr1": 500_000}, min_intron=30)
    assert few.intron_lengths == prior.intron_lengths  # too few introns to learn from: unchanged


def test_with_enough_junctions_each_round_takes_intron_lengths_from_the_reads():
    """The reads show 8 kb introns; the pseudolabel genes only 100 bp ones (their long introns were
    split): the round's profile keeps the long introns the reads show."""
    prior = profile.from_junctions(
        Profile(), [("chr1", "+", 100, 8100, 5)] * 10 + [("chr1", "+", 100, 180, 5)] * 30, min_intron=30
    )
    junctions = [("chr1", "+", 100, 8100, 5)] * 10 + [("chr1", "+", 100, 180, 5)] * 30
    one = profile.estimate(prior, _genes(3, 100), {"chr1": 500_000}, junctions, min_intron=30)
    assert np.allclose(one.intron_lengths, prior.intron_lengths, rtol=1e-6)
    assert one.intron_lengths[-1][0] == pytest.approx(0.25, abs=0.02)
    assert one.intron_lengths[-1][1] == pytest.approx(8000, rel=0.05)


def test_censored_pseudolabel_introns_never_shrink_the_long_tail():
    prior = Profile(intron_lengths=[[0.8, 100.0], [0.2, 3000.0]])
    one = profile.estimate(prior, _genes(3, 120), {"chr1": 500_000}, min_intron=30)  # no reads, short introns
    assert one.intron_lengths[-1][0] >= 0.2 and one.intron_lengths[-1][1] >= 3000
    assert sum(w for w, _ in one.intron_lengths) == pytest.approx(1)


def test_a_profile_round_trips_and_a_bad_one_is_one_clear_error(tmp_path):
    prof = profile.estimate(Profile(), _genes(2, 300), {"chr1": 500_000}, min_intron=30, made_from="test")
    profile.save(prof, tmp_path / "p.yaml")
    again = profile.load(tmp_path / "p.yaml")
    assert again.to_dict() == prof.to_dict()
    (tmp_path / "bad.yaml").write_text("intron_lengths: [[0.5, 100]]\n")
    with pytest.raises(InputError, match="bad.yaml|sum to 1"):
        profile.load(tmp_path / "bad.yaml")
    (tmp_path / "typo.yaml").write_text("intron_length: [[1.0, 100]]\n")
    with pytest.raises(InputError, match="unknown profile keys intron_length"):
        profile.load(tmp_path / "typo.yaml")


def test_the_geneml_card_gives_fungal_introns_and_its_boundary_weight():
    fungal = profile.for_model({"name": "geneML", "source": {"project": "geneML"}})
    assert fungal.boundary_weight == 150 and fungal.intron_lengths[-1][1] < 1000
    assert profile.for_model({"name": "x", "source": {"project": "Helixer"}}).intron_lengths == Profile().intron_lengths


def test_config_overrides_win_over_the_profile():
    prof = DecodeConfig(gene_penalty=20.0).effective_profile(Profile(gene_penalty=3.0, intron_penalty=1.0))
    assert (prof.gene_penalty, prof.intron_penalty) == (20.0, 1.0)
