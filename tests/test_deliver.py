"""What an annotator takes away: proteins, CDS and mRNA FASTA and the GTF (deliver.py)."""

import dataclasses
import shutil
import subprocess

import pytest
from Bio import SeqIO
from Bio.Seq import Seq

from genetune.deliver.deliver import write_gtf, write_sequences
from genetune.io.gff import read_gff3, read_gtf, select_transcripts, write_gff3


def _fasta(path):
    return {r.id: (r.description, str(r.seq)) for r in SeqIO.parse(str(path), "fasta")}


@pytest.fixture(scope="module")
def delivered(tiny_species, tmp_path_factory):
    d = tiny_species["dir"]
    out = tmp_path_factory.mktemp("deliver")
    genes = select_transcripts(read_gff3(d / "annotation.gff3"))
    n = write_sequences(genes, d / "genome.h5", out / "p.faa", out / "c.fna", out / "m.fna")
    return d, out, genes, n


def test_proteins_are_the_cds_translated_by_an_independent_route(delivered):
    """Biopython over gffutils' reading of the GFF3 and the FASTA gives the same proteins, base for base."""
    import gffutils

    d, out, genes, n = delivered
    genome = {r.id: r.seq for r in SeqIO.parse(str(d / "genome.fa"), "fasta")}
    db = gffutils.create_db(str(d / "annotation.gff3"), ":memory:", merge_strategy="create_unique")
    ours = _fasta(out / "p.faa")
    assert n == len(ours) == len([t for t in genes if t.cds])
    for mrna in db.features_of_type("mRNA"):
        if mrna.id not in ours:
            continue
        cds = sorted(db.children(mrna, featuretype="CDS"), key=lambda f: f.start)
        seq = sum((genome[f.seqid][f.start - 1 : f.end] for f in cds), Seq(""))
        if mrna.strand == "-":
            seq = seq.reverse_complement()
        expected = str(seq.translate(to_stop=False)).rstrip("*")
        desc, protein = ours[mrna.id]
        assert protein == "M" + expected[1:], mrna.id
        assert protein.startswith("M") and "*" not in protein
        assert f"gene={mrna.attributes['Parent'][0]}" in desc


@pytest.mark.skipif(shutil.which("gffread") is None, reason="gffread (Debian) is not installed")
def test_gffread_gives_the_same_proteins(delivered):
    d, out, genes, n = delivered
    subprocess.run(
        ["gffread", "-y", str(out / "gffread.faa"), "-g", str(d / "genome.fa"), str(d / "annotation.gff3")],
        check=True,
        capture_output=True,
    )
    theirs = {k: s.rstrip(".*") for k, (_, s) in _fasta(out / "gffread.faa").items()}
    ours = {k: s for k, (_, s) in _fasta(out / "p.faa").items()}
    assert ours and all(theirs[k] == v for k, v in ours.items())


def test_cds_and_mrna_are_the_spliced_bases(delivered):
    d, out, genes, n = delivered
    cds, mrna = _fasta(out / "c.fna"), _fasta(out / "m.fna")
    for t in genes:
        if t.cds:
            assert len(cds[t.transcript_id][1]) == t.coding_length
            assert len(mrna[t.transcript_id][1]) == sum(e - s for s, e in t.exons)
            assert mrna[t.transcript_id][1].find(cds[t.transcript_id][1]) >= 0  # the CDS inside its mRNA


def test_a_cds_cut_by_a_sequence_end_is_marked_partial_and_read_in_its_frame(delivered, tmp_path):
    d, out, genes, n = delivered
    t = next(g for g in genes if g.strand == "+" and len(g.cds) > 1 and not g.partial5 and not g.partial3)
    cut = dataclasses.replace(
        t,
        cds=[(t.cds[0][0] + 4, t.cds[0][1])] + t.cds[1:],
        exons=[(t.cds[0][0] + 4, t.exons[0][1])] + t.exons[1:],
        partial5=True,
        cds_phases=[],
        span=None,
        transcript_id="cut",
        intron_exons=None,
    )
    cut = dataclasses.replace(cut, cds_phases=[2] + [0] * (len(cut.cds) - 1))  # 4 bases gone: 2 before a codon
    write_sequences([t, cut], d / "genome.h5", tmp_path / "p.faa", tmp_path / "c.fna", tmp_path / "m.fna")
    proteins = _fasta(tmp_path / "p.faa")
    whole = proteins[t.transcript_id][1]
    desc, partial = proteins["cut"]
    assert "partial=5prime" in desc and partial == whole[2:]  # two codons fewer, the same frame


def test_the_gtf_holds_the_same_transcripts_as_the_gff3(delivered, tmp_path):
    d, out, genes, n = delivered
    lengths = {}
    for r in SeqIO.parse(str(d / "genome.fa"), "fasta"):
        lengths[r.id] = len(r.seq)
    write_gff3(genes, lengths, tmp_path / "a.gff3", "test")
    write_gtf(genes, list(lengths), tmp_path / "a.gtf")
    lines = (tmp_path / "a.gtf").read_text().splitlines()
    assert all('gene_id "' in ln and 'transcript_id "' in ln for ln in lines)
    assert {ln.split("\t")[2] for ln in lines} == {"transcript", "exon", "CDS", "start_codon", "stop_codon"}

    def key(t):
        return t.transcript_id, t.seqid, t.strand, tuple(t.exons), tuple(t.cds)

    from_gff3 = sorted(key(t) for t in read_gff3(tmp_path / "a.gff3") if t.cds)
    from_gtf = sorted(key(t) for t in read_gtf(tmp_path / "a.gtf").transcripts if t.cds)  # stop codons added back
    assert from_gtf == from_gff3
    if shutil.which("gffread"):
        proc = subprocess.run(
            ["gffread", str(tmp_path / "a.gtf"), "-o", str(tmp_path / "back.gff3")], capture_output=True, text=True
        )
        assert proc.returncode == 0 and "Error" not in proc.stderr


def test_a_stop_codon_split_by_an_intron_leaves_the_gtf_cds_on_both_strands():
    from genetune.deliver.deliver import _codon, _trim_stop
    from genetune.io.gff import Transcript

    plus = Transcript("c", "+", [(0, 30), (80, 82)], [(0, 30), (80, 82)])  # stop = 1 base + 2 bases
    assert _codon(plus, at_start=False) == [(29, 30), (80, 82)] and _trim_stop(plus) == [(0, 29)]
    minus = Transcript("c", "-", [(0, 1), (50, 80)], [(0, 1), (50, 80)])  # stop at the genomic left end
    assert _codon(minus, at_start=False) == [(0, 1), (50, 52)] and _trim_stop(minus) == [(52, 80)]
    assert _codon(minus, at_start=True) == [(77, 80)]
