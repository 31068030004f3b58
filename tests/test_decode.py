import numpy as np
import pytest
from Bio.Seq import Seq
from helpers import perfect_predictions

from genetune.decode import DecodeConfig, decode_h5, decode_strand, genes_from_path
from genetune.errors import InputError
from genetune.fasta import CODE
from genetune.gff import read_gff3


def _key(t):
    return (t.seqid, t.strand, tuple(t.exons), tuple(t.cds))


def _cds_sequence(t, genome):
    seq = "".join(genome[t.seqid][s:e] for s, e in t.cds)
    return seq if t.strand == "+" else str(Seq(seq).reverse_complement())


def test_perfect_predictions_decode_to_the_true_gene_models(tiny_species, tmp_path):
    d = tiny_species["dir"]
    perfect_predictions(d / "labels.h5", tmp_path / "p.h5")
    n = decode_h5(d / "genome.h5", tmp_path / "p.h5", tmp_path / "a.gff3")
    truth = {_key(t) for t in read_gff3(d / "annotation.gff3")}
    pred = {_key(t) for t in read_gff3(tmp_path / "a.gff3")}
    assert n == len(truth) and pred == truth


def test_noisy_predictions_still_give_valid_gene_models(tiny_species, tmp_path):
    """Every CDS: ATG start, stop codon end, no internal stop, length divisible by 3; GT/GC..AG introns."""
    d = tiny_species["dir"]
    perfect_predictions(d / "labels.h5", tmp_path / "p.h5", sharpness=0.4, noise=0.6, seed=3)
    cfg = DecodeConfig(min_intron=20)
    decode_h5(d / "genome.h5", tmp_path / "p.h5", tmp_path / "a.gff3", cfg)
    genome = tiny_species["genome"]
    genes = read_gff3(tmp_path / "a.gff3")
    assert genes
    for t in genes:
        cds = _cds_sequence(t, genome)
        protein = str(Seq(cds).translate())
        partial = t.start == 0 or t.end == len(genome[t.seqid])
        if not partial:
            assert cds.startswith("ATG") and len(cds) % 3 == 0 and protein.endswith("*")
            assert "*" not in protein[:-1]
        for a, b in t.introns:
            intron = genome[t.seqid][a:b]
            intron = intron if t.strand == "+" else str(Seq(intron).reverse_complement())
            assert intron[:2] in ("GT", "GC") and intron[-2:] == "AG" and b - a >= cfg.min_intron


def test_decoder_never_reads_through_an_in_frame_stop():
    seq = "CCCC" + "ATG" + "AAA" + "TAG" + "AAA" * 20 + "TAA" + "CCCC"
    codes = CODE[np.frombuffer(seq.encode(), np.uint8)]
    n = len(seq)
    probs = np.full((n, 4), 0.01, np.float32)
    probs[:, 0] = 0.97
    probs[4:n - 4] = [0.01, 0.01, 0.97, 0.01]  # the network claims one long CDS
    phase = np.full((n, 4), 0.25, np.float32)
    path = decode_strand(codes, probs, phase, DecodeConfig(min_cds_length=6, gene_penalty=0.0))
    genes = genes_from_path(path, DecodeConfig(min_cds_length=6))
    assert genes and all(g["cds"][-1][1] <= 4 + 9 for g in genes if g["cds"][0][0] == 4)


def test_unknown_decoder_setting_is_an_error():
    with pytest.raises(InputError, match="unknown decoder settings: min_exon"):
        DecodeConfig.from_dict({"min_exon": 3})


def test_start_codon_is_never_split_by_an_intron():
    """Regression: 'AT|GT...AG|' once passed the ATG check with the G opening the intron."""
    intron = "GTAAGT" + "T" * 40 + "CAG"
    seq = "CCCCC" + "AT" + intron + "A" + "AAC" * 10 + "TAA" + "CCCCC"  # AT|intron|A AAC... TAA in frame
    codes = CODE[np.frombuffer(seq.encode(), np.uint8)]
    n = len(seq)
    probs = np.tile(np.float32([0.97, 0.01, 0.01, 0.01]), (n, 1))
    probs[5:7] = [0.01, 0.01, 0.97, 0.01]
    probs[7:7 + len(intron)] = [0.01, 0.01, 0.01, 0.97]
    probs[7 + len(intron): n - 5] = [0.01, 0.01, 0.97, 0.01]
    cfg = DecodeConfig(min_cds_length=6, gene_penalty=0.0, min_intron=20)
    genes = genes_from_path(decode_strand(codes, probs, np.full((n, 4), 0.25, np.float32), cfg), cfg)
    for g in genes:
        cds = "".join(seq[s:e] for s, e in g["cds"])
        assert g["partial5"] or cds.startswith("ATG")
        assert g["cds"][0][1] - g["cds"][0][0] >= 3 or g["partial5"]


def test_rnaseq_hints_recover_an_intron_the_network_missed():
    intron = "GTAAGT" + "T" * 60 + "CAG"
    seq = "CCCCC" + "ATGAAACCC" + intron + "AAACCCGGGTAA" + "CCCCC"
    codes = CODE[np.frombuffer(seq.encode(), np.uint8)]
    n = len(seq)
    a, b = 14, 14 + len(intron)
    probs = np.tile(np.float32([0.05, 0.05, 0.85, 0.05]), (n, 1))
    probs[:5] = probs[n - 5:] = [0.97, 0.01, 0.01, 0.01]
    probs[a:b] = [0.6, 0.05, 0.3, 0.05]  # the network calls the intron intergenic-ish
    phase = np.full((n, 4), 0.25, np.float32)
    cov, spl = np.zeros(n), np.zeros(n)
    cov[5:a] = cov[b:n - 5] = 20
    spl[a:b] = 20
    cfg = DecodeConfig(min_cds_length=6, min_intron=20, gene_penalty=0.0)
    without = genes_from_path(decode_strand(codes, probs, phase, cfg), cfg)
    assert not any(len(g["cds"]) == 2 for g in without)
    hinted = DecodeConfig(**{**cfg.__dict__, "rnaseq_hint_weight": 3.0})
    (gene,) = genes_from_path(decode_strand(codes, probs, phase, hinted, cov, spl), hinted)
    assert gene["cds"] == [(5, a), (b, n - 5)]


def test_strands_are_cut_only_inside_long_confident_intergenic_runs():
    from genetune.decode import segments
    p_ig = np.full(20000, 0.999)
    p_ig[3000:6000] = 0.1  # a gene
    p_ig[9000:9500] = 0.5  # short uncertain stretch: the run 6000..9000 is still long
    p_ig[15000:15500] = 0.2
    depth = np.zeros(20000)
    cfg = DecodeConfig(split_min_intergenic=2000)
    pieces = segments(p_ig, cfg, depth)
    assert pieces[0][0] == 0 and pieces[-1][1] == 20000
    assert all(a == b_prev for (_, b_prev), (a, _) in zip(pieces, pieces[1:]))
    cuts = [a for a, _ in pieces[1:]]
    assert cuts == [7500, 12250]  # the middles of the runs 6000..9000 and 9500..15000
    depth[7000:8000] = 10  # RNA-seq evidence in the first run: no cut there any more
    assert [a for a, _ in segments(p_ig, cfg, depth)[1:]] == [12250]
