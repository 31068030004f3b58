"""The final annotation an annotator takes away: locus tags a user owns, per-gene confidence and
evidence in the GFF3, the high-confidence subset, and the summary numbers."""

import dataclasses
import shutil
import subprocess

import pytest

from genetune.core.errors import InputError
from genetune.core.settings import validate_config
from genetune.deliver.deliver import file_name
from genetune.deliver.final import deliver
from genetune.deliver.naming import locus_tags
from genetune.deliver.support import evidence_class, exon_coverage, intron_support
from genetune.evaluate.summary import numbers, protein_lengths
from genetune.evidence import splicing
from genetune.evidence.coverage import add_coverage
from genetune.io.gff import read_gff3, select_transcripts


@pytest.fixture(scope="module")
def species(tiny_species, tmp_path_factory):
    """The tiny species with its coverage.h5 and read junctions."""
    d = tiny_species["dir"]
    work = tmp_path_factory.mktemp("final")
    add_coverage(d / "genome.h5", [d / "rnaseq.bam"], "reverse", work / "coverage.h5")
    rows = splicing.collect(d / "genome.h5", [d / "rnaseq.bam"], ["reverse"])
    splicing.write_tsv(rows, work / "junctions.tsv")
    genes = select_transcripts(read_gff3(d / "annotation.gff3"))
    return d, work, genes, rows


def test_locus_tags_number_genes_in_genome_order_in_steps_of_ten_and_ignore_the_input_order(species):
    d, _, genes, _ = species
    seqs = sorted({t.seqid for t in genes})
    named = locus_tags(genes, seqs, "TINY")
    assert [t.gene_id for t in named] == [f"TINY_{10 * k:06d}" for k in range(1, len(genes) + 1)]
    assert all(t.transcript_id == f"{t.gene_id}-T1" and t.attributes["locus_tag"] == t.gene_id for t in named)
    order = [(seqs.index(t.seqid), t.start) for t in named]
    assert order == sorted(order)
    assert [t.gene_id for t in locus_tags(genes[::-1], seqs, "TINY")] == [t.gene_id for t in named]


@pytest.mark.parametrize("prefix", ["", "1abc", "my-lab", "a b", "x" * 40])
def test_a_bad_prefix_is_one_clear_error_when_the_config_is_read(prefix):
    with pytest.raises(InputError, match="naming.prefix"):
        validate_config({"species": "tiny", "genome": "g.fa", "naming": {"prefix": prefix}}, "mine.yaml")


def test_the_prefix_defaults_to_the_species_name_unless_that_cannot_be_one():
    assert validate_config({"species": "tiny_1", "genome": "g.fa"})["naming"] == {"prefix": "tiny_1"}
    with pytest.raises(InputError, match="mine.yaml: naming.prefix: the species name 'tiny.v2'"):
        validate_config({"species": "tiny.v2", "genome": "g.fa"}, "mine.yaml")


def test_introns_count_as_supported_only_where_a_junction_with_enough_reads_shows_them_exactly(species):
    _, _, genes, _ = species
    t = next(g for g in genes if len(g.exons) >= 3)
    keys = splicing.intron_keys(t)
    junctions = [(*keys[0], 5), (*keys[1][:2], keys[1][2] + 1, keys[1][3], 9), (*keys[-1], 1)]
    n, shown = intron_support([t], junctions)[0]
    assert n == len(t.exons) - 1 and shown == 1  # shifted by a base: no; one read: too few
    assert evidence_class(n, shown) == ("full" if n == 1 else "partial")
    assert evidence_class(0, 0) == "none" and evidence_class(2, 2) == "full"


def test_exon_coverage_is_high_on_expressed_genes_and_zero_off_them(species):
    _, work, genes, _ = species
    flipped = [dataclasses.replace(t, strand="-" if t.strand == "+" else "+") for t in genes]
    on, off = exon_coverage(work / "coverage.h5", genes), exon_coverage(work / "coverage.h5", flipped)
    assert sum(on) / len(on) > 0.8 and sum(off) / len(off) < 0.2  # dUTP reads: the gene's own strand


def test_the_final_files_carry_tags_and_evidence_and_the_subset_keeps_only_confident_genes(species, tmp_path):
    d, work, genes, _ = species
    decoded = [dataclasses.replace(t, score=round(0.5 + 0.1 * (k % 5), 3)) for k, t in enumerate(genes)]
    from genetune.io.chunks import read_keys, seq_lengths
    from genetune.io.gff import write_gff3

    write_gff3(
        decoded,
        seq_lengths(*read_keys(d / "genome.h5")),
        tmp_path / "chosen.gff3",
        "genetune",
        comments=["stage round1"],
    )
    n, high = deliver(
        tmp_path / "chosen.gff3",
        d / "genome.h5",
        tmp_path / "final",
        "TINY",
        min_confidence=0.85,
        junctions=work / "junctions.tsv",
        coverage_h5=work / "coverage.h5",
    )
    final = tmp_path / "final"
    text = (final / "annotation.gff3").read_text()
    assert "# stage round1" in text and "# column 6 of gene and mRNA lines" in text
    gene_lines = [ln.split("\t") for ln in text.splitlines() if "\tgene\t" in ln]
    assert len(gene_lines) == n == len(genes) and all("locus_tag=TINY_" in c[8] for c in gene_lines)
    assert all("introns_supported=" in c[8] and "exon_coverage=" in c[8] and "evidence=" in c[8] for c in gene_lines)
    kept = read_gff3(final / file_name("gff3", high_confidence=True))
    assert len(kept) == high and 0 < high < n
    from genetune.core.fileio import read_table
    from genetune.deliver.deliver import GENE_COLUMNS

    rows = {r["gene_id"]: r for r in read_table(final / "genes.tsv", GENE_COLUMNS, "gene table", "test")}
    assert all(rows[t.gene_id]["evidence"] == "full" or float(rows[t.gene_id]["score"]) >= 0.85 for t in kept)
    assert {t.gene_id for t in kept} == {g for g, r in rows.items() if r["high_confidence"] == "yes"}
    proteins = (final / file_name("faa", high_confidence=True)).read_text().count(">")
    assert proteins == high
    again = tmp_path / "again"
    deliver(
        tmp_path / "chosen.gff3",
        d / "genome.h5",
        again,
        "TINY",
        min_confidence=0.85,
        junctions=work / "junctions.tsv",
        coverage_h5=work / "coverage.h5",
    )
    assert (again / "annotation.gff3").read_bytes() == (final / "annotation.gff3").read_bytes()  # same IDs
    if shutil.which("gt"):
        for name in ("annotation.gff3", "annotation.high_confidence.gff3"):
            proc = subprocess.run(["gt", "gff3validator", str(final / name)], capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr


def test_the_gff3_reads_back_partial_marks_and_scores(species, tmp_path):
    d, _, genes, _ = species
    from genetune.io.chunks import read_keys, seq_lengths
    from genetune.io.gff import write_gff3

    marked = [dataclasses.replace(genes[0], partial5=True, score=0.25), dataclasses.replace(genes[1], partial3=True)]
    write_gff3(marked, seq_lengths(*read_keys(d / "genome.h5")), tmp_path / "a.gff3", "test")
    back = {t.transcript_id: t for t in read_gff3(tmp_path / "a.gff3")}
    first, second = back[genes[0].transcript_id], back[genes[1].transcript_id]
    assert (first.partial5, first.partial3, first.score) == (True, False, 0.25)
    assert (second.partial5, second.partial3, second.score) == (False, True, None)


def test_summary_numbers_describe_the_gene_set(species):
    d, _, genes, _ = species
    values, proteins = numbers(d / "annotation.gff3", d / "genome.h5")
    coding = [t for t in read_gff3(d / "annotation.gff3") if t.cds]
    assert values["transcripts"] == len(coding) == len(proteins)
    assert values["mono_exonic_share"] == pytest.approx(sum(len(t.exons) == 1 for t in coding) / len(coding))
    assert values["protein_length_median"] > 30 and values["partial_genes"] == 0
    whole = [t for t in coding if not (t.partial5 or t.partial3)]
    assert list(protein_lengths(whole)) == [t.coding_length // 3 - 1 for t in whole]


def test_the_summary_lists_each_measure_once_in_its_order(tmp_path):
    from genetune.evaluate.summary import write_summary

    write_summary(
        {"first_pass": {"genes": 3, "gene_f1": 0.5}, "final": {"genes": 4, "gene_f1": 0.625}}, tmp_path / "s.tsv"
    )
    lines = (tmp_path / "s.tsv").read_text().splitlines()
    assert lines == ["measure\tfirst_pass\tfinal", "genes\t3\t4", "gene_f1\t0.5\t0.625"]
