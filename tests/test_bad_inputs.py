"""Every bad input: exit status 1, one `error:` line naming the file or key, no traceback, nothing left.

Each case runs a script in-process as `python <script> ...` would (runpy, through cli.run) and
checks: SystemExit(1); the last line on stderr starts with "error:" and names what it must;
no "Traceback"; the output path and its temporary files do not exist, nor any folder the run
made. Fixtures are real files: FASTA, GFF3/GTF, BAM (pysam), HDF5 (h5py), checkpoints (torch).
"""

import gzip
import os
import runpy
import shutil
import sys

import h5py
import numpy as np
import pysam
import pytest
import torch
from conftest import SCRIPTS, TINY_L

from genetune.demo.simulate import predictions_from_labels
from genetune.io.fasta import ingest_genome
from genetune.models import with_coverage_adapter
from genetune.models.checkpoint import input_channels, save_checkpoint
from genetune.models.hybrid import HybridArchitecture, HybridModel

OUT = "OUT"  # stands for the case's output path (tmp/out/<name>)


@pytest.fixture(scope="module")
def files(tiny_species, tmp_path_factory):
    """Good inputs to spoil one at a time, and spoiled ones."""
    d = tiny_species["dir"]
    f = tmp_path_factory.mktemp("bad")
    genome = d / "genome.fa"
    seq = "".join(line.strip() for line in genome.read_text().splitlines()[1:3])
    w = {}

    def write(name, text, mode="w"):
        p = f / name
        with open(p, mode) as fh:
            fh.write(text)
        w[name] = p
        return p

    write("empty.fa", "")
    write("no_header.fa", "ACGTACGT\n")
    write("bad_char.fa", ">s\nACGTJACGT\n")
    write("dup.fa", ">s\nACGT\n>s\nACGT\n")
    write("long_id.fa", ">" + "x" * 60 + "\nACGT\n")
    write("header_only.fa", ">s\n")
    write("fastq.fa", "@r1\nACGT\n+\nIIII\n")
    gz = gzip.compress((">s\n" + seq * 50 + "\n").encode())
    write("truncated.fa.gz", gz[: len(gz) // 2], "wb")
    write("garbage.fa", bytes(range(256)) * 4, "wb")
    (f / "adir.fa").mkdir()
    w["adir.fa"] = f / "adir.fa"
    good_gff = (d / "annotation.gff3").read_text().splitlines()
    feats = [ln for ln in good_gff if ln and not ln.startswith("#")]
    sid = feats[0].split("\t")[0]
    write("cols.gff3", "##gff-version 3\ns\tt\tgene\t1\t10\n")
    write("coords.gff3", f"##gff-version 3\n{sid}\tt\tgene\t50\t10\t.\t+\t.\tID=g\n")
    write("seqid.gff3", "##gff-version 3\nnope\tt\tgene\t1\t10\t.\t+\t.\tID=g\n")
    write("past_end.gff3", f"##gff-version 3\n{sid}\tt\tgene\t1\t99999999\t.\t+\t.\tID=g\n")
    write("orphan_cds.gff3", f"##gff-version 3\n{sid}\tt\tCDS\t1\t30\t.\t+\t0\tID=c\n")
    write("parent.gff3", f"##gff-version 3\n{sid}\tt\tCDS\t1\t30\t.\t+\t0\tParent=nobody\n")
    write(
        "phase.gff3",
        f"##gff-version 3\n{sid}\tt\tmRNA\t1\t30\t.\t+\t.\tID=m\n{sid}\tt\tCDS\t1\t30\t.\t+\t.\tParent=m\n",
    )
    write(
        "overlap.gff3",
        f"##gff-version 3\n{sid}\tt\tmRNA\t1\t90\t.\t+\t.\tID=m\n"
        f"{sid}\tt\texon\t1\t50\t.\t+\t.\tParent=m\n{sid}\tt\texon\t40\t90\t.\t+\t.\tParent=m\n",
    )
    write(
        "outside.gff3",
        f"##gff-version 3\n{sid}\tt\tmRNA\t1\t90\t.\t+\t.\tID=m\n"
        f"{sid}\tt\texon\t1\t30\t.\t+\t.\tParent=m\n{sid}\tt\tCDS\t40\t60\t.\t+\t0\tParent=m\n",
    )
    write("no_genes.gff3", "##gff-version 3\n")
    write("attrs.gff3", f"##gff-version 3\n{sid}\tt\tgene\t1\t10\t.\t+\t.\tID=g;;=;%\n")
    write("no_tid.gtf", f'{sid}\tt\tCDS\t1\t30\t.\t+\t0\tgene_id "g";\n')
    write("frame.gtf", f'{sid}\tt\tCDS\t1\t30\t.\t+\t.\tgene_id "g"; transcript_id "t";\n')
    write("bad.json", "{not json")
    write("bad.yaml", "a: [1, 2\n")
    write("list.yaml", "- 1\n- 2\n")
    write("not_h5.h5", "hello")
    h5 = (d / "genome.h5").read_bytes()
    write("truncated.h5", h5[: len(h5) // 3], "wb")
    with h5py.File(f / "no_x.h5", "w") as h:
        h["x"] = 1
    w["no_x.h5"] = f / "no_x.h5"
    # another genome: chunks that do not match
    rng = np.random.default_rng(0)
    write("other.fa", ">other\n" + "".join(rng.choice(list("ACGT"), 5000)) + "\n")
    ingest_genome(f / "other.fa", "other", f / "other.h5", TINY_L)
    w["other.h5"] = f / "other.h5"
    predictions_from_labels(d / "labels.h5", f / "pred.h5")
    w["pred.h5"] = f / "pred.h5"
    # BAMs: text, truncated, unsorted with an old index, a stale index of another BAM, other sequences
    write("text.bam", "not a bam\n")
    bam = (d / "rnaseq.bam").read_bytes()
    write("truncated.bam", bam[: len(bam) // 2], "wb")
    shutil.copy(d / "rnaseq.bam", f / "stale.bam")
    pysam.sort("-n", "-o", str(f / "unsorted.bam"), str(d / "rnaseq.bam"))
    shutil.copy(d / "rnaseq.bam.bai", f / "unsorted.bam.bai")
    w["unsorted.bam"] = f / "unsorted.bam"
    with pysam.AlignmentFile(str(d / "rnaseq.bam")) as src:
        header = src.header.to_dict()
        reads = [r for _, r in zip(range(50), src)]
    header["SQ"] = [{"SN": "chrX", "LN": 1000}]
    with pysam.AlignmentFile(str(f / "renamed.bam"), "wb", header=header) as dst:
        for r in reads:
            r.reference_id = 0
            r.next_reference_id = -1
            r.reference_start = min(r.reference_start, 500)
            dst.write(r)
    pysam.index(str(f / "renamed.bam"))
    w["renamed.bam"] = f / "renamed.bam"
    shutil.copy(f / "renamed.bam.bai", f / "stale.bam.bai")  # an index of another BAM
    shutil.copy(d / "rnaseq.bam", f / "newer.bam")  # rewritten after it was indexed
    shutil.copy(d / "rnaseq.bam.bai", f / "newer.bam.bai")
    os.utime(f / "newer.bam.bai", (1e9, 1e9))
    w["newer.bam"] = f / "newer.bam"
    w["stale.bam"] = f / "stale.bam"
    # models
    torch.manual_seed(0)
    base = HybridModel(HybridArchitecture(filter_depth=8, units=8, kernel_size=9))
    save_checkpoint(f / "model.pt", base, input_channels())
    save_checkpoint(f / "cov.pt", with_coverage_adapter(base, 1), input_channels(["a.bam"], ["reverse"]))
    w["model.pt"], w["cov.pt"] = f / "model.pt", f / "cov.pt"
    write("text.pt", "not a model")
    pt = (f / "model.pt").read_bytes()
    write("truncated.pt", pt[: len(pt) // 2], "wb")
    write("text.keras", "not keras")
    import zipfile

    with zipfile.ZipFile(f / "empty.keras", "w") as z:
        z.writestr("metadata.json", "{}")
    w["empty.keras"] = f / "empty.keras"
    ro = f / "readonly"  # unwritable: a folder without write permission, or for root (who may write
    if os.geteuid() == 0:  # anywhere) a file where the output's folder should be
        ro.write_text("")
    else:
        ro.mkdir()
        os.chmod(ro, 0o500)
    w["readonly"] = ro
    return {
        "d": d,
        "f": f,
        **w,
        "genome.h5": d / "genome.h5",
        "labels.h5": d / "labels.h5",
        "genome.fa": genome,
        "gff3": d / "annotation.gff3",
        "bam": d / "rnaseq.bam",
    }


def _args(spec, files, out):
    def one(a):
        if "=@" in a:
            stage, _, rest = a.partition("=")
            return f"{stage}={one(rest)}"
        if a.startswith(OUT):
            return str(out) + a[len(OUT) :]
        if a.startswith("@"):
            name, _, rest = a[1:].partition("/")
            base = files.get(name, files["f"] / name)
            return str(base / rest) if rest else str(base)
        return a

    return [one(a) for a in spec]


S = {}  # script -> base arguments with good inputs
S["ingest_genome"] = ["--fasta", "@genome.fa", "--species", "sp", "--subsequence-length", str(TINY_L), "--out", OUT]
S["pseudolabels_to_h5"] = ["--gff3", "@gff3", "--genome-h5", "@genome.h5", "--out", OUT]
S["add_coverage"] = ["--genome-h5", "@genome.h5", "--bam", "@bam", "--strandedness", "reverse", "--out", OUT]
S["predict"] = ["--genome-h5", "@genome.h5", "--model", "@model.pt", "--out", OUT]
S["decode"] = ["--genome-h5", "@genome.h5", "--predictions", "@pred.h5", "--out", OUT]
S["select_confident"] = ["--labels-h5", "@labels.h5", "--predictions", "@pred.h5", "--gff3", "@gff3", "--out", OUT]
S["split_train_val"] = ["--labels-h5", "@labels.h5", "--out-train", OUT, "--out-val", OUT + "2"]
S["finetune"] = [
    "--train-h5",
    "@labels.h5",
    "--val-h5",
    "@labels.h5",
    "--base-model",
    "@model.pt",
    "--settings",
    '{"epochs": 1}',
    "--out-dir",
    OUT,
]
S["evaluate"] = ["--reference", "@gff3", "--genome-h5", "@genome.h5", "--prediction", "@gff3", "--out", OUT]
S["import_model"] = ["--keras", "@text.keras", "--out", OUT]


def case(script, replace, expect, extra=()):
    """`replace`: {argument: new value} on the script's good arguments (None drops the argument)."""
    args = list(S[script])
    for key, value in replace.items():
        i = args.index(key)
        if value is None:
            del args[i : i + 2]
        else:
            args[i + 1] = value
    return pytest.param(script, args + list(extra), expect, id=f"{script}:{expect}")


CASES = [
    # FASTA
    case("ingest_genome", {"--fasta": "@nothere"}, "nothere"),
    case("ingest_genome", {"--fasta": "@adir.fa"}, "adir.fa"),
    case("ingest_genome", {"--fasta": "@empty.fa"}, "empty.fa: no sequences"),
    case("ingest_genome", {"--fasta": "@no_header.fa"}, "before the first '>'"),
    case("ingest_genome", {"--fasta": "@bad_char.fa"}, "character 'J'"),
    case("ingest_genome", {"--fasta": "@dup.fa"}, "duplicate sequence id"),
    case("ingest_genome", {"--fasta": "@long_id.fa"}, "longer than 50 bytes"),
    case("ingest_genome", {"--fasta": "@header_only.fa"}, "has no bases"),
    case("ingest_genome", {"--fasta": "@fastq.fa"}, "FASTQ"),
    case("ingest_genome", {"--fasta": "@truncated.fa.gz"}, "truncated.fa.gz"),
    case("ingest_genome", {"--fasta": "@garbage.fa"}, "garbage.fa"),
    case("ingest_genome", {"--species": "x" * 30}, "longer than 25 bytes"),
    case("ingest_genome", {"--species": "bad name!"}, "species name"),
    case("ingest_genome", {"--subsequence-length": "100"}, "not divisible"),
    case("ingest_genome", {"--subsequence-length": "0"}, "--subsequence-length"),
    case("ingest_genome", {"--out": "@readonly/sub/g.h5"}, "cannot write"),
    # GFF3 / GTF
    case("pseudolabels_to_h5", {"--gff3": "@cols.gff3"}, "expected 9 tab-separated columns"),
    case("pseudolabels_to_h5", {"--gff3": "@coords.gff3"}, "invalid coordinates"),
    case("pseudolabels_to_h5", {"--gff3": "@seqid.gff3"}, "'nope' is not in the FASTA"),
    case("pseudolabels_to_h5", {"--gff3": "@past_end.gff3"}, "past the end"),
    case("pseudolabels_to_h5", {"--gff3": "@orphan_cds.gff3"}, "CDS without a Parent"),
    case("pseudolabels_to_h5", {"--gff3": "@parent.gff3"}, "Parent 'nobody' is not defined"),
    case("pseudolabels_to_h5", {"--gff3": "@phase.gff3"}, "CDS phase '.'"),
    case("pseudolabels_to_h5", {"--gff3": "@overlap.gff3"}, "exons of 'm' overlap"),
    case("pseudolabels_to_h5", {"--gff3": "@outside.gff3"}, "lies outside its exons"),
    case("pseudolabels_to_h5", {"--gff3": "@no_genes.gff3"}, "no coding transcripts"),
    case("pseudolabels_to_h5", {"--gff3": "@no_tid.gtf"}, "needs gene_id and transcript_id"),
    case("pseudolabels_to_h5", {"--gff3": "@frame.gtf"}, "CDS frame '.'"),
    case("pseudolabels_to_h5", {"--gff3": "@nothere.gff3"}, "nothere.gff3"),
    case("pseudolabels_to_h5", {"--genome-h5": "@not_h5.h5"}, "not_h5.h5"),
    case("evaluate", {"--reference": "@no_genes.gff3"}, "no coding genes"),
    case("evaluate", {"--prediction": "@coords.gff3"}, "invalid coordinates"),
    case("evaluate", {}, "stage name 'a' is given twice", extra=["--prediction", "a=@gff3", "--prediction", "a=@gff3"]),
    # BAM
    case("add_coverage", {"--bam": "@nothere.bam"}, "nothere.bam"),
    case("add_coverage", {"--bam": "@text.bam"}, "text.bam"),
    case("add_coverage", {"--bam": "@truncated.bam"}, "truncated.bam"),
    case("add_coverage", {"--bam": "@unsorted.bam"}, "sorted by read name, not by coordinate"),
    case("add_coverage", {"--bam": "@newer.bam"}, "newer.bam.bai: older than"),
    case("add_coverage", {"--bam": "@stale.bam"}, "index"),
    case("add_coverage", {"--bam": "@renamed.bam"}, "renamed.bam"),
    case("add_coverage", {"--strandedness": "sideways"}, "--strandedness"),
    case("add_coverage", {"--strandedness": None}, "strandedness", extra=["--strandedness", "reverse", "forward"]),
    # HDF5
    case("predict", {"--genome-h5": "@nothere.h5"}, "nothere.h5"),
    case("predict", {"--genome-h5": "@not_h5.h5"}, "not_h5.h5"),
    case("predict", {"--genome-h5": "@truncated.h5"}, "truncated.h5"),
    case("predict", {"--genome-h5": "@no_x.h5"}, "no_x.h5"),
    case("predict", {}, "predict.batch_size: -3 must be >= 1", extra=["--settings", '{"batch_size": -3}']),
    case("decode", {"--predictions": "@other.h5"}, "do not match"),
    case("decode", {"--predictions": "@labels.h5"}, "no predictions"),
    case("decode", {"--predictions": "@truncated.h5"}, "truncated.h5"),
    case("select_confident", {"--predictions": "@other.h5"}, "do not match"),
    case("split_train_val", {"--labels-h5": "@genome.h5"}, "genome.h5"),
    case("split_train_val", {"--out-val": OUT}, "same file"),
    # model files
    case("predict", {"--model": "@nothere.pt"}, "nothere.pt"),
    case("predict", {"--model": "@text.pt"}, "text.pt: not a readable genetune checkpoint"),
    case("predict", {"--model": "@truncated.pt"}, "truncated.pt"),
    case("predict", {"--model": "@cov.pt"}, "needs RNA-seq coverage"),
    case("import_model", {}, "neither a Keras 2"),
    case("import_model", {"--keras": "@empty.keras"}, "needs config.json and model.weights.h5"),
    case("import_model", {"--keras": "@nothere.keras"}, "nothere.keras"),
    # settings
    case("finetune", {"--settings": "@bad.json"}, "bad.json"),
    case("finetune", {"--settings": "{not json"}, "not valid JSON"),
    case("finetune", {"--settings": "@bad.yaml"}, "bad.yaml line"),
    case("finetune", {"--settings": "@list.yaml"}, "must be a mapping"),
    case("finetune", {"--settings": '{"lr": -0.01}'}, "finetune.lr: -0.01 must be > 0"),
    case("finetune", {"--settings": '{"epochs": "3"}'}, 'finetune.epochs: "3" is not a integer'),
    case("finetune", {"--settings": '{"epochs": 0}'}, "finetune.epochs: 0 must be >= 1"),
    case("finetune", {"--settings": '{"patience": 0}'}, "finetune.patience: 0 must be >= 1"),
    case("finetune", {"--settings": '{"class_weights": [1, 2]}'}, "finetune.class_weights"),
    case("finetune", {"--settings": '{"epoch": 3}'}, "unknown key epoch"),
    case("finetune", {"--settings": '{"mode": "coverage"}'}, "needs RNA-seq coverage"),
    case("finetune", {"--val-h5": "@labels.h5", "--train-h5": "@other.h5"}, "other.h5: has no data/y"),
    case("finetune", {"--base-model": "@text.pt"}, "text.pt"),
    case("finetune", {"--out-dir": "@readonly/run"}, "cannot write"),
    case("decode", {}, "decode.min_intron: -5 must be >= 4", extra=["--settings", '{"min_intron": -5}']),
    case("select_confident", {}, "select.keep_fraction: 0 must be > 0", extra=["--settings", '{"keep_fraction": 0}']),
    case("select_confident", {}, "select.strata: 0 must be >= 1", extra=["--settings", '{"strata": 0}']),
    case("split_train_val", {}, "split.val_fraction: 1 must be < 1", extra=["--settings", '{"val_fraction": 1}']),
    case("split_train_val", {}, "split.val_fraction: 0 must be > 0", extra=["--settings", '{"val_fraction": 0}']),
]


@pytest.mark.parametrize("script,args,expect", CASES)
def test_bad_input_is_one_line_exit_1_no_traceback_nothing_left(
    script, args, expect, files, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out" / "result"
    argv = [str(SCRIPTS / f"{script}.py"), *_args(args, files, out)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.syspath_prepend(str(SCRIPTS))
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(argv[0], run_name="__main__")
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert exit_info.value.code == 1, err[-2000:]
    assert "Traceback" not in err and lines[-1].startswith("error: "), err[-2000:]
    assert expect in lines[-1], lines[-1]
    left = list((tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else []
    assert not left, left
