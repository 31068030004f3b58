"""Training targets from label files: boundaries from Helixer's transitions (both strands), geneML's classes."""

import h5py
import numpy as np
from conftest import write

from genetune.core import layout
from genetune.io.fasta import ingest_genome
from genetune.io.gff import read_gff3, select_transcripts
from genetune.models.residual import GENEML_CLASSES
from genetune.pseudolabels.labels import gff_to_labels
from genetune.training.data import ChunkDataset
from genetune.training.targets import boundary_targets, geneml_targets


def _expected_boundaries(transcripts, seq_lengths):
    """{(seqid, strand, strand position): boundary class + 1} straight from the gene models (strand
    positions count 5'->3' on the gene's strand)."""
    out = {}
    for t in transcripts:
        L = seq_lengths[t.seqid]
        cds = t.cds if t.strand == "+" else [(L - e, L - s) for s, e in t.cds[::-1]]
        exons = t.exons if t.strand == "+" else [(L - e, L - s) for s, e in t.exons[::-1]]
        for _, e in exons[:-1]:
            out[(t.seqid, t.strand, e - 1)] = 1 + layout.DONOR
        for s, _ in exons[1:]:
            out[(t.seqid, t.strand, s)] = 1 + layout.ACCEPTOR
        out[(t.seqid, t.strand, cds[-1][1] - 1)] = 1 + layout.STOP_CODON
        out[(t.seqid, t.strand, cds[0][0])] = 1 + layout.START_CODON
    return out


def test_boundary_targets_sit_where_the_gene_models_put_them_on_both_strands(tiny_species):
    """Helixer's minus-strand transition columns are swapped and each transition flags two bases;
    the targets still put the acceptor, donor, start and stop on the base layout names."""
    d = tiny_species["dir"]
    genes = select_transcripts(read_gff3(d / "annotation.gff3"))
    with h5py.File(d / "labels.h5") as h5:
        seqids = h5[layout.SEQIDS][:].astype(str)
        se = h5[layout.START_ENDS][:]
        lengths = {}
        for s, (a, b) in zip(seqids, se):
            lengths[s] = max(lengths.get(s, 0), a, b)
        expect = _expected_boundaries(genes, lengths)
        found, compared = {}, 0
        for r in range(len(seqids)):
            y = h5[layout.Y][r]
            minus = se[r, 0] > se[r, 1]
            genic = np.where(y.any(1), y.argmax(1), -1)
            b = boundary_targets(genic, h5[layout.TRANSITIONS][r], minus)
            L = lengths[seqids[r]]
            first = (L - se[r, 0]) if minus else se[r, 0]  # strand position of index 0
            for i in np.flatnonzero(b > 0):
                found[(seqids[r], "-" if minus else "+", first + i)] = b[i]
            compared += int((genic >= 0).sum())
    assert compared and len(expect) > 40
    assert {k: v for k, v in found.items()} == expect
    assert {k[1] for k in expect} == {"+", "-"}


def _one_gene(tmp_path, gff_lines, seq):
    fa = write(tmp_path / "g.fa", f">s\n{seq}\n")
    ingest_genome(fa, "sp", tmp_path / "g.h5", 72)
    gff = write(tmp_path / "a.gff3", "##gff-version 3\n" + gff_lines)
    gff_to_labels(gff, tmp_path / "g.h5", tmp_path / "l.h5", error_masks=False)
    return ChunkDataset(tmp_path / "l.h5")[0]


def test_geneml_classes_are_cds_only_and_utr_introns_are_none(tmp_path):
    # 5' UTR with an intron (bases 2..12 exon, 12..30 intron), CDS 31..50 with a coding intron 40..45
    seq = "CC" + "A" * 10 + "GT" + "C" * 14 + "AG" + "ATGAAAAAAGTCCAAGAAATAGCC" + "G" * 18
    assert len(seq) == 72
    gff = (
        "s\tt\tgene\t3\t54\t.\t+\t.\tID=g\ns\tt\tmRNA\t3\t54\t.\t+\t.\tID=m;Parent=g\n"
        "s\tt\texon\t3\t12\t.\t+\t.\tParent=m\ns\tt\texon\t31\t39\t.\t+\t.\tParent=m\n"
        "s\tt\texon\t46\t54\t.\t+\t.\tParent=m\n"
        "s\tt\tCDS\t31\t39\t.\t+\t0\tParent=m\ns\tt\tCDS\t46\t54\t.\t+\t0\tParent=m\n"
    )
    item = _one_gene(tmp_path, gff, seq)
    names = np.array(GENEML_CLASSES)[item["classes"]]
    assert set(names[2:12]) == {"none"} and set(names[12:30]) == {"none"}  # UTR and its intron
    assert names[30] == "cds_start" and names[38] == "exon_end" and names[45] == "exon_start"
    assert set(names[39:45]) == {"is_intron"} and names[53] == "cds_end"
    assert set(names[31:38]) == {"is_exon"} and set(names[54:]) == {"none"}
    assert item["boundary"][11] == 1 + layout.DONOR and item["boundary"][30] == 1 + layout.START_CODON


def test_masked_bases_have_no_target():
    genic = np.array([0, 2, 2, -1, 3, 3, 2, 0])
    t = np.zeros((8, 6), np.int8)
    b = boundary_targets(genic, t, False)
    assert b[3] == -1 and geneml_targets(genic, b)[3] == -1
