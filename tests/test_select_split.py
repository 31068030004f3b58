import h5py
import numpy as np
import pytest

from genetune import layout
from genetune.errors import InputError
from genetune.select import select_confident, select_rows
from genetune.simulate import predictions_from_labels
from genetune.split import split_seqids, split_train_val, split_units


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
    rows, conf = select_confident(d / "labels.h5", tmp_path / "p.h5", tmp_path / "c.h5", keep_fraction=0.5)
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
        select_confident(d / "labels.h5", tmp_path / "p.h5", tmp_path / "c.h5")


def test_split_is_by_whole_sequence_deterministic_and_never_empty():
    seqids = np.repeat([f"s{i}" for i in range(10)], [9, 8, 7, 6, 5, 4, 3, 2, 1, 1])
    train, val = split_seqids(seqids, 0.2, seed=5)
    assert not set(train) & set(val) and set(train) | set(val) == set(seqids)
    assert val and (train, val) == split_seqids(seqids, 0.2, seed=5)
    assert split_seqids(np.array(["a", "a", "b"]), 0.2, 1)[1]
    with pytest.raises(InputError, match="need at least 2"):
        split_seqids(np.array(["a", "a"]), 0.2, 1)


def test_split_files_are_self_contained_with_coverage(tiny_species, tmp_path):
    from genetune.coverage import add_coverage
    d = tiny_species["dir"]
    add_coverage(d / "genome.h5", [d / "rnaseq.bam"], "reverse", tmp_path / "cov.h5")
    train, val = split_train_val(d / "labels.h5", tmp_path / "t.h5", tmp_path / "v.h5", tmp_path / "cov.h5",
                                 min_units=1)  # by whole sequence
    with h5py.File(tmp_path / "t.h5") as t, h5py.File(tmp_path / "cov.h5") as c:
        ids = t[layout.SEQIDS][:].astype(str)
        assert set(ids) == set(train)
        cov = t[layout.coverage_name()][:]
        full = c[layout.coverage_name()][:]
        rows = np.flatnonzero(np.isin(c[layout.SEQIDS][:].astype(str), train))
        assert np.array_equal(cov, full[rows])
        assert t[layout.bam_files_name()].shape == (1,)


def test_a_genome_of_few_sequences_is_split_by_region_with_both_strands_together():
    from genetune.chunks import chunk_coords
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
