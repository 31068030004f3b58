import h5py
import numpy as np
import pytest

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.demo.simulate import predictions_from_labels
from genetune.pseudolabels.select import SelectConfig, gene_scores, select_confident, select_rows
from genetune.pseudolabels.split import split_seqids, split_train_val, split_units


def test_each_stratum_keeps_its_most_confident_chunks():
    conf = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3])
    ig = np.array([0.0, 0.0, 0.5, 0.5, 1.0, 1.0])
    rows = select_rows(conf, ig, np.ones(6, bool), keep_fraction=0.5, n_strata=3)
    assert list(rows) == [0, 2, 4]


def test_ties_in_intergenic_fraction_do_not_collapse_strata():
    conf = np.linspace(0, 1, 12)
    ig = np.ones(12)  # all chunks fully intergenic: Helixer's quantile ranks collapse to one
    rows = select_rows(conf, ig, np.ones(12, bool), keep_fraction=0.5, n_strata=6)
    assert len(rows) == 6 and len(set(rows)) == 6


def test_selection_prefers_chunks_where_predictions_agree_with_labels(tiny_species, tmp_path):
    d = tiny_species["dir"]
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5", sharpness=0.5, noise=0.8, seed=1)
    rows, conf = select_confident(
        d / "labels.h5", tmp_path / "p.h5", tmp_path / "c.h5", SelectConfig(unit="chunk", keep_fraction=0.5)
    )
    with h5py.File(tmp_path / "c.h5") as c, h5py.File(d / "labels.h5") as lab:
        assert len(c[layout.X]) == len(rows)
        assert np.array_equal(c[layout.Y][:], lab[layout.Y][np.sort(rows)])
        assert c.attrs["mean_confidence_kept"] >= c.attrs["mean_confidence_all"]


def test_mismatched_chunks_are_an_error_not_silently_paired(tiny_species, tmp_path):
    d = tiny_species["dir"]
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5")
    with h5py.File(tmp_path / "p.h5", "a") as p:
        se = p[layout.START_ENDS][:]
        se[[0, 1]] = se[[1, 0]]
        p[layout.START_ENDS][...] = se
    with pytest.raises(InputError, match="do not match"):
        select_confident(d / "labels.h5", tmp_path / "p.h5", tmp_path / "c.h5", SelectConfig(unit="chunk"))


def test_split_is_by_whole_sequence_deterministic_and_never_empty():
    seqids = np.repeat([f"s{i}" for i in range(10)], [9, 8, 7, 6, 5, 4, 3, 2, 1, 1])
    train, val = split_seqids(seqids, 0.2, seed=5)
    assert not set(train) & set(val) and set(train) | set(val) == set(seqids)
    assert val and (train, val) == split_seqids(seqids, 0.2, seed=5)
    assert split_seqids(np.array(["a", "a", "b"]), 0.2, 1)[1]
    with pytest.raises(InputError, match="need at least 2"):
        split_seqids(np.array(["a", "a"]), 0.2, 1)


def test_split_files_are_self_contained_with_coverage(tiny_species, tmp_path):
    from genetune.evidence.coverage import add_coverage

    d = tiny_species["dir"]
    add_coverage(d / "genome.h5", [d / "rnaseq.bam"], "reverse", tmp_path / "cov.h5")
    train, val = split_train_val(
        d / "labels.h5", tmp_path / "t.h5", tmp_path / "v.h5", tmp_path / "cov.h5", min_units=1
    )  # by whole sequence
    with h5py.File(tmp_path / "t.h5") as t, h5py.File(tmp_path / "cov.h5") as c:
        ids = t[layout.SEQIDS][:].astype(str)
        assert set(ids) == set(train)
        cov = t[layout.coverage_name()][:]
        full = c[layout.coverage_name()][:]
        rows = np.flatnonzero(np.isin(c[layout.SEQIDS][:].astype(str), train))
        assert np.array_equal(cov, full[rows])
        assert t[layout.bam_files_name()].shape == (1,)


def test_a_genome_of_few_sequences_is_split_by_region_with_both_strands_together():
    from genetune.io.chunks import chunk_coords

    L = 100
    keys = [("big", c) for c in chunk_coords(2000, L)] + [("small", c) for c in chunk_coords(150, L)]
    seqids = np.array([k for k, _ in keys])
    start_ends = np.array([c for _, c in keys])
    units, region_chunks = split_units(seqids, start_ends, L, min_units=10)
    assert region_chunks == 2  # 22 plus chunks // 10
    for u in set(units):
        rows = np.flatnonzero(units == u)
        spans = {(min(a, b), max(a, b)) for a, b in start_ends[rows]}
        plus = {(a, b) for a, b in start_ends[rows] if a < b}
        assert spans == plus  # every region holds the minus chunks of its plus chunks
    train, val = split_seqids(units, 0.2, seed=1)
    assert val and train and not set(train) & set(val)
    by_sequence, chunks = split_units(seqids, start_ends, L, min_units=2)  # enough sequences: whole ones
    assert chunks == 0 and np.array_equal(by_sequence, seqids.astype(str))


def test_split_fraction_and_outputs_are_checked(tiny_species, tmp_path):
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        split_seqids(np.array(["a", "b"]), 1.0, 1)
    with pytest.raises(InputError, match="same file"):
        split_train_val(tiny_species["dir"] / "labels.h5", tmp_path / "x.h5", tmp_path / "x.h5")


def _with_decoy(tiny_species, tmp_path):
    """The truth annotation plus a decoy two-exon gene in an intergenic stretch of chr... (no reads)."""
    from genetune.io.gff import read_gff3

    d = tiny_species["dir"]
    genes = read_gff3(d / "annotation.gff3")
    seq = next(t.seqid for t in genes)
    spans = sorted((t.start, t.end) for t in genes if t.seqid == seq)
    gap = max(zip(spans, spans[1:]), key=lambda ab: ab[1][0] - ab[0][1])
    lo = gap[0][1] + 300
    text = (d / "annotation.gff3").read_text()
    text += (
        f"{seq}\tdecoy\tgene\t{lo + 1}\t{lo + 600}\t.\t+\t.\tID=decoy\n"
        f"{seq}\tdecoy\tmRNA\t{lo + 1}\t{lo + 600}\t.\t+\t.\tID=decoy.1;Parent=decoy\n"
        f"{seq}\tdecoy\texon\t{lo + 1}\t{lo + 200}\t.\t+\t.\tParent=decoy.1\n"
        f"{seq}\tdecoy\texon\t{lo + 401}\t{lo + 600}\t.\t+\t.\tParent=decoy.1\n"
        f"{seq}\tdecoy\tCDS\t{lo + 1}\t{lo + 200}\t.\t+\t0\tParent=decoy.1\n"
        f"{seq}\tdecoy\tCDS\t{lo + 401}\t{lo + 600}\t.\t+\t1\tParent=decoy.1\n"
    )
    (tmp_path / "with_decoy.gff3").write_text(text)
    return tmp_path / "with_decoy.gff3", seq, lo


def test_gene_scores_use_spliced_reads_and_rejected_genes_are_masked_on_their_strand(tiny_species, tmp_path):
    """The network is equally sure of every gene (perfect predictions of the labels), so the reads
    decide: the decoy's intron has no spliced read and its exons no coverage. Kept genes keep their
    weights; the rejected ones are masked, margin included, on their own strand only."""
    from genetune.evidence.coverage import add_coverage
    from genetune.pseudolabels.labels import gff_to_labels

    d = tiny_species["dir"]
    gff, seq, lo = _with_decoy(tiny_species, tmp_path)
    gff_to_labels(gff, d / "genome.h5", tmp_path / "labels.h5", error_masks=False)
    predictions_from_labels(tmp_path / "labels.h5", tmp_path / "p.h5")
    add_coverage(d / "genome.h5", [d / "rnaseq.bam"], "reverse", tmp_path / "cov.h5")
    cfg = SelectConfig(keep_fraction=0.75, evidence_weight=0.5, mask_margin=20)
    select_confident(
        tmp_path / "labels.h5",
        tmp_path / "p.h5",
        tmp_path / "c.h5",
        cfg,
        gff,
        tmp_path / "cov.h5",
        tmp_path / "genes.tsv",
    )
    lines = (tmp_path / "genes.tsv").read_text().splitlines()
    assert lines[0].split("\t") == [
        "seqid",
        "strand",
        "start",
        "end",
        "gene_id",
        "confidence",
        "intron_support",
        "exon_coverage",
        "score",
        "evidence",
        "kept",
    ]
    rows = [dict(zip(lines[0].split("\t"), ln.split("\t"))) for ln in lines[1:]]
    decoy = next(r for r in rows if r["gene_id"] == "decoy")
    real = [r for r in rows if r["gene_id"] != "decoy"]
    assert decoy["kept"] == "no" and float(decoy["intron_support"]) == 0 and float(decoy["exon_coverage"]) < 0.05
    assert min(float(r["confidence"]) for r in rows) > 0.9  # the network cannot tell them apart
    assert float(decoy["score"]) < min(float(r["score"]) for r in real if r["kept"] == "yes")
    with h5py.File(tmp_path / "c.h5") as c:
        ids, se, sw = c[layout.SEQIDS][:].astype(str), c[layout.START_ENDS][:], c[layout.SAMPLE_WEIGHTS]
        assert c.attrs["n_genes"] == len(rows) and c.attrs["n_genes_kept"] == round(0.75 * len(rows))
        plus = next(i for i in range(len(ids)) if ids[i] == seq and se[i, 0] <= lo < se[i, 1])
        a = int(se[plus, 0])
        assert not sw[plus][lo - 20 - a : lo + 620 - a].any() and sw[plus][lo - 25 - a] > 0
        minus = next(i for i in range(len(ids)) if ids[i] == seq and se[i, 1] <= lo < se[i, 0])
        s0 = int(se[minus, 0])
        assert sw[minus][s0 - (lo + 600) : s0 - lo].all()  # the other strand keeps its weights


def test_without_rnaseq_the_network_confidence_ranks_the_genes(tiny_species, tmp_path):
    from genetune.io.gff import read_gff3, select_transcripts

    d = tiny_species["dir"]
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5", sharpness=0.5, noise=0.8, seed=2)
    transcripts = select_transcripts(read_gff3(d / "annotation.gff3"))
    genes = gene_scores(transcripts, d / "genome.h5", tmp_path / "p.h5")
    single = SelectConfig().single_exon_weight
    assert all(
        g["score"] == pytest.approx(g["confidence"] * (single if len(t.exons) == 1 else 1))
        and g["intron_support"] is None
        for g, t in zip(genes, transcripts)
    )
    assert len({round(g["score"], 4) for g in genes}) > 1


def test_genes_whose_every_intron_the_reads_show_are_chosen_first(tiny_species, tmp_path):
    """BRAKER's rule: with junctions, multi-exon genes with all introns supported outrank any
    unsupported gene, however confident the network is about it."""
    from genetune.io.gff import read_gff3, select_transcripts
    from genetune.pseudolabels.select import read_genes_tsv

    d = tiny_species["dir"]
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5", sharpness=0.5, noise=0.8, seed=2)
    transcripts = [t for t in select_transcripts(read_gff3(d / "annotation.gff3")) if len(t.exons) > 1]
    genes = gene_scores(transcripts, d / "genome.h5", tmp_path / "p.h5")
    by_conf = sorted(range(len(genes)), key=lambda i: genes[i]["confidence"])
    supported = [transcripts[i] for i in by_conf[: len(by_conf) // 2]]  # the least confident half
    junctions = [
        (t.seqid, t.strand, t.exons[k][1], t.exons[k + 1][0], 5) for t in supported for k in range(len(t.exons) - 1)
    ]
    n = len(read_gff3(d / "annotation.gff3"))
    select_confident(
        d / "labels.h5",
        tmp_path / "p.h5",
        tmp_path / "c.h5",
        SelectConfig(keep_fraction=len(supported) / n),
        d / "annotation.gff3",
        genes_tsv=tmp_path / "genes.tsv",
        junctions=junctions,
    )
    assert read_genes_tsv(tmp_path / "genes.tsv") == {(t.seqid, t.gene_id) for t in supported}


def test_a_validation_gene_near_identical_to_a_training_gene_is_a_paralog():
    from genetune.pseudolabels.split import paralogs_across

    rng = np.random.default_rng(0)
    base = rng.integers(0, 4, 900).astype(np.uint8)
    copy = base.copy()
    copy[::50] = (copy[::50] + 1) % 4  # 2% of the bases differ
    other = rng.integers(0, 4, 900).astype(np.uint8)
    seqs = {0: base.tobytes(), 1: copy.tobytes(), 2: other.tobytes()}
    assert paralogs_across(["train", "val", "val"], seqs) == [1]
    assert paralogs_across(["val", "val", "val"], seqs) == []  # paralogs on one side stay


def test_selection_settings_are_checked():
    with pytest.raises(InputError, match="select: unknown key keep"):
        SelectConfig.from_dict({"keep": 0.5})
    with pytest.raises(InputError, match="select.keep_fraction: 0 must be > 0"):
        SelectConfig.from_dict({"keep_fraction": 0})
    with pytest.raises(InputError, match='select.unit: "exon" is not one of'):
        SelectConfig.from_dict({"unit": "exon"})


def test_reads_on_one_sequence_still_put_junctions_into_validation_and_training():
    """Twelve sequences, split by whole sequence, but reads on one of them only: that sequence is cut
    into one-chunk regions, and about val_fraction of its junctions go to validation, the rest train."""
    from genetune.io.chunks import chunk_coords
    from genetune.pseudolabels.split import evidence_units

    L = 100
    keys = [(f"s{i:02d}", c) for i in range(12) for c in chunk_coords(1000 if i == 3 else 300, L)]
    seqids = np.array([k for k, _ in keys])
    start_ends = np.array([c for _, c in keys])
    junctions = [("s03", "+", 10 + 50 * k, 40 + 50 * k, 5) for k in range(20)]  # 20 junctions over s03
    units, _, evidence = evidence_units(junctions, seqids, start_ends, L)
    assert sorted(evidence) == [f"s03:{k}" for k in range(10)] and sum(evidence.values()) == 20
    train, val = split_seqids(units, 0.3, seed=1, evidence=evidence)
    in_val = sum(n for u, n in evidence.items() if u in val)
    assert 6 <= in_val <= 8 and sum(n for u, n in evidence.items() if u in train) == 20 - in_val
    assert any(u.startswith("s") and ":" not in u for u in val)  # the other sequences are split too
    units_without, _, none = evidence_units(None, seqids, start_ends, L)
    assert none == {} and set(units_without) == set(seqids)  # no reads: whole sequences as before


def test_the_split_file_records_its_validation_junctions(tiny_species, tmp_path):
    d = tiny_species["dir"]
    from genetune.io.gff import read_gff3

    genes = [t for t in read_gff3(d / "annotation.gff3") if t.seqid == "chr1" and len(t.exons) > 1]
    junctions = [
        (t.seqid, t.strand, a, b, 4)
        for t in genes
        for a, b in zip([e for _, e in t.exons[:-1]], [s for s, _ in t.exons[1:]])
    ]
    assert len(junctions) >= 10
    split_train_val(
        d / "labels.h5", tmp_path / "t.h5", tmp_path / "v.h5", val_fraction=0.3, min_units=1, junctions=junctions
    )  # by whole sequence, but chr1 holds every junction: cut into regions
    with h5py.File(tmp_path / "v.h5") as v, h5py.File(tmp_path / "t.h5") as t:
        n_val, n_train = int(v.attrs["junctions_validation"]), int(v.attrs["junctions_training"])
        assert n_val > 0 and n_train > 0 and n_val + n_train == len(junctions)
        assert "chr1" in set(v[layout.SEQIDS][:].astype(str)) & set(t[layout.SEQIDS][:].astype(str))
