"""The simulator keeps its promises: valid genes on both strands, dUTP spliced reads, distinct presets."""

import numpy as np
import pysam
from Bio.Seq import Seq

from genetune.demo.simulate import PRESETS, codon_table, simulate_genome
from genetune.io.gff import read_gff3


def _oriented(genome, t, segments):
    seq = "".join(genome[t.seqid][s:e] for s, e in segments)
    return seq if t.strand == "+" else str(Seq(seq).reverse_complement())


def test_every_gene_is_a_valid_protein_coding_model_with_utrs(tiny_species):
    genome = tiny_species["genome"]
    genes = read_gff3(tiny_species["dir"] / "annotation.gff3")
    assert {t.strand for t in genes} == {"+", "-"}
    assert sum(len(t.introns) for t in genes) > len(genes)  # mostly multi-exon
    for t in genes:
        cds = _oriented(genome, t, t.cds)
        protein = str(Seq(cds).translate())
        assert cds.startswith("ATG") and len(cds) % 3 == 0
        assert protein.endswith("*") and "*" not in protein[:-1]
        assert t.exons[0][0] < t.cds[0][0] and t.cds[-1][1] < t.exons[-1][1]  # UTRs on both ends
        for a, b in t.introns:
            intron = _oriented(genome, t, [(a, b)])
            assert intron.startswith("GT") and intron.endswith("AG")


def test_bam_is_sorted_indexed_spliced_and_dutp_stranded(tiny_species):
    genes = read_gff3(tiny_species["dir"] / "annotation.gff3")
    with pysam.AlignmentFile(str(tiny_species["dir"] / "rnaseq.bam")) as bam:
        assert bam.header["HD"]["SO"] == "coordinate" and bam.has_index()
        spliced, agree, total = 0, 0, 0
        for read in bam.fetch():
            spliced += any(op == 3 for op, _ in read.cigartuples)
            gene = next(
                (t for t in genes if t.seqid == read.reference_name and t.start <= read.reference_start < t.end), None
            )
            if gene is None:
                continue
            total += 1
            # dUTP: read 1 maps antisense to its transcript, read 2 sense
            sense_minus = read.is_reverse != read.is_read1
            agree += sense_minus == (gene.strand == "-")
    assert spliced > 0.1 * total
    assert agree / total > 0.95


def test_presets_differ_in_gc_codon_usage_and_introns():
    gc = {}
    for name in ("source_a", "target"):
        genome, transcripts = simulate_genome(name, 1, [60000])
        seq = genome["chr1"]
        gc[name] = (seq.count("G") + seq.count("C")) / len(seq)
        lengths = [b - a for t in transcripts for a, b in t.introns]
        gc[name + "_intron"] = np.median(lengths)
    assert gc["target"] - gc["source_a"] > 0.05
    assert gc["target_intron"] > 1.5 * gc["source_a_intron"]
    for aa in ("L", "R", "S"):  # six-codon amino acids: usage must differ clearly (total variation)
        (codons_a, pa), (codons_t, pt) = codon_table(PRESETS["source_a"])[aa], codon_table(PRESETS["target"])[aa]
        assert codons_a == codons_t and 0.5 * np.abs(pa - pt).sum() > 0.2


def test_same_seed_same_species():
    a = simulate_genome("target", 9, [20000])
    b = simulate_genome("target", 9, [20000])
    assert a[0] == b[0] and [t.cds for t in a[1]] == [t.cds for t in b[1]]
