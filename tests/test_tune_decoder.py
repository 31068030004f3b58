"""The decoder's meta-parameters fitted to evidence genes (tune_decoder.py)."""

import pytest

from genetune.decode import DecodeConfig
from genetune.decode.profile import Profile
from genetune.decode.tune import MIN_GENES, braker_score, fit_decoder
from genetune.io.gff import Transcript, read_gff3, select_transcripts


def _t(exons, gene_id, strand="+", seqid="c"):
    return Transcript(seqid, strand, exons, list(exons), gene_id=gene_id, transcript_id=gene_id + ".1")


def test_the_score_is_brakers_weighted_sum_counted_at_the_evidence_loci_only():
    truth = [_t([(100, 200), (300, 400)], "a")]
    exact = [_t([(100, 200), (300, 400)], "p")]
    assert braker_score(exact, truth)[0] == pytest.approx(1.0)
    elsewhere = exact + [_t([(5000, 5300)], "q"), _t([(100, 400)], "r", strand="-")]  # no locus of the reads
    assert braker_score(elsewhere, truth)[0] == pytest.approx(1.0)
    shifted = [_t([(100, 200), (310, 400)], "p")]  # 10 bases short, one exon of two, no gene
    score, m = braker_score(shifted, truth)
    assert m["nuc_sn"] == pytest.approx(190 / 200) and m["nuc_sp"] == 1.0
    assert (m["exon_sn"], m["exon_sp"], m["gene_sn"], m["gene_sp"]) == (0.5, 0.5, 0.0, 0.0)
    assert score == pytest.approx((3 * 0.95 + 2 * 1 + 4 * 0.5 + 3 * 0.5) / 15)


@pytest.fixture(scope="module")
def species(tmp_path_factory):
    """200 kb of the target preset: labels from the truth, noisy predictions of them."""
    from genetune.demo.simulate import predictions_from_labels, simulate_species
    from genetune.io.fasta import ingest_genome
    from genetune.pseudolabels.labels import gff_to_labels

    d = tmp_path_factory.mktemp("fit")
    simulate_species("target", 3, d, [120_000, 80_000], 0)
    ingest_genome(d / "genome.fa", "fit", d / "genome.h5", 4608)
    gff_to_labels(d / "annotation.gff3", d / "genome.h5", d / "labels.h5")
    predictions_from_labels(d / "labels.h5", d / "p.h5", sharpness=0.5, noise=0.8, seed=1)
    genes = [t for t in select_transcripts(read_gff3(d / "annotation.gff3")) if t.cds]
    return d, genes


def test_a_gene_density_far_from_the_species_is_fitted_back(species, tmp_path):
    """A gene penalty 250x too high merges and drops genes; the search lowers it and the score rises."""
    d, genes = species
    fitted, rows = fit_decoder(
        d / "genome.h5", d / "p.h5", Profile(gene_penalty=2000.0), DecodeConfig(), genes, tmp_path
    )
    assert fitted.gene_penalty < 2000.0 / 3
    assert max(r["score"] for r in rows if r["kept"] == "yes") > rows[0]["score"] + 0.1
    assert "decoder fitted to" in fitted.made_from


def test_what_the_config_sets_and_too_few_genes_are_left_alone(species, tmp_path):
    d, genes = species
    fitted, rows = fit_decoder(
        d / "genome.h5", d / "p.h5", Profile(gene_penalty=2000.0), DecodeConfig(gene_penalty=2000.0), genes, tmp_path
    )
    assert fitted.gene_penalty == 2000.0 and not any(r["parameter"] == "gene_penalty" for r in rows)
    few = Profile(gene_penalty=2000.0)
    assert fit_decoder(d / "genome.h5", d / "p.h5", few, DecodeConfig(), genes[: MIN_GENES - 1]) == (few, [])


def test_read_junctions_alone_fit_the_gene_density_where_they_lie(species, tmp_path):
    """No evidence gene, but every intron of the first sequence shown by reads: the intron F1 there
    judges the candidates (merged genes make introns the reads never show)."""
    from genetune.io.chunks import covered_intervals

    d, genes = species
    first = genes[0].seqid
    junctions = [
        (t.seqid, t.strand, e, s, 5)
        for t in genes
        if t.seqid == first
        for (_, e), (s, _) in zip(t.exons[:-1], t.exons[1:])
    ]
    intervals = {first: covered_intervals(d / "genome.h5")[first]}
    fitted, rows = fit_decoder(
        d / "genome.h5", d / "p.h5", Profile(gene_penalty=2000.0), DecodeConfig(), [], junctions, intervals, tmp_path
    )
    assert rows and all(
        r["gene_sn"] == "" and 0 <= r["intron_f1"] <= 1 and 0 <= r["held_out_junction_f1"] <= 1 for r in rows
    )
    assert fitted.gene_penalty < 2000.0 and max(r["score"] for r in rows) > rows[0]["score"]
    assert "read junctions" in fitted.made_from


def test_half_the_junctions_given_predict_the_other_half(species, tmp_path):
    """Given half of the true introns as reads, a decoder with a sane gene density finds many of the
    other half; one that merges everything (gene penalty far too high) finds fewer."""
    from genetune.decode.tune import held_out_junction_f1
    from genetune.io.chunks import covered_intervals

    d, genes = species
    junctions = [(t.seqid, t.strand, e, s, 5) for t in genes for (_, e), (s, _) in zip(t.exons[:-1], t.exons[1:])]
    intervals = covered_intervals(d / "genome.h5")
    seqids = sorted(intervals)
    sane = held_out_junction_f1(
        d / "genome.h5", d / "p.h5", Profile(), DecodeConfig(), seqids, junctions, intervals, tmp_path
    )
    merged = held_out_junction_f1(
        d / "genome.h5",
        d / "p.h5",
        Profile(gene_penalty=20000.0),
        DecodeConfig(),
        seqids,
        junctions,
        intervals,
        tmp_path,
    )
    assert sane > 0.3 and merged < sane
