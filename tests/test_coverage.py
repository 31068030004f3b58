import h5py
import numpy as np
import pysam
import pytest
from conftest import write

from genetune import layout
from genetune.coverage import add_coverage
from genetune.errors import InputError
from genetune.fasta import ingest_genome

L = 72


def _bam(path, reads, contigs=(("s", 100),), sort=True):
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": n, "LN": n_} for n, n_ in contigs]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for i, (start, cigar, flag) in enumerate(sorted(reads)):
            s = pysam.AlignedSegment()
            s.query_name, s.reference_id, s.reference_start = f"r{i}", 0, start
            s.cigarstring, s.flag, s.mapping_quality = cigar, flag, 60
            if not flag & 256:
                n = sum(int(x) for x, op in zip(*_split(cigar)) if op in "MIS=X")
                s.query_sequence = "A" * n
            bam.write(s)
    pysam.index(str(path))
    return path


def _split(cigar):
    import re
    parts = re.findall(r"(\d+)([MIDNSHP=X])", cigar)
    return [p[0] for p in parts], [p[1] for p in parts]


@pytest.fixture
def genome(tmp_path):
    fa = write(tmp_path / "g.fa", ">s\n" + "ACGT" * 25 + "\n")
    ingest_genome(fa, "sp", tmp_path / "g.h5", L)
    return tmp_path / "g.h5"


def _cov(genome, bam, strandedness, tmp_path):
    add_coverage(genome, [bam], strandedness, tmp_path / "c.h5")
    h5 = h5py.File(tmp_path / "c.h5", "r")
    return h5[layout.coverage_name()][:, :, 0], h5[layout.spliced_coverage_name()][:, :, 0], h5


def test_dutp_read1_on_minus_counts_on_plus_strand_with_spliced_gap(genome, tmp_path):
    # read 1, reverse strand (flag 1+64+16): under dUTP its transcript is on '+'
    bam = _bam(tmp_path / "r.bam", [(10, "5M10N5M", 1 + 64 + 16)])
    cov, spl, h5 = _cov(genome, bam, "reverse", tmp_path)
    plus = cov[0]
    assert list(np.flatnonzero(plus)) == list(range(10, 15)) + list(range(25, 30))
    assert list(np.flatnonzero(spl[0])) == list(range(15, 25))
    assert not cov[2:].clip(min=0).any()  # nothing on the minus strand
    assert (cov[1][28:] == -1).all() and (cov[2][28:] == -1).all()  # padding of the 28-bp chunks
    assert h5[layout.bam_files_name()][0].decode().endswith("r.bam")


def test_forward_and_unstranded_protocols(genome, tmp_path):
    bam = _bam(tmp_path / "r.bam", [(10, "5M", 1 + 64 + 16)])
    cov, _, _ = _cov(genome, bam, "forward", tmp_path)
    # forward: read 1 is sense, so a reverse read 1 is minus-strand coverage; minus chunk rows
    # run 5'->3' on the minus strand: genomic 10..14 -> minus chunk [100, 28) positions 85..89
    assert not cov[0].clip(min=0).any()
    minus_rows = cov[2:]
    assert minus_rows.clip(min=0).sum() == 5
    cov_u, _, _ = _cov(genome, bam, "unstranded", tmp_path)
    assert np.array_equal(cov_u, cov)


def test_secondary_without_seq_and_qcfail_are_skipped_supplementary_counted(genome, tmp_path):
    bam = _bam(tmp_path / "r.bam", [(10, "5M", 0 + 256), (20, "5M", 512), (30, "5M", 2048)])
    cov, _, _ = _cov(genome, bam, "forward", tmp_path)
    assert list(np.flatnonzero(cov[0] > 0)) == list(range(30, 35))


def test_bam_with_other_sequence_lengths_is_an_error_listing_them(genome, tmp_path):
    bam = _bam(tmp_path / "r.bam", [(10, "5M", 0)], contigs=(("s", 99),))
    with pytest.raises(InputError, match=r"other length: s \(99 vs 100 bp\)"):
        add_coverage(genome, [bam], "reverse", tmp_path / "c.h5")
    assert not (tmp_path / "c.h5").exists()


def test_simulated_dutp_coverage_follows_genes_on_their_strand(tiny_species, tmp_path):
    d = tiny_species["dir"]
    add_coverage(d / "genome.h5", [d / "rnaseq.bam"], "reverse", tmp_path / "c.h5")
    with h5py.File(tmp_path / "c.h5") as c, h5py.File(d / "labels.h5") as lab:
        cov = c[layout.coverage_name()][:, :, 0]
        spl = c[layout.spliced_coverage_name()][:, :, 0]
        y = lab[layout.Y][:].argmax(-1)
        valid = cov >= 0
    cds_mean = cov[valid & (y == layout.CDS)].mean()
    ig_mean = cov[valid & (y == layout.IG)].mean()
    assert cds_mean > 20 * max(ig_mean, 0.01)
    assert spl[valid & (y == layout.INTRON)].mean() > 10 * spl[valid & (y != layout.INTRON)].mean() + 1
