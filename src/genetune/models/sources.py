"""Pretrained models from other projects -> (genetune model, input channels, model card).

Two source formats, one importer each beside the families: Helixer's Keras 2 HybridModel (.h5,
import_helixer) and geneML's Keras 3 residual CNN (.keras, import_geneml). The format is told
by the file's first bytes (HDF5 signature or zip). The model card names where the weights came
from: the file and its sha256 and, when the file lies inside an installed Python package (as
geneML's model does in its wheel), that package's name, version and licence from its
dist-info metadata.
"""

import email.parser
from pathlib import Path

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import sha256
from genetune.models import input_channels
from genetune.models.import_geneml import import_geneml_model
from genetune.models.import_helixer import import_keras_model
from genetune.models.residual import GENEML_CLASSES

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"


def source_format(path):
    """'helixer-keras-h5' or 'keras3' from the file's signature."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: model file not found")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == HDF5_SIGNATURE:
        return "helixer-keras-h5"
    if head[:4] == ZIP_SIGNATURE:
        return "keras3"
    raise InputError(f"{path}: neither a Keras 2 .h5 (HDF5) nor a Keras 3 .keras (zip) model file")


def installed_package(path):
    """{name, version, licence, url} of the installed distribution whose RECORD lists `path`, or {}."""
    path = Path(path).resolve()
    for root in path.parents:
        for record in root.glob("*.dist-info/RECORD"):
            rel = str(path.relative_to(root))
            try:
                listed = any(line.split(",", 1)[0] == rel for line in record.read_text().splitlines())
            except OSError:
                continue
            if listed:
                meta = email.parser.Parser().parsestr((record.parent / "METADATA").read_text())
                urls = [u.split(",", 1)[-1].strip() for u in meta.get_all("Project-URL") or []]
                return {
                    "name": meta.get("Name"),
                    "version": meta.get("Version"),
                    "licence": meta.get("License-Expression") or meta.get("License"),
                    "url": urls[0] if urls else meta.get("Home-page"),
                }
    return {}


def geneml_card(path, sha, keras_meta, package, context):
    name = package.get("name") or "geneml"
    version = package.get("version") or "unknown"
    return {
        "name": f"geneML {Path(path).stem} ({name} {version})",
        "source": {
            "format": "keras3",
            "project": "geneML",
            "package": name,
            "version": version,
            "url": package.get("url") or "https://github.com/hexagonbio/geneML",
            "file": str(path),
            "sha256": sha,
            "keras_version": keras_meta.get("keras_version"),
            "date_saved": keras_meta.get("date_saved"),
        },
        "licence": package.get("licence") or "GPL-3.0-only (geneML's licence; not read from an installed package)",
        "classes": list(GENEML_CLASSES),
        "genic_classes": list(layout.CLASSES),
        "genic_mapping": "intergenic = none; UTR = 0; CDS = is_exon + exon_start + exon_end + cds_start + cds_end; "
        "intron = is_intron",
        "boundary_classes": list(layout.BOUNDARY_CLASSES),
        "context": context,
        "inputs": "DNA one-hot in data/X's C, A, T, G columns (geneML's A, C, G, T permuted); bases other than "
        "A, C, G, T as all-zero rows, as geneML encodes N; no RNA-seq coverage",
        "intended_use": "fungal gene prediction (geneML's default model); a pretrained base model to fine-tune",
        "note": "weights converted from geneML's Keras 3 model without TensorFlow; `make compat` checks that "
        "genetune predicts what geneML's own code predicts (max abs diff <= 1e-4 on all 7 outputs)",
    }


def import_model(path, coverage_norm="none", coverage_bams=None, strandedness=None, name=None):
    """(model, input channels record, model card) of a Helixer .h5 or geneML .keras file."""
    fmt = source_format(path)
    sha = sha256(path)
    if fmt == "keras3":
        model, keras_meta = import_geneml_model(path)
        card = geneml_card(path, sha, keras_meta, installed_package(path), model.context)
        if name:
            card["name"] = name
        return model, input_channels(), card
    model, arch = import_keras_model(path, coverage_norm)
    bams, strands = None, None
    if arch.input_coverage:
        bams = coverage_bams or [f"bam{k + 1}" for k in range(arch.coverage_count)]
        strands = strandedness or ["unknown"] * arch.coverage_count
        if len(bams) != arch.coverage_count or len(strands) != arch.coverage_count:
            raise InputError(
                f"{path}: the model reads {arch.coverage_count} BAM(s); "
                f"got {len(bams)} name(s) and {len(strands)} strandedness value(s)"
            )
    card = {
        "name": name or Path(path).name,
        "source": {"format": fmt, "project": "Helixer", "file": str(path), "sha256": sha},
        "classes": list(layout.CLASSES),
        "context": None,
        "note": "weights converted from Helixer's Keras HybridModel; outputs match Keras within 1e-4",
    }
    return model, input_channels(bams, strands, norm=coverage_norm), card
