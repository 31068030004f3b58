"""PSAURON's protein-coding score (protein_score.py): the code table, and the real weights when fetched."""

from pathlib import Path

import numpy as np
import pytest
from Bio.Seq import Seq

from genetune.deliver.genetic_code import TABLES, translate
from genetune.deliver.protein_score import load, score_cds

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "resources" / "models" / "psauron_model_state_dict.pt"
MICROMONAS = ROOT / "resources" / "real" / "micromonas"


def test_translation_follows_ncbis_tables():
    rng = np.random.default_rng(0)
    dna = "".join(rng.choice(list("ACGT"), 3000))
    for table in TABLES:
        assert translate(dna, table) == str(Seq(dna).translate(table=table)), table
    assert translate("ATGNNNTAAG") == "MX*"
    assert translate("TTGAAATAA", first_is_start=True) == "MK*"  # an alternative start codon reads M


def test_weights_that_are_not_psauron_are_one_clear_error(tmp_path):
    import torch

    from genetune.core.errors import InputError

    torch.save({"w": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not PSAURON's model_state_dict.pt"):
        load(tmp_path / "other.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read PSAURON's weights"):
        load(tmp_path / "broken.pt")


@pytest.mark.skipif(
    not (WEIGHTS.exists() and MICROMONAS.exists()),
    reason="PSAURON's weights and the Micromonas genome: python workflow/scripts/fetch_real_data.py",
)
def test_real_genes_are_protein_coding_and_their_frame_shifts_are_not(tmp_path):
    """RefSeq's Micromonas genes: PSAURON calls most protein-coding, and the same CDS read one base
    off (a frame error) almost never."""
    from genetune.io.fasta import CODE, ingest_genome
    from genetune.io.gff import read_gff3, select_transcripts
    from genetune.io.sequences import cds_sequences

    ingest_genome(MICROMONAS / "genome.fa", "micromonas", tmp_path / "g.h5", 21384)
    genes = [
        t
        for t in select_transcripts(read_gff3(MICROMONAS / "annotation.gff3"))
        if t.cds and not t.partial5 and not t.partial3 and t.coding_length >= 600
    ][:40]
    seqs = cds_sequences(tmp_path / "g.h5", genes)
    model = load(WEIGHTS)
    right = [s for s in score_cds(model, [seqs[k] for k in range(len(genes))]) if s]
    shifted = [s for s in score_cds(model, [seqs[k][1:] + bytes([CODE[ord("A")]]) for k in range(len(genes))]) if s]
    assert len(right) == len(genes) >= 20
    assert np.mean([s[2] for s in right]) >= 0.8
    assert np.mean([s[2] for s in shifted]) <= 0.2
    from genetune.deliver.protein_score import coding_count

    assert coding_count(model, tmp_path / "g.h5", genes) == (sum(s[2] for s in right), len(right))
