"""The error taxonomy: what became of each reference gene."""

from genetune.evaluate import taxonomy
from genetune.io.gff import Transcript


def _t(gene_id, cds, strand="+", seqid="chr1"):
    return Transcript(seqid, strand, list(cds), list(cds), gene_id=gene_id, transcript_id=f"{gene_id}.1")


def _outcomes(ref, pred):
    return {key[1]: (outcome, errors) for key, outcome, errors, _, _ in taxonomy.classify(ref, pred)}


def test_every_reference_gene_gets_its_outcome_and_errors():
    ref = [
        _t("exact", [(100, 200), (300, 400)]),
        _t("split", [(1000, 1100), (3000, 3100)]),
        _t("merged_a", [(5000, 5100)]),
        _t("merged_b", [(5300, 5400)]),
        _t("missed", [(7000, 7100)]),
        _t("start", [(9000, 9100), (9200, 9300)]),
        _t("stop_minus", [(11000, 11100), (11200, 11300)], strand="-"),
        _t("shift", [(13000, 13100), (13200, 13300)]),
        _t("missed_intron", [(15000, 15100), (15200, 15300)]),
        _t("extra_intron", [(17000, 17300)]),
    ]
    pred = [
        _t("p1", [(100, 200), (300, 400)]),
        _t("p2", [(1000, 1100)]),
        _t("p3", [(3000, 3100)]),
        _t("p4", [(5000, 5100), (5300, 5400)]),
        _t("p5", [(7000, 7100)], strand="-"),  # the other strand does not count
        _t("p6", [(8970, 9100), (9200, 9300)]),
        _t("p7", [(10970, 11100), (11200, 11300)], strand="-"),  # minus strand: the low end is the 3' end
        _t("p8", [(13000, 13100), (13190, 13300)]),
        _t("p9", [(15000, 15300)]),
        _t("p10", [(17000, 17100), (17200, 17300)]),
    ]
    got = _outcomes(ref, pred)
    assert got["exact"] == ("exact", set())
    assert got["split"][0] == "split"
    assert got["merged_a"][0] == got["merged_b"][0] == "merged"
    assert got["missed"][0] == "missed"
    assert got["start"] == ("one_to_one", {"start"})
    assert got["stop_minus"] == ("one_to_one", {"stop"})
    assert got["shift"] == ("one_to_one", {"splice_shift"})
    assert got["missed_intron"] == ("one_to_one", {"missed_intron"})
    assert got["extra_intron"] == ("one_to_one", {"extra_intron"})


def test_found_and_missed_genes_are_counted_by_longest_intron_and_exon_count():
    ref = [
        _t("long", [(0, 100), (5000, 5100)]),
        _t("short", [(10_000, 10_100), (10_200, 10_300)]),
        _t("single", [(20_000, 20_300)]),
    ]
    pred = [_t("p", [(10_000, 10_100), (10_200, 10_300)]), _t("q", [(20_000, 20_300)])]
    rows = {(g, c): (n, f, m) for g, c, n, f, m in taxonomy.summarise(taxonomy.classify(ref, pred))}
    assert rows[("longest_intron", ">= 1 kb")] == (1, 0, 1)
    assert rows[("longest_intron", "< 1 kb")] == (1, 1, 0)
    assert rows[("exon_count", "1 exon")] == (1, 1, 0)
    assert rows[("exon_count", "2-5 exons")] == (2, 1, 1)
    assert rows[("outcome", "exact")][0] == 2 and rows[("outcome", "missed")][0] == 1


def test_the_taxonomy_table_and_figure_are_written(tmp_path):
    ref = [_t("a", [(0, 100), (200, 300)])]
    tables = {
        "first_pass": taxonomy.summarise(taxonomy.classify(ref, [])),
        "final": taxonomy.summarise(taxonomy.classify(ref, ref)),
    }
    taxonomy.write_tsv(tables, tmp_path / "errors.tsv")
    lines = (tmp_path / "errors.tsv").read_text().splitlines()
    assert lines[0].split("\t") == list(taxonomy.HEADER)
    assert "first_pass\toutcome\tmissed\t1\t\t" in lines and "final\toutcome\texact\t1\t\t" in lines
    taxonomy.plot(tables, tmp_path / "errors.svg")
    assert (tmp_path / "errors.svg").read_text().count("<svg") == 1


def test_figures_of_equal_inputs_are_equal_bytes(tmp_path):
    """Reports and reruns compare: no date and no random element ids in the SVGs."""
    ref = [_t("a", [(0, 100), (200, 300)])]
    tables = {"first_pass": taxonomy.summarise(taxonomy.classify(ref, []))}
    taxonomy.plot(tables, tmp_path / "one.svg")
    taxonomy.plot(tables, tmp_path / "two.svg")
    assert (tmp_path / "one.svg").read_bytes() == (tmp_path / "two.svg").read_bytes()
    assert b"<dc:date>" not in (tmp_path / "one.svg").read_bytes()
