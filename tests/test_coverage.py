import h5py
import numpy as np
import pysam
import pytest
from conftest import write

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.evidence.coverage import add_coverage
from genetune.io.fasta import ingest_genome

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


def _reference_counts(bam_path, seq_lengths, strandedness, min_mapq=0, skip_duplicates=False):
    """Helixer's rules written plainly over pysam's reads: {seqid: (4, n)} cov+, cov-, spl+, spl-."""
    out = {s: np.zeros((4, n), np.int64) for s, n in seq_lengths.items()}
    with pysam.AlignmentFile(str(bam_path)) as bam:
        for read in bam.fetch(until_eof=True):
            if read.is_unmapped or read.is_secondary or read.is_qcfail:
                continue
            if read.mapping_quality < min_mapq or (skip_duplicates and read.is_duplicate):
                continue
            if strandedness == "unstranded":
                minus = read.is_reverse
            else:
                first = read.is_read1 or not read.is_paired
                minus = read.is_reverse != (first if strandedness == "reverse" else not first)
            arr, pos = out[read.reference_name], read.reference_start
            for op, n in read.cigartuples:
                if op in (0, 7, 8, 2, 3):
                    arr[(2 if op in (2, 3) else 0) + minus, pos : pos + n] += 1
                    pos += n
    return out


def _random_bam(path, contigs, n_reads, rng, paired=True):
    """Every flag combination that matters, deletions, insertions, clips, long introns, reads
    running past the sequence end, secondary alignments without SEQ; one contig left empty."""
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": n, "LN": ln} for n, ln in contigs]}
    reads = []
    for _ in range(n_reads):
        ref = int(rng.integers(len(contigs) - 1))  # the last contig gets no reads
        ln = contigs[ref][1]
        ops, qlen = [], 0
        if rng.random() < 0.2:
            ops.append((4, int(rng.integers(1, 6))))
        for k in range(int(rng.integers(1, 4))):
            if k:
                ops.append((int(rng.choice([3, 3, 2, 1])), int(rng.choice([2, 50, 900, 3000]))))
            ops.append((int(rng.choice([0, 0, 7, 8])), int(rng.integers(5, 60))))
        qlen = sum(n for op, n in ops if op in (0, 1, 4, 7, 8))
        flag = int(rng.choice([0, 16]))
        if paired:
            flag |= 1 | int(rng.choice([64, 128]))
        for bit, p in ((256, 0.05), (512, 0.05), (1024, 0.1), (2048, 0.05), (4, 0.03)):
            if rng.random() < p:
                flag |= bit
        start = int(rng.integers(0, ln - 5))
        reads.append((ref, start, ops, flag, qlen, int(rng.integers(0, 61))))
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for i, (ref, start, ops, flag, qlen, mapq) in enumerate(sorted(reads, key=lambda r: (r[0], r[1]))):
            s = pysam.AlignedSegment()
            s.query_name, s.reference_id, s.reference_start = f"r{i}", ref, start
            s.cigartuples, s.flag, s.mapping_quality = ops, flag, mapq
            if not flag & 256:
                s.query_sequence = "A" * qlen
            bam.write(s)
    return path


@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize("strandedness", ["reverse", "forward", "unstranded"])
def test_counts_equal_helixer_rules_over_pysam_reads(tmp_path, paired, strandedness):
    """The record decoder against the rules applied to pysam's reads: small windows (many carried
    events across window ends), two BAMs in one file, filters as options; no index beside the BAM."""
    rng = np.random.default_rng(7 if paired else 8)
    contigs = (("a", 5000), ("b", 1300), ("c", 800))
    fa = write(tmp_path / "g.fa", "".join(f">{n}\n{'ACGT' * (ln // 4)}\n" for n, ln in contigs))
    ingest_genome(fa, "sp", tmp_path / "g.h5", L)
    bams = [_random_bam(tmp_path / f"r{k}.bam", contigs, 400, rng, paired) for k in range(2)]
    lengths = dict(contigs)
    for opts in ({}, {"min_mapq": 30, "skip_duplicates": True}):
        add_coverage(tmp_path / "g.h5", bams, strandedness, tmp_path / "c.h5", block_chunks=3, threads=2, **opts)
        with h5py.File(tmp_path / "c.h5") as h5:
            cov, spl = h5[layout.coverage_name()][:], h5[layout.spliced_coverage_name()][:]
            keys = list(zip(h5[layout.SEQIDS][:].astype(str), h5[layout.START_ENDS][:]))
        for j, b in enumerate(bams):
            ref = _reference_counts(b, lengths, strandedness, **opts)
            for r, (sid, (s, e)) in enumerate(keys):
                n = abs(e - s)
                if s < e:
                    want_c, want_s = ref[sid][0, s:e], ref[sid][2, s:e]
                else:
                    want_c, want_s = ref[sid][1, e:s][::-1], ref[sid][3, e:s][::-1]
                assert np.array_equal(cov[r, :n, j], want_c) and np.array_equal(spl[r, :n, j], want_s), (j, r)
                assert (cov[r, n:, j] == -1).all() and (spl[r, n:, j] == -1).all()
    assert not list(tmp_path.glob("*.bai")), "no index is written beside the inputs"


def test_unsorted_bam_is_a_clear_error_and_writes_nothing(genome, tmp_path):
    bam = tmp_path / "u.bam"
    header = {"HD": {"VN": "1.6", "SO": "unsorted"}, "SQ": [{"SN": "s", "LN": 100}]}
    with pysam.AlignmentFile(str(bam), "wb", header=header) as out:
        for i, start in enumerate((50, 10)):
            s = pysam.AlignedSegment()
            s.query_name, s.reference_id, s.reference_start, s.cigarstring = f"r{i}", 0, start, "5M"
            s.query_sequence = "AAAAA"
            out.write(s)
    with pytest.raises(InputError, match=r"u\.bam: .*coordinate-sorted"):
        add_coverage(genome, [bam], "reverse", tmp_path / "c.h5")
    assert not (tmp_path / "c.h5").exists() and not list(tmp_path.glob("*.bai"))


def test_bam_sequences_missing_from_the_genome_are_listed(genome, tmp_path):
    bam = _bam(tmp_path / "r.bam", [(10, "5M", 0)], contigs=(("s", 100), ("chrM", 16000), ("decoy", 5)))
    with pytest.raises(InputError, match=r"r\.bam: .*not in the genome: chrM, decoy"):
        add_coverage(genome, [bam], "reverse", tmp_path / "c.h5")


def test_empty_bam_warns_and_gives_zero_coverage(genome, tmp_path, caplog):
    bam = _bam(tmp_path / "e.bam", [])
    assert add_coverage(genome, [bam], "reverse", tmp_path / "c.h5") == [0]
    assert "no usable alignments" in caplog.text
    with h5py.File(tmp_path / "c.h5") as h5:
        cov = h5[layout.coverage_name()][:]
    assert set(np.unique(cov)) == {-1, 0}


def test_truncated_bam_is_an_error(genome, tmp_path):
    bam = _bam(tmp_path / "r.bam", [(k, "50M", 0) for k in range(0, 50)] * 40)
    data = (tmp_path / "r.bam").read_bytes()
    (tmp_path / "r.bam").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"r\.bam: (truncated|.*BGZF)"):
        add_coverage(genome, [bam], "reverse", tmp_path / "c.h5")
    assert not (tmp_path / "c.h5").exists()


@pytest.mark.parametrize(
    "declared, verdict",
    [
        ("reverse", "ok"),
        ("forward", "declared 'forward' but the reads look 'reverse'"),
        ("unstranded", "declared 'unstranded' but the reads look 'reverse'"),
    ],
)
def test_strandedness_check_reads_intron_motifs(tiny_species, tmp_path, caplog, declared, verdict):
    """The simulated library is dUTP: intron motifs (GT-AG on the transcript strand) say so."""
    d = tiny_species["dir"]
    add_coverage(d / "genome.h5", [d / "rnaseq.bam"], declared, tmp_path / "c.h5", report=tmp_path / "s.tsv")
    lines = (tmp_path / "s.tsv").read_text().splitlines()
    row = dict(zip(lines[0].split("\t"), lines[1].split("\t")))
    assert row["looks"] == "reverse" and row["verdict"] == verdict
    assert float(row["agree_reverse"]) > 0.95 and int(row["introns_with_motif"]) >= 50
    assert ("!!!" in caplog.text) == (verdict != "ok")
