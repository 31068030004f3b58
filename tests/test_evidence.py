"""Read junctions from BAMs and hints files; BRAKER-style selection; paralogs kept out of validation;
the final check that keeps a round only when it is better."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genetune import evidence, rounds
from genetune.errors import InputError
from genetune.gff import Transcript, read_gff3, write_gff3

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"


def _true_introns(d):
    return {(t.seqid, t.strand, t.exons[k][1], t.exons[k + 1][0])
            for t in read_gff3(d / "annotation.gff3") for k in range(len(t.exons) - 1)}


def test_bam_junctions_are_the_simulated_introns_on_their_transcript_strand(tiny_species):
    d = tiny_species["dir"]
    rows = evidence.collect(d / "genome.h5", [d / "rnaseq.bam"], ["reverse"])
    found = {r[:4] for r in rows if r[4] >= 2}
    truth = _true_introns(d)
    assert len(found & truth) >= 0.8 * len(truth)
    assert len(found - truth) <= 0.05 * len(found)
    # the same reads read as forward-stranded put every junction on the other strand
    flipped = {r[:4] for r in evidence.collect(d / "genome.h5", [d / "rnaseq.bam"], ["forward"]) if r[4] >= 2}
    assert not flipped & truth


def test_hints_introns_take_their_strand_from_the_splice_motif(tiny_species, tmp_path):
    d = tiny_species["dir"]
    truth = sorted(_true_introns(d))
    plus = next(i for i in truth if i[1] == "+")
    minus = next(i for i in truth if i[1] == "-")
    lines = [f"{s}\tb2h\tintron\t{a + 1}\t{e}\t0\t.\t.\tmult={n};pri=4;src=E"
             for (s, _, a, e), n in ((plus, 7), (minus, 3))]
    lines += [f"{plus[0]}\tw2h\tep\t{plus[2] - 20}\t{plus[2]}\t3\t.\t.\tsrc=W;mult=3;",  # exon part: no junction
              f"{plus[0]}\tb2h\tintron\t{plus[2] + 1}\t{plus[3]}\t0\t.\t.\tmult=2;",  # the same intron again
              f"{plus[0]}\tb2h\tintron\t10\t99999999\t0\t.\t.\tmult=2;"]  # past the sequence end: left out
    (tmp_path / "hints.gff").write_text("\n".join(lines) + "\n")
    rows = evidence.collect(d / "genome.h5", hints=[tmp_path / "hints.gff"])
    assert rows == sorted([(*plus, 9), (*minus, 3)], key=lambda r: (r[0] != plus[0], r[2]))  # summed per intron
    evidence.write_tsv(rows, tmp_path / "j.tsv")
    assert evidence.read_tsv(tmp_path / "j.tsv") == rows


def test_a_broken_hints_file_is_one_error_line_naming_it(tiny_species, tmp_path):
    d = tiny_species["dir"]
    (tmp_path / "hints.gff").write_text("chr1\tb2h\tintron\t100\n")
    proc = subprocess.run([sys.executable, SCRIPTS / "collect_junctions.py", "--genome-h5", d / "genome.h5",
                           "--hints", tmp_path / "hints.gff", "--out", tmp_path / "j.tsv"], capture_output=True,
                          text=True)
    assert proc.returncode == 1 and not (tmp_path / "j.tsv").exists()
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and "hints.gff line 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(InputError, match="not a junctions table"):
        evidence.read_tsv(tmp_path / "hints.gff")


def _gene(seqid, start, exons, gene_id, strand="+"):
    ex = [(start + a, start + b) for a, b in exons]
    return Transcript(seqid, strand, ex, list(ex), gene_id=gene_id, transcript_id=f"{gene_id}.1")


def test_intron_agreement_counts_only_the_validation_stretches():
    val = {"chr1": [(0, 10_000)]}
    ts = [_gene("chr1", 100, [(0, 100), (200, 300)], "a"), _gene("chr1", 20_000, [(0, 100), (200, 300)], "b")]
    junctions = [("chr1", "+", 200, 300, 5), ("chr1", "+", 5000, 5100, 5), ("chr1", "+", 20_100, 20_200, 5)]
    assert rounds.intron_agreement(ts, junctions, val) == (1.0, 0.5, pytest.approx(2 / 3))


def _val_h5(path, spans):
    """A validation file holding chunks (seqid, start, end) only (what validation_intervals reads)."""
    import h5py

    with h5py.File(path, "w") as h5:
        h5["data/seqids"] = np.array([s.encode() for s, _, _ in spans], "S50")
        h5["data/start_ends"] = np.array([(a, b) for _, a, b in spans], np.int64)


def test_a_round_is_final_only_when_the_check_says_it_is_better(tmp_path, monkeypatch):
    """The evidence check scores each stage decoded without reads (here: the annotation files
    stand for those decodings); a later stage must beat every earlier one."""
    monkeypatch.setattr(rounds, "decoded_without_evidence",
                        lambda genome, gff3, prof, cfg, seqids, out: [t for t in read_gff3(gff3) if t.cds])
    _val_h5(tmp_path / "val.h5", [("chr1", 0, 10_000), ("chr1", 10_000, 0)])
    lengths = {"chr1": 30_000}
    right = [_gene("chr1", 100, [(0, 100), (200, 300)], "a"), _gene("chr1", 2000, [(0, 100), (400, 600)], "b")]
    worse = [_gene("chr1", 100, [(0, 100), (210, 300)], "a"), _gene("chr1", 2000, [(0, 600)], "b")]
    first = right[:1] + worse[1:]  # one of two introns right
    for name, ts in (("first", first), ("worse", worse), ("better", right)):
        write_gff3(ts, lengths, tmp_path / f"{name}.gff3", "test")
    junctions = [("chr1", "+", 200, 300, 9), ("chr1", "+", 2100, 2400, 9)]
    stages = {"first_pass": tmp_path / "first.gff3", "round1": tmp_path / "worse.gff3"}

    def decoding():
        return None, {name: (path, None) for name, path in stages.items()}, None

    assert rounds.choose_final(tmp_path / "val.h5", stages, tmp_path / "f.gff3", tmp_path / "r.tsv", junctions,
                               decoding=decoding()) == "first_pass"
    assert (tmp_path / "f.gff3").read_bytes() == (tmp_path / "first.gff3").read_bytes()
    stages["round2"] = tmp_path / "better.gff3"
    assert rounds.choose_final(tmp_path / "val.h5", stages, tmp_path / "f.gff3", tmp_path / "r.tsv", junctions,
                               decoding=decoding()) == "round2"
    table = (tmp_path / "r.tsv").read_text().splitlines()
    assert [ln.split("\t")[-1] for ln in table[1:]] == ["no", "no", "yes"]
    # without evidence the held-out pseudolabel genes (the first pass's) decide: the first pass stays
    held_out = [t for t in read_gff3(tmp_path / "first.gff3")]
    assert rounds.choose_final(tmp_path / "val.h5", stages, tmp_path / "f.gff3", tmp_path / "r.tsv",
                               held_out=held_out) == "first_pass"
