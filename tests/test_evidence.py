"""Read junctions from BAMs and hints files; BRAKER-style selection; paralogs kept out of validation;
the final check that keeps a round only when it is better."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genetune.core.errors import InputError
from genetune.evaluate import rounds
from genetune.evidence import splicing
from genetune.io.gff import Transcript, read_gff3, write_gff3

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"


def _true_introns(d):
    return {
        (t.seqid, t.strand, t.exons[k][1], t.exons[k + 1][0])
        for t in read_gff3(d / "annotation.gff3")
        for k in range(len(t.exons) - 1)
    }


def test_bam_junctions_are_the_simulated_introns_on_their_transcript_strand(tiny_species):
    d = tiny_species["dir"]
    rows = splicing.collect(d / "genome.h5", [d / "rnaseq.bam"], ["reverse"])
    found = {r[:4] for r in rows if r[4] >= 2}
    truth = _true_introns(d)
    assert len(found & truth) >= 0.8 * len(truth)
    assert len(found - truth) <= 0.05 * len(found)
    # the same reads read as forward-stranded put every junction on the other strand
    flipped = {r[:4] for r in splicing.collect(d / "genome.h5", [d / "rnaseq.bam"], ["forward"]) if r[4] >= 2}
    assert not flipped & truth


def test_hints_introns_take_their_strand_from_the_splice_motif(tiny_species, tmp_path):
    d = tiny_species["dir"]
    truth = sorted(_true_introns(d))
    plus = next(i for i in truth if i[1] == "+")
    minus = next(i for i in truth if i[1] == "-")
    lines = [
        f"{s}\tb2h\tintron\t{a + 1}\t{e}\t0\t.\t.\tmult={n};pri=4;src=E" for (s, _, a, e), n in ((plus, 7), (minus, 3))
    ]
    lines += [
        f"{plus[0]}\tw2h\tep\t{plus[2] - 20}\t{plus[2]}\t3\t.\t.\tsrc=W;mult=3;",  # exon part: no junction
        f"{plus[0]}\tb2h\tintron\t{plus[2] + 1}\t{plus[3]}\t0\t.\t.\tmult=2;",  # the same intron again
        f"{plus[0]}\tb2h\tintron\t10\t99999999\t0\t.\t.\tmult=2;",
    ]  # past the sequence end: left out
    (tmp_path / "hints.gff").write_text("\n".join(lines) + "\n")
    rows = splicing.collect(d / "genome.h5", hints=[tmp_path / "hints.gff"])
    assert rows == sorted([(*plus, 9), (*minus, 3)], key=lambda r: (r[0] != plus[0], r[2]))  # summed per intron
    splicing.write_tsv(rows, tmp_path / "j.tsv")
    assert splicing.read_tsv(tmp_path / "j.tsv") == rows


def test_a_broken_hints_file_is_one_error_line_naming_it(tiny_species, tmp_path):
    d = tiny_species["dir"]
    (tmp_path / "hints.gff").write_text("chr1\tb2h\tintron\t100\n")
    proc = subprocess.run(
        [
            sys.executable,
            SCRIPTS / "collect_junctions.py",
            "--genome-h5",
            d / "genome.h5",
            "--hints",
            tmp_path / "hints.gff",
            "--out",
            tmp_path / "j.tsv",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and not (tmp_path / "j.tsv").exists()
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and "hints.gff line 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(InputError, match="not a junctions table"):
        splicing.read_tsv(tmp_path / "hints.gff")


def _gene(seqid, start, exons, gene_id, strand="+"):
    ex = [(start + a, start + b) for a, b in exons]
    return Transcript(seqid, strand, ex, list(ex), gene_id=gene_id, transcript_id=f"{gene_id}.1")


def test_intron_agreement_counts_only_the_validation_stretches():
    val = {"chr1": [(0, 10_000)]}
    ts = [_gene("chr1", 100, [(0, 100), (200, 300)], "a"), _gene("chr1", 20_000, [(0, 100), (200, 300)], "b")]
    junctions = [("chr1", "+", 200, 300, 5), ("chr1", "+", 5000, 5100, 5), ("chr1", "+", 20_100, 20_200, 5)]
    assert rounds.intron_agreement(ts, junctions, val) == (1.0, 0.5, pytest.approx(2 / 3))


def _val_h5(path, spans):
    """A validation file holding chunks (seqid, start, end) only (what covered_intervals reads)."""
    import h5py

    with h5py.File(path, "w") as h5:
        h5["data/seqids"] = np.array([s.encode() for s, _, _ in spans], "S50")
        h5["data/start_ends"] = np.array([(a, b) for _, a, b in spans], np.int64)


def _stage_files(tmp_path, n_genes=12):
    """Stage annotations of n_genes two-intron genes in chr1:0-100k and their 2 x n_genes junctions:
    'right' has every intron, 'first' half of them, 'worse' fewer."""
    lengths = {"chr1": 200_000}
    right, first, worse, junctions = [], [], [], []
    for k in range(n_genes):
        lo = 1000 + 5000 * k
        exons = [(0, 100), (200, 300), (500, 600)]
        right.append(_gene("chr1", lo, exons, f"g{k}"))
        first.append(_gene("chr1", lo, exons if k % 2 else [(0, 100), (210, 300), (500, 600)], f"g{k}"))
        worse.append(_gene("chr1", lo, exons if k % 4 == 1 else [(0, 300), (500, 600)][:1] + [(400, 600)], f"g{k}"))
        junctions += [("chr1", "+", lo + 100, lo + 200, 9), ("chr1", "+", lo + 300, lo + 500, 9)]
    for name, ts in (("first", first), ("worse", worse), ("better", right)):
        write_gff3(ts, lengths, tmp_path / f"{name}.gff3", "test")
    return junctions


def _decoding(stages, genome_h5):
    """(genome.h5, {stage: (predictions, profile)}, cfg): here a chunk file stands for the genome and
    each stage's annotation for its predictions."""
    return genome_h5, {name: (path, None) for name, path in stages.items()}, None


def _as_decoded(monkeypatch):
    """The evidence check decodes each stage without reads and with half of them; here the annotation
    files stand for both decodings."""

    def annotation(gff3):
        return [t for t in read_gff3(gff3) if t.cds]

    monkeypatch.setattr(
        rounds, "decoded_without_evidence", lambda genome, gff3, prof, cfg, seqids, out: annotation(gff3)
    )
    monkeypatch.setattr(
        rounds,
        "held_out_junction_f1",
        lambda genome, gff3, prof, cfg, seqids, junctions, intervals, tmp: rounds.intron_agreement(
            annotation(gff3), junctions, intervals
        )[2],
    )


def _rows(path):
    lines = path.read_text().splitlines()
    return [dict(zip(lines[0].split("\t"), ln.split("\t"))) for ln in lines[1:]]


def test_a_round_is_final_only_when_the_check_says_it_is_better(tmp_path, monkeypatch):
    """A later stage must beat every earlier one at intron F1 against the validation junctions."""
    _as_decoded(monkeypatch)
    _val_h5(tmp_path / "val.h5", [("chr1", 0, 100_000), ("chr1", 100_000, 0)])
    junctions = _stage_files(tmp_path)
    stages = {"first_pass": tmp_path / "first.gff3", "round1": tmp_path / "worse.gff3"}
    assert (
        rounds.choose_final(
            tmp_path / "val.h5",
            stages,
            tmp_path / "f.gff3",
            tmp_path / "r.tsv",
            junctions,
            decoding=_decoding(stages, tmp_path / "val.h5"),
        )
        == "first_pass"
    )
    assert (tmp_path / "f.gff3").read_bytes() == (tmp_path / "first.gff3").read_bytes()
    stages["round2"] = tmp_path / "better.gff3"
    coding = {"first_pass": (0.5, 10), "round1": (0.25, 8), "round2": (1.0, 12)}  # PSAURON: reported only
    assert (
        rounds.choose_final(
            tmp_path / "val.h5",
            stages,
            tmp_path / "f.gff3",
            tmp_path / "r.tsv",
            junctions,
            decoding=_decoding(stages, tmp_path / "val.h5"),
            coding=coding,
        )
        == "round2"
    )
    rows = _rows(tmp_path / "r.tsv")
    assert [r["chosen"] for r in rows] == ["no", "no", "yes"]
    assert [(r["psauron_coding"], r["psauron_genes"]) for r in rows] == [
        ("0.5000", "10"),
        ("0.2500", "8"),
        ("1.0000", "12"),
    ]
    assert {r["junctions"] for r in rows} == {"24"} and {r["verdict"] for r in rows} == {"decides"}
    # without evidence the held-out pseudolabel genes (the first pass's) decide: the first pass stays
    held_out = [t for t in read_gff3(tmp_path / "first.gff3")]
    assert (
        rounds.choose_final(tmp_path / "val.h5", stages, tmp_path / "f.gff3", tmp_path / "r.tsv", held_out=held_out)
        == "first_pass"
    )


def test_too_few_validation_junctions_cannot_decide_and_the_next_check_is_asked(tmp_path, monkeypatch):
    """Validation holds 4 of the 24 junctions: the evidence check says it cannot decide (in the
    table), and the held-out genes decide instead."""
    _as_decoded(monkeypatch)
    _val_h5(tmp_path / "val.h5", [("chr1", 0, 10_000), ("chr1", 10_000, 0)])  # genes g0 and g1 only
    junctions = _stage_files(tmp_path)
    stages = {"first_pass": tmp_path / "worse.gff3", "round1": tmp_path / "better.gff3"}
    held_out = [t for t in read_gff3(tmp_path / "better.gff3")]
    chosen = rounds.choose_final(
        tmp_path / "val.h5",
        stages,
        tmp_path / "f.gff3",
        tmp_path / "r.tsv",
        junctions,
        held_out=held_out,
        decoding=_decoding(stages, tmp_path / "val.h5"),
    )
    rows = _rows(tmp_path / "r.tsv")
    evidence = [r for r in rows if r["check"] == rounds.EVIDENCE_CHECK]
    assert len(evidence) == 2 and all(r["junctions"] == "4" and r["f1"] == "" for r in evidence)
    assert evidence[0]["verdict"].startswith("cannot decide: validation holds 4 read junctions")
    genes = [r for r in rows if r["check"] == rounds.GENES_CHECK]
    assert [r["verdict"] for r in genes] == ["decides", "decides"] and genes[0]["genes"] == "2"
    assert chosen == "round1" and [r["chosen"] for r in genes] == ["no", "yes"]


def test_a_tie_of_zeros_is_no_verdict(tmp_path, monkeypatch):
    """Validation without any gene or junction: no check can decide, the table says so, the first
    pass stays final."""
    _as_decoded(monkeypatch)
    _val_h5(tmp_path / "val.h5", [("chr1", 150_000, 200_000), ("chr1", 200_000, 150_000)])
    junctions = _stage_files(tmp_path) + [
        ("chr1", "+", 150_000 + 1000 * k, 150_500 + 1000 * k, 5) for k in range(25)
    ]  # reads where no stage has a gene
    stages = {"first_pass": tmp_path / "worse.gff3", "round1": tmp_path / "better.gff3"}
    held_out = [t for t in read_gff3(tmp_path / "better.gff3")]
    assert (
        rounds.choose_final(
            tmp_path / "val.h5",
            stages,
            tmp_path / "f.gff3",
            tmp_path / "r.tsv",
            junctions,
            held_out=held_out,
            decoding=_decoding(stages, tmp_path / "val.h5"),
        )
        == "first_pass"
    )
    rows = _rows(tmp_path / "r.tsv")
    assert rows[0]["verdict"] == "cannot decide: every stage scores 0.0000: a tie decides nothing"
    assert rows[2]["verdict"] == "cannot decide: validation holds no held-out pseudolabel gene"
    assert rows[-1]["check"] == "none could decide" and rows[-1]["chosen"] == "yes"
    assert [r["chosen"] for r in rows].count("yes") == 1


def test_a_round_verdict_stops_when_the_rounds_agree_or_stop_improving(tmp_path, monkeypatch):
    _as_decoded(monkeypatch)
    _val_h5(tmp_path / "val.h5", [("chr1", 0, 100_000), ("chr1", 100_000, 0)])
    junctions = _stage_files(tmp_path)

    def verdict(*names, max_rounds=3):
        stages = {
            "first_pass": tmp_path / f"{names[0]}.gff3",
            **{f"round{r}": tmp_path / f"{n}.gff3" for r, n in enumerate(names[1:], 1)},
        }
        decision = rounds.round_verdict(
            len(names) - 1,
            tmp_path / "val.h5",
            stages,
            tmp_path / "v.tsv",
            junctions,
            decoding=_decoding(stages, tmp_path / "val.h5"),
            max_rounds=max_rounds,
        )
        assert rounds.read_verdict(tmp_path / "v.tsv") == decision
        return decision, _rows(tmp_path / "v.tsv")[0]["reason"]

    assert verdict("worse", "first") == (
        "continue",
        "round1 is the best stage so far; CDS-exon F1 0.2857 to first_pass",
    )
    assert verdict("first", "worse")[0] == "stop" and "first_pass stays the best" in verdict("first", "worse")[1]
    decision, reason = verdict("worse", "first", "first")
    assert decision == "stop" and reason.startswith("the rounds agree: CDS-exon F1 1.0000")
    assert verdict("worse", "first", "better", max_rounds=2)[1] == "2 rounds, the most rounds: auto runs"


def test_introns_where_no_read_reached_are_no_errors_in_the_check(tmp_path, monkeypatch):
    """Validation holds a chunk with reads and one without: a stage that calls more genes in the chunk
    without reads is not penalised there (the reads could not have shown their introns)."""
    _as_decoded(monkeypatch)
    _val_h5(tmp_path / "val.h5", [("chr1", 0, 100_000), ("chr1", 100_000, 200_000)])
    junctions = _stage_files(tmp_path)  # genes and junctions in the first chunk only
    more = read_gff3(tmp_path / "first.gff3") + [
        _gene("chr1", 120_000 + 5000 * k, [(0, 100), (300, 400)], f"x{k}") for k in range(10)
    ]
    write_gff3(more, {"chr1": 200_000}, tmp_path / "more.gff3", "test")
    stages = {"first_pass": tmp_path / "first.gff3", "round1": tmp_path / "more.gff3"}
    assert rounds.evidence_intervals(tmp_path / "val.h5", junctions) == {"chr1": [(0, 100_000)]}
    assert rounds.evidence_share(tmp_path / "val.h5", junctions) == 0.5
    rounds.choose_final(
        tmp_path / "val.h5",
        stages,
        tmp_path / "f.gff3",
        tmp_path / "r.tsv",
        junctions,
        decoding=_decoding(stages, tmp_path / "val.h5"),
    )
    rows = _rows(tmp_path / "r.tsv")
    assert rows[0]["f1"] == rows[1]["f1"] and rows[0]["verdict"].startswith("cannot decide: every stage scores")
