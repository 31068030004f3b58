import dataclasses
import re
import shutil
import subprocess

import pytest

from genetune.decode import DecodeConfig, decode_h5
from genetune.demo.simulate import predictions_from_labels
from genetune.evaluate.evaluate import evaluate, evaluate_stages, plot, plot_confusion, write_tsv
from genetune.io.gff import read_gff3, write_gff3


def _f1(rows):
    return {(r[0], r[1]): r[4] for r in rows}


def test_reference_against_itself_scores_one_everywhere(tiny_species):
    d = tiny_species["dir"]
    f1 = _f1(evaluate(d / "annotation.gff3", d / "annotation.gff3", d / "genome.h5"))
    assert all(v == pytest.approx(1.0) for v in f1.values())


def test_the_confusion_figure_shows_the_confusion_the_base_scores_come_from(tiny_species, tmp_path):
    from genetune.core import metrics

    d = tiny_species["dir"]
    lines = (d / "annotation.gff3").read_text().splitlines()
    first = read_gff3(d / "annotation.gff3")[0].gene_id
    (tmp_path / "p.gff3").write_text("\n".join(ln for ln in lines if first not in ln) + "\n")
    stages = {"self": d / "annotation.gff3", "missing_one": tmp_path / "p.gff3"}
    result = evaluate_stages(d / "annotation.gff3", stages, d / "genome.h5")
    tables, confusions = result.tables, result.confusions
    for stage, rows in tables.items():
        assert rows == evaluate(d / "annotation.gff3", stages[stage], d / "genome.h5")
        base = {r[1]: r[2:5] for r in rows if r[0] == "base" and r[1] != "phase"}
        assert base == {k: tuple(v) for k, v in metrics.scores(confusions[stage]).items()}
    assert confusions["self"].sum() == confusions["missing_one"].sum()  # every base of both strands, once
    assert (confusions["self"] - confusions["missing_one"]).any()
    plot_confusion(confusions, tmp_path / "c.svg")
    assert (tmp_path / "c.svg").read_text().count("missing_one") == 1


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


def _gt_eval_counts(reference, prediction, tmp_path):
    """{line label: (numerator, denominator)} from `gt eval` (GenomeTools) on sorted copies."""
    sorted_paths = []
    for path in (reference, prediction):
        out = tmp_path / f"{path.stem}.{len(sorted_paths)}.sorted.gff3"
        subprocess.run(
            ["gt", "gff3", "-sort", "-tidy", "-retainids", "-o", str(out), str(path)], check=True, capture_output=True
        )
        sorted_paths.append(out)
    text = subprocess.run(["gt", "eval", *map(str, sorted_paths)], check=True, capture_output=True, text=True).stdout
    return {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"^(.+?):\s+[\d.]+% \((\d+)/(\d+)\)", text, re.M)}


def _cds_only(path, out):
    """The same genes with UTRs removed: gt eval's gene/mRNA match (equal ranges and exons) then
    means 'same CDS intron chain and CDS ends', genetune's transcript and gene definition."""
    genes = [dataclasses.replace(t, exons=list(t.cds), span=None) for t in read_gff3(path) if t.cds]
    write_gff3(genes, {t.seqid: t.end for t in genes}, out, "test")
    return out


@pytest.mark.skipif(
    shutil.which("gt") is None, reason="the cross-check needs Debian's genometools: apt-get install genometools"
)
def test_feature_level_counts_agree_with_gt_eval(tiny_species, tmp_path):
    """CDS-exon, transcript and gene counts equal GenomeTools' `gt eval` (CDS level; genes and
    mRNAs compared on UTR-free copies), on decoded noisy predictions with hits and misses."""
    d = tiny_species["dir"]
    # noisy enough for misses, not so noisy that no gene is right (long-intron states lose most genes
    # at sharpness 0.3 / noise 0.9, where the network calls every class about equally)
    predictions_from_labels(d / "labels.h5", tmp_path / "p.h5", sharpness=0.35, noise=0.85, seed=5)
    decode_h5(d / "genome.h5", tmp_path / "p.h5", tmp_path / "pred.gff3", DecodeConfig(min_intron=20))
    ours = {r[0]: r for r in evaluate(d / "annotation.gff3", tmp_path / "pred.gff3", d / "genome.h5")}
    full = _gt_eval_counts(d / "annotation.gff3", tmp_path / "pred.gff3", tmp_path)
    cds_only = _gt_eval_counts(
        _cds_only(d / "annotation.gff3", tmp_path / "ref_cds.gff3"),
        _cds_only(tmp_path / "pred.gff3", tmp_path / "pred_cds.gff3"),
        tmp_path,
    )
    for level, theirs, label in (
        ("cds_exon", full, "exon {} (CDS level, all)"),
        ("transcript", cds_only, "mRNA {} (mRNA level)"),
        ("gene", cds_only, "gene {} (mRNA level)"),
    ):
        _, _, precision, recall, _, n_ref, n_pred = ours[level]
        assert theirs[label.format("sensitivity")] == (round(recall * n_ref), n_ref), level
        assert theirs[label.format("specificity")] == (round(precision * n_pred), n_pred), level
    assert 0 < ours["cds_exon"][3] < 1 and 0 < ours["gene"][3] < 1  # the check saw hits and misses


def test_incomplete_reference_option_ignores_predictions_outside_reference_loci(tiny_species, tmp_path):
    """A reference that lacks one gene: the full prediction loses precision for it unless only
    reference loci are scored."""
    d = tiny_species["dir"]
    dropped = read_gff3(d / "annotation.gff3")[0].gene_id
    lines = (d / "annotation.gff3").read_text().splitlines()
    (tmp_path / "partial_ref.gff3").write_text("\n".join(ln for ln in lines if dropped not in ln) + "\n")
    strict = {(r[0], r[1]): r for r in evaluate(tmp_path / "partial_ref.gff3", d / "annotation.gff3", d / "genome.h5")}
    loci = {
        (r[0], r[1]): r
        for r in evaluate(
            tmp_path / "partial_ref.gff3", d / "annotation.gff3", d / "genome.h5", reference_loci_only=True
        )
    }
    assert strict[("gene", "gene")][2] < 1 and strict[("base", "genic")][2] < 1
    assert loci[("gene", "gene")][2] == pytest.approx(1) and loci[("base", "genic")][2] == pytest.approx(1)
    assert loci[("gene", "gene")][6] == strict[("gene", "gene")][6] - 1
