import pytest

from genetune.evaluate import evaluate, plot, write_tsv
from genetune.gff import read_gff3


def _f1(rows):
    return {(r[0], r[1]): r[4] for r in rows}


def test_reference_against_itself_scores_one_everywhere(tiny_species):
    d = tiny_species["dir"]
    f1 = _f1(evaluate(d / "annotation.gff3", d / "annotation.gff3", d / "genome.h5"))
    assert all(v == pytest.approx(1.0) for v in f1.values())


def test_missing_gene_lowers_gene_recall_only(tiny_species, tmp_path):
    d = tiny_species["dir"]
    lines = (d / "annotation.gff3").read_text().splitlines()
    first = read_gff3(d / "annotation.gff3")[0].gene_id
    kept = [ln for ln in lines if first not in ln]
    (tmp_path / "p.gff3").write_text("\n".join(kept) + "\n")
    rows = evaluate(d / "annotation.gff3", tmp_path / "p.gff3", d / "genome.h5")
    gene = next(r for r in rows if r[0] == "gene")
    n = len(tiny_species["transcripts"])
    assert gene[2] == pytest.approx(1.0) and gene[3] == pytest.approx((n - 1) / n)
    assert gene[5] == n and gene[6] == n - 1
    write_tsv({"a": rows, "b": rows}, tmp_path / "m.tsv")
    plot({"a": rows, "b": rows}, tmp_path / "f1.svg")
    text = (tmp_path / "m.tsv").read_text().splitlines()
    assert text[0].split("\t")[:3] == ["stage", "level", "feature"] and len(text) == 1 + 2 * len(rows)
    assert (tmp_path / "f1.svg").read_text().lstrip().startswith("<?xml")
