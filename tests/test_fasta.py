import gzip

import h5py
import numpy as np
import pytest
from conftest import write

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.io.chunks import chunk_coords
from genetune.io.fasta import ingest_genome


def _ingest(tmp_path, text, length=72, name="g.fa"):
    fa = write(tmp_path / name, text)
    out = tmp_path / "g.h5"
    ingest_genome(fa, "sp", out, length)
    return h5py.File(out, "r")


def test_chunk_order_matches_helixer_example():
    assert chunk_coords(51321, 21384) == [
        (0, 21384),
        (21384, 42768),
        (42768, 51321),
        (51321, 42768),
        (42768, 21384),
        (21384, 0),
    ]


def test_x_columns_are_c_a_t_g_and_padding_is_zero(tmp_path):
    h5 = _ingest(tmp_path, ">s1 description\nCATG\n")
    x = h5[layout.X][0]
    assert np.array_equal(x[:4], np.eye(4, dtype=np.float16))
    assert not x[4:].any()
    assert h5[layout.SEQIDS][0] == b"s1"
    assert h5[layout.X].dtype == np.float16 and h5[layout.SEQIDS].dtype == np.dtype("S50")


def test_reverse_strand_chunk_is_reverse_complement(tmp_path):
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 200))
    h5 = _ingest(tmp_path, f">s\n{seq}\n")
    se = h5[layout.START_ENDS][:]
    x = h5[layout.X][:]
    assert [tuple(r) for r in se] == chunk_coords(200, 72)
    # minus chunk [144, 72) is the reverse complement of plus chunk [72, 144)
    plus, minus = x[1], x[4]
    assert tuple(se[4]) == (144, 72)
    assert np.array_equal(minus, plus[::-1, ::-1])
    # padded minus chunk [200, 144): valid part first, padding at the end
    assert tuple(se[3]) == (200, 144)
    assert np.array_equal(x[3][:56], x[2][:56][::-1, ::-1]) and not x[3][56:].any()


def test_iupac_codes_become_fractions_and_case_is_ignored(tmp_path):
    h5 = _ingest(tmp_path, ">s\nNrb\n")
    x = h5[layout.X][0][:3].astype(np.float32)
    assert np.allclose(x[0], 0.25)
    assert np.allclose(x[1], [0, 0.5, 0, 0.5])  # R = A/G
    assert np.allclose(x[2], [0.33, 0, 0.33, 0.33], atol=1e-3)  # B = C/G/T


def _gzip(src, dst):
    with open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        fout.write(fin.read())


def _bgzip(src, dst):
    import pysam

    pysam.tabix_compress(str(src), str(dst))


@pytest.mark.parametrize("compress", [_gzip, _bgzip])
def test_compressed_input_equals_plain(tmp_path, compress):
    rng = np.random.default_rng(1)
    text = "".join(f">c{i}\n" + "".join(rng.choice(list("ACGTN"), 500 + 97 * i)) + "\n" for i in range(3))
    plain = _ingest(tmp_path, text)
    compress(tmp_path / "g.fa", tmp_path / "g.fa.gz")
    ingest_genome(tmp_path / "g.fa.gz", "sp", tmp_path / "z.h5", 72)
    with h5py.File(tmp_path / "z.h5") as z:
        for name in (layout.X, layout.SEQIDS, layout.START_ENDS):
            assert np.array_equal(z[name][:], plain[name][:])


def test_streaming_in_small_blocks_writes_the_same_file(tmp_path):
    """Pieces and write blocks smaller than a sequence (and not aligned to lines or chunks)."""
    rng = np.random.default_rng(2)
    seqs = ["".join(rng.choice(list("ACGTRYN"), n)) for n in (1000, 72, 71, 145)]
    text = "".join(
        f">s{i}\n" + "\n".join(q[k : k + 61] for k in range(0, len(q), 61)) + "\n" for i, q in enumerate(seqs)
    )
    fa = write(tmp_path / "g.fa", text)
    ingest_genome(fa, "sp", tmp_path / "big.h5", 72, block_chunks=64)
    ingest_genome(fa, "sp", tmp_path / "small.h5", 72, block_chunks=2)
    with h5py.File(tmp_path / "big.h5") as a, h5py.File(tmp_path / "small.h5") as b:
        for name in (layout.X, layout.SEQIDS, layout.START_ENDS):
            assert np.array_equal(a[name][:], b[name][:])
        se, x = a[layout.START_ENDS][:], a[layout.X][:]
    assert [tuple(r) for r in se[:28]] == chunk_coords(1000, 72)
    ref = "".join("CATG"[i] if v.max() == 1 else "?" for v in x[0][:5].astype(float) for i in [int(v.argmax())])
    assert ref == "".join(c if c in "ACGT" else "?" for c in seqs[0][:5])


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty FASTA"),
        (">a\nACGT\n>a\nACGT\n", "line 3: duplicate sequence id 'a'"),
        (">a\nACGT\nACJT\n", "line 3: character 'J' is not a nucleotide"),
        ("@r1\nACGT\n+\nIIII\n", "looks like FASTQ"),
        (">" + "x" * 51 + "\nACGT\n", "longer than 50 bytes"),
        ("ACGT\n", "before the first '>'"),
        (">a\n>b\nACGT\n", "line 1: sequence has no bases"),
        (">a\nACGT\n>\nACGT\n", "line 3: empty sequence id"),
    ],
)
def test_bad_fasta_gives_one_clear_error_and_writes_nothing(tmp_path, text, message):
    fa = write(tmp_path / "bad.fa", text)
    with pytest.raises(InputError, match=message) as exc:
        ingest_genome(fa, "sp", tmp_path / "out.h5", 72)
    assert str(fa) in str(exc.value)
    assert list(tmp_path.iterdir()) == [fa]
