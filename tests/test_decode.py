import numpy as np
import pytest
from Bio.Seq import Seq

from genetune.core.errors import InputError
from genetune.decode import DecodeConfig, Scorer, decode_h5, decode_strand
from genetune.decode.genes import Gene, first_atg, genes_from_path
from genetune.demo.simulate import predictions_from_labels, write_fasta
from genetune.io.fasta import CODE, ingest_genome
from genetune.io.gff import Transcript, read_gff3, write_gff3
from genetune.pseudolabels.labels import gff_to_labels


def _key(t):
    return (t.seqid, t.strand, tuple(t.exons), tuple(t.cds))


def _cds_sequence(t, genome):
    seq = "".join(genome[t.seqid][s:e] for s, e in t.cds)
    return seq if t.strand == "+" else str(Seq(seq).reverse_complement())


def test_perfect_predictions_decode_to_the_true_gene_models(tiny_species, tmp_path):
    d = tiny_species["dir"]
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5")
    # the simulator's 5'UTRs are random bases, some with an in-frame ATG open to the start: kept as called
    n = decode_h5(d / "genome.h5", tmp_path / "p.h5", tmp_path / "a.gff3", DecodeConfig(first_atg=False))
    truth = {_key(t) for t in read_gff3(d / "annotation.gff3")}
    pred = {_key(t) for t in read_gff3(tmp_path / "a.gff3")}
    assert n == len(truth) and pred == truth


def test_noisy_predictions_still_give_valid_gene_models(tiny_species, tmp_path):
    """Every CDS: ATG start, stop codon end, no internal stop, length divisible by 3; GT/GC..AG introns."""
    d = tiny_species["dir"]
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5", sharpness=0.4, noise=0.6, seed=3)
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
    probs[4 : n - 4] = [0.01, 0.01, 0.97, 0.01]  # the network claims one long CDS
    phase = np.full((n, 4), 0.25, np.float32)
    path = decode_strand(codes, probs, phase, Scorer.build(DecodeConfig(min_cds_length=6, gene_penalty=0.0)))
    genes = genes_from_path(path, 6)
    assert genes and all(g.cds[-1][1] <= 4 + 9 for g in genes if g.cds[0][0] == 4)


def test_unknown_decoder_setting_is_an_error():
    with pytest.raises(InputError, match="decode: unknown key min_exon"):
        DecodeConfig.from_dict({"min_exon": 3})


def test_start_codon_is_never_split_by_an_intron():
    """Regression: 'AT|GT...AG|' once passed the ATG check with the G opening the intron."""
    intron = "GTAAGT" + "T" * 40 + "CAG"
    seq = "CCCCC" + "AT" + intron + "A" + "AAC" * 10 + "TAA" + "CCCCC"  # AT|intron|A AAC... TAA in frame
    codes = CODE[np.frombuffer(seq.encode(), np.uint8)]
    n = len(seq)
    probs = np.tile(np.float32([0.97, 0.01, 0.01, 0.01]), (n, 1))
    probs[5:7] = [0.01, 0.01, 0.97, 0.01]
    probs[7 : 7 + len(intron)] = [0.01, 0.01, 0.01, 0.97]
    probs[7 + len(intron) : n - 5] = [0.01, 0.01, 0.97, 0.01]
    cfg = DecodeConfig(min_cds_length=6, gene_penalty=0.0, min_intron=20)
    genes = genes_from_path(
        decode_strand(codes, probs, np.full((n, 4), 0.25, np.float32), Scorer.build(cfg)), cfg.min_cds_length
    )
    assert genes
    for g in genes:
        cds = "".join(seq[s:e] for s, e in g.cds)
        assert g.partial5 or cds.startswith("ATG")
        assert g.cds[0][1] - g.cds[0][0] >= 3 or g.partial5


def test_rnaseq_hints_recover_an_intron_the_network_missed():
    intron = "GTAAGT" + "T" * 60 + "CAG"
    seq = "CCCCC" + "ATGAAACCC" + intron + "AAACCCGGGTAA" + "CCCCC"
    codes = CODE[np.frombuffer(seq.encode(), np.uint8)]
    n = len(seq)
    a, b = 14, 14 + len(intron)
    probs = np.tile(np.float32([0.05, 0.05, 0.85, 0.05]), (n, 1))
    probs[:5] = probs[n - 5 :] = [0.97, 0.01, 0.01, 0.01]
    probs[a:b] = [0.6, 0.05, 0.3, 0.05]  # the network calls the intron intergenic-ish
    phase = np.full((n, 4), 0.25, np.float32)
    cov, spl = np.zeros(n), np.zeros(n)
    cov[5:a] = cov[b : n - 5] = 20
    spl[a:b] = 20
    cfg = DecodeConfig(min_cds_length=6, min_intron=20, gene_penalty=0.0)
    without = genes_from_path(decode_strand(codes, probs, phase, Scorer.build(cfg)), cfg.min_cds_length)
    assert not any(len(g.cds) == 2 for g in without)
    hinted = DecodeConfig(**{**cfg.__dict__, "rnaseq_hint_weight": 3.0})
    (gene,) = genes_from_path(decode_strand(codes, probs, phase, Scorer.build(hinted), cov, spl), hinted.min_cds_length)
    assert gene.cds == [(5, a), (b, n - 5)]


def _reader(p_ig, depth=None):
    return lambda a, b: (p_ig[a:b], None if depth is None else depth[a:b])


@pytest.mark.parametrize("block", [100_000, 997])  # whole strand at once, and runs across blocks
def test_strands_are_decoded_in_pieces_around_long_confident_intergenic_runs(block):
    from genetune.decode.regions import quiet_pieces

    p_ig = np.full(20000, 0.999)
    p_ig[3000:6000] = 0.1  # a gene
    p_ig[9000:9500] = 0.5  # short uncertain stretch: the run 6000..9000 is still long
    p_ig[15000:15500] = 0.2
    depth = np.zeros(20000)
    pieces = quiet_pieces(_reader(p_ig, depth), 20000, 2000, 0.99, 3, block)
    # runs 0..3000 and 15500..20000 touch a sequence end: left out up to 1000 bp from the genic side
    assert pieces == [(2000, 7000), (8000, 10500), (14000, 16500)]
    depth[7000:8000] = 10  # RNA-seq evidence in the run 6000..9000: it now belongs to a piece
    assert quiet_pieces(_reader(p_ig, depth), 20000, 2000, 0.99, 3, block) == [(2000, 10500), (14000, 16500)]
    assert quiet_pieces(_reader(np.full(5000, 0.999)), 5000, 2000, 0.99, 3, block) == []  # nothing to decode
    assert quiet_pieces(_reader(np.full(5000, 0.5)), 5000, 2000, 0.99, 3, block) == [(0, 5000)]


def _helixerpost_regions_by_definition(p_ig, window, edge, peak):
    """HelixerPost's window scan written out base by base, as window.rs does it."""
    from genetune.decode.regions import genic_units

    units = genic_units(p_ig)
    edge_u = int(np.float32(edge) * np.float32(1e6) * np.float32(window))
    peak_u = int(np.float32(peak) * np.float32(1e6) * np.float32(window))
    n, p, out = len(p_ig), 0, []
    while p + window <= n:
        if units[p : p + window].sum() < edge_u:
            p += 1
            continue
        start, best = p, 0
        while p + window <= n and units[p : p + window].sum() >= edge_u:
            best = max(best, units[p : p + window].sum())
            p += 1
        end = p + window - 1 if p + window <= n else n
        if best > peak_u:
            out.append((start, end))
    return out


@pytest.mark.parametrize("block", [100_000, 333])
def test_helixerpost_regions_follow_its_window_scan(block):
    from genetune.decode.regions import helixerpost_regions

    rng = np.random.default_rng(2)
    p_ig = np.ones(6000, np.float32)
    for a, b, level in ((200, 900, 0.05), (1500, 1600, 0.85), (2500, 3400, 0.3), (5800, 6000, 0.01), (4000, 4060, 0.0)):
        p_ig[a:b] = level
    p_ig = np.clip(p_ig + rng.normal(0, 0.02, len(p_ig)), 0, 1).astype(np.float16)
    expected = _helixerpost_regions_by_definition(p_ig, 100, 0.1, 0.8)
    got = helixerpost_regions(_reader(p_ig), len(p_ig), 100, 0.1, 0.8, block)
    assert got == expected
    assert [e for _, e in got][-1] == 6000  # a region running into the sequence end ends there
    assert not any(s <= 1500 < e for s, e in got)  # weakly genic stretch: never above the peak
    assert helixerpost_regions(_reader(p_ig[:99]), 99) == []  # shorter than a window


def test_helixerpost_preset_forces_utrs_and_decodes_only_regions(tiny_species, tmp_path):
    d = tiny_species["dir"]
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5")
    cfg = DecodeConfig.from_dict({"preset": "helixerpost"})
    assert cfg.regions == "helixerpost" and cfg.require_utr and cfg.min_cds_length == 60
    decode_h5(d / "genome.h5", tmp_path / "p.h5", tmp_path / "a.gff3", cfg)
    genes = read_gff3(tmp_path / "a.gff3")
    assert len(genes) >= len(tiny_species["transcripts"]) - 2
    for t in genes:
        if not (t.partial5 or t.partial3):
            assert t.exons[0][0] < t.cds[0][0] and t.cds[-1][1] < t.exons[-1][1]  # UTRs of >= 1 bp
    with pytest.raises(InputError, match="preset"):
        DecodeConfig.from_dict({"preset": "augustus"})


def test_config_validation_keeps_a_decoder_preset_intact():
    """The workflow's validation (common.smk) fills no decoder defaults (the schema's decode section is
    x-defaults-after-preset: DecodeConfig applies them after the preset), so a preset is not overridden."""
    from pathlib import Path

    import yaml

    from genetune.core.settings import validate_config

    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    config["decode"] = {"preset": "helixerpost", "min_intron": 40}
    validate_config(config)
    assert config["decode"] == {"preset": "helixerpost", "min_intron": 40} and config["select"]["strata"] == 6
    cfg = DecodeConfig.from_dict(config["decode"])
    assert cfg == DecodeConfig.helixerpost(min_intron=40) and cfg.require_utr and cfg.gene_penalty == 0


@pytest.mark.parametrize("preset", [None, "helixerpost"])
def test_decoding_streams_strands_in_pieces_with_the_same_result(tiny_species, tmp_path, monkeypatch, preset):
    """With small streaming blocks no read spans a whole strand, and the gene models are unchanged."""
    from genetune.decode import regions
    from genetune.io import chunks

    d = tiny_species["dir"]
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5", sharpness=0.995)  # confident intergenic
    # long introns keep quiet runs shorter than the profile's longest introns in one piece: off here
    cfg = DecodeConfig.from_dict({"preset": preset} if preset else {"min_intron": 20, "long_introns": False})
    decode_h5(d / "genome.h5", tmp_path / "p.h5", tmp_path / "whole.gff3", cfg)
    spans = []
    original = chunks.StrandReader.read

    def recording(self, a, b):
        spans.append(b - a)
        return original(self, a, b)

    monkeypatch.setattr(regions, "BLOCK", 3000)
    monkeypatch.setattr(chunks.StrandReader, "read", recording)
    decode_h5(d / "genome.h5", tmp_path / "p.h5", tmp_path / "streamed.gff3", cfg)
    assert (tmp_path / "streamed.gff3").read_text() == (tmp_path / "whole.gff3").read_text()
    assert read_gff3(tmp_path / "whole.gff3") and max(spans) < 15000  # blocks and genes, not 30 kb strands


def _donor_choice_case():
    """Exon 1 from the ATG at 20 ends at 58 (donor GT at 59); a GT six bases earlier keeps the frame
    too. The class probabilities call those six bases intron (0.6 against 0.35), the boundary
    probabilities put the donor on base 58."""
    seq = "C" * 20 + "ATG" + "AAA" * 10 + "GTAAGA" + "GT" + "C" * 36 + "AG" + "AAA" * 5 + "TAA" + "C" * 20
    n = len(seq)
    probs = np.tile(np.array([0.95, 0.01, 0.02, 0.02], np.float32), (n, 1))
    probs[20:53] = [0.04, 0.01, 0.9, 0.05]
    probs[53:59] = [0.04, 0.01, 0.35, 0.6]
    probs[59:99] = [0.05, 0.01, 0.04, 0.9]
    probs[99:117] = [0.04, 0.01, 0.9, 0.05]
    boundary = np.full((n, 4), 0.001, np.float32)
    boundary[20, 2] = boundary[116, 3] = 0.9  # start codon, stop codon
    boundary[58, 1], boundary[52, 1] = 0.9, 0.01  # the true donor, the one the classes prefer
    boundary[99, 0] = 0.9  # acceptor
    return CODE[np.frombuffer(seq.encode(), np.uint8)], probs, boundary


def test_boundary_probabilities_put_the_exon_edge_where_the_classes_alone_miss_it():
    codes, probs, boundary = _donor_choice_case()
    phase = np.full((len(codes), 4), 0.25, np.float32)
    cfg = DecodeConfig(min_cds_length=6, gene_penalty=0.0, phase_weight=0.0, boundary_weight=1.0)
    alone = genes_from_path(decode_strand(codes, probs, phase, Scorer.build(cfg)), cfg.min_cds_length)
    with_boundaries = genes_from_path(
        decode_strand(codes, probs, phase, Scorer.build(cfg), boundary=boundary), cfg.min_cds_length
    )
    assert alone[0].cds == [(20, 53), (99, 117)]  # intron opened at the first GT: wrong
    assert with_boundaries[0].cds == [(20, 59), (99, 117)]
    off = DecodeConfig(min_cds_length=6, gene_penalty=0.0, phase_weight=0.0, boundary_weight=0.0)
    genes_off = genes_from_path(
        decode_strand(codes, probs, phase, Scorer.build(off), boundary=boundary), off.min_cds_length
    )
    assert genes_off[0].cds == alone[0].cds


def test_gene_score_rewards_agreement_and_confident_boundaries():
    from genetune.decode.genes import gene_score

    codes, probs, boundary = _donor_choice_case()
    phase = np.full((len(codes), 4), 0.25, np.float32)
    cfg = DecodeConfig(min_cds_length=6, gene_penalty=0.0, phase_weight=0.0)
    path = decode_strand(codes, probs, phase, Scorer.build(cfg), boundary=boundary)
    gene = genes_from_path(path, cfg.min_cds_length)[0]
    good = gene_score(gene, path, probs, boundary)
    weak = boundary.copy()
    weak[weak > 0.5] = 0.3
    assert 0.8 < good <= 1 and gene_score(gene, path, probs, weak) < good - 0.2
    classes = [2] * 39 + [3] * 40 + [2] * 18  # CDS, intron, CDS
    assert gene_score(gene, path, probs) == pytest.approx(np.mean(probs[np.arange(20, 117), classes]))


def test_of_genes_overlapping_on_opposite_strands_the_better_scored_stays():
    from genetune.decode.genes import resolve_opposite_strand_overlaps
    from genetune.io.gff import Transcript

    a = Transcript("s", "+", [(100, 400)], [(100, 400)], score=0.9)
    b = Transcript("s", "-", [(300, 700)], [(300, 700)], score=0.5)  # overlaps a on the other strand
    c = Transcript("s", "-", [(800, 900)], [(800, 900)], score=0.2)
    d = Transcript("s", "+", [(350, 380)], [(350, 380)], score=0.1)  # same strand as a: not compared
    assert resolve_opposite_strand_overlaps([a, b, c, d]) == [a, c, d]


def test_scattered_decoding_gathers_into_the_bytes_one_run_writes(tiny_species, tmp_path):
    """Pieces are consecutive groups of whole sequences; their GFF3 bodies in piece order with the
    first piece's header are the unscattered file, byte for byte."""
    from genetune.io.gather import gather_gff3

    d = tiny_species["dir"]
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5", sharpness=0.5, noise=0.6, seed=1)
    decode_h5(d / "genome.h5", tmp_path / "p.h5", tmp_path / "whole.gff3", comments=["x"])
    parts = []
    for k in range(3):
        parts.append(tmp_path / f"{k}.gff3")
        decode_h5(d / "genome.h5", tmp_path / "p.h5", parts[-1], piece=(k, 3), comments=["x"])
    gather_gff3(parts, tmp_path / "gathered.gff3")
    assert (tmp_path / "gathered.gff3").read_bytes() == (tmp_path / "whole.gff3").read_bytes()
    assert len({p.read_text().count("\tgene\t") for p in parts}) > 1  # the pieces really split the genes


def _codes(seq):
    return CODE[np.frombuffer(seq.encode(), np.uint8)]


def _gene(exons, cds):
    return Gene(exons=exons, cds=cds)


def test_a_start_moves_up_to_the_first_in_frame_atg_of_its_open_frame():
    # in frame from the called ATG at 24: TAA(9) ATG(12) CCC ATG(18) CCC; ATG(1) is off frame
    seq = "CATGCC" + "CCC" + "TAA" + "ATG" + "CCC" + "ATG" + "CCC" + "ATG" + "AAA" * 10 + "TGA"
    called = 24
    gene = _gene([(called, len(seq))], [(called, len(seq))])
    moved = first_atg(gene, _codes(seq))
    assert moved.cds == [(12, len(seq))] and moved.exons == [(12, len(seq))]
    assert first_atg(gene, _codes(seq), not_before=14).cds == [(18, len(seq))]  # not into the previous gene
    assert first_atg(_gene([(0, 3)], [(0, 3)]), _codes("ATG")) == _gene([(0, 3)], [(0, 3)])


def test_a_start_stays_in_its_exon_when_the_exon_begins_upstream_of_it():
    seq = "ATG" + "CCC" + "ATG" + "CCC" + "ATG" + "AAA" * 10 + "TGA"
    utr = _gene([(3, len(seq))], [(12, len(seq))])  # a 5'UTR from 3: the ATG at 0 is outside the exon
    assert first_atg(utr, _codes(seq)).cds == [(6, len(seq))]
    assert first_atg(utr, _codes(seq)).exons == [(3, len(seq))]
    cut = Gene([(12, len(seq))], [(12, len(seq))], partial5=True)
    assert first_atg(cut, _codes(seq)) == cut  # a gene cut by the sequence end has no start to move


def test_decoding_starts_genes_at_the_first_atg_unless_asked_not_to(tmp_path):
    """Perfect predictions of a gene at the downstream ATG: decode_h5 moves its start up the open frame."""
    seq = "C" * 300 + "TAA" + "ATG" + "GCC" * 5 + "ATG" + "GCA" * 40 + "TAA" + "C" * 300
    up, down = 303, 321
    end = down + 3 + 120 + 3
    write_fasta({"s1": seq}, tmp_path / "g.fa")
    write_gff3(
        [Transcript("s1", "+", [(down, end)], [(down, end)], "g1", "g1.1")],
        {"s1": len(seq)},
        tmp_path / "a.gff3",
        "test",
    )
    ingest_genome(tmp_path / "g.fa", "toy", tmp_path / "genome.h5", length=1008)
    gff_to_labels(tmp_path / "a.gff3", tmp_path / "genome.h5", tmp_path / "labels.h5")
    predictions_from_labels(tmp_path / "labels.h5", tmp_path / "p.h5", sharpness=0.99)
    for first, start in ((True, up), (False, down)):
        decode_h5(tmp_path / "genome.h5", tmp_path / "p.h5", tmp_path / "d.gff3", DecodeConfig(first_atg=first))
        assert [t.cds for t in read_gff3(tmp_path / "d.gff3")] == [[(start, end)]]
