"""Model families behind one interface (family.ModelFamily), and the one place that builds a model
from its record. Prediction, training and decoding ask the interface, not the class; no family
name is spelled outside this package.
"""

import dataclasses
import os

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.models.family import FamilyModel, ModelFamily  # noqa: F401  (the interface, re-exported)
from genetune.models.hybrid import HybridArchitecture, HybridModel
from genetune.models.residual import ResidualArchitecture, ResidualCNN

FAMILIES = {
    "hybrid": (HybridModel, HybridArchitecture),
    "residual": (ResidualCNN, ResidualArchitecture),
}
DEFAULT_FAMILY = "hybrid"  # scratch training's default; checkpoints from before families were recorded


def register(model_cls, arch_cls):
    """Add a family (a FamilyModel subclass with its `family` name and architecture dataclass)."""
    FAMILIES[model_cls.family] = (model_cls, arch_cls)


def family_of(ckpt):
    """The family a checkpoint records."""
    return ckpt.get("family", DEFAULT_FAMILY)


def architecture(family, record, source="checkpoint"):
    """The family's architecture dataclass from a record (dict); a key of another family, or an
    unknown family, is one clear error naming the source."""
    if family not in FAMILIES:
        raise InputError(f"{source}: unknown model family '{family}' (known: {', '.join(FAMILIES)})")
    arch_cls = FAMILIES[family][1]
    known = {f.name for f in dataclasses.fields(arch_cls)}
    foreign = sorted(set(record) - known)
    if foreign:
        others = [
            name
            for name, (_, cls) in FAMILIES.items()
            if name != family and set(foreign) <= {f.name for f in dataclasses.fields(cls)}
        ]
        hint = f"; these are {others[0]} settings" if others else ""
        raise InputError(
            f"{source}: architecture settings {', '.join(foreign)} do not belong to the {family} "
            f"family (it has {', '.join(sorted(known))}){hint}"
        )
    try:
        return arch_cls(**record)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{source}: invalid {family} architecture ({exc})") from None


def build(family, record, source="checkpoint"):
    """A new model of `family` with the architecture `record` (randomly initialised)."""
    arch = architecture(family, record, source)
    try:
        return FAMILIES[family][0](arch)
    except ValueError as exc:
        raise InputError(f"{source}: {exc}") from None


def with_coverage_adapter(base, n_bams, width=16, kernel=9, hidden=False):
    """`base` (either family) with a coverage adapter (adapter.py) that starts as a no-op: before
    any training the model predicts exactly what `base` predicts."""
    if base.input_channels > 4:
        raise InputError("the base model already reads RNA-seq coverage")
    record = {
        **base.arch.to_dict(),
        "coverage_adapter": {"n_bams": n_bams, "width": width, "kernel": kernel, "hidden": hidden},
    }
    model = build(base.family, record, "coverage adapter")
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("adapter.") for k in missing), (missing, unexpected)
    return model


def input_channels(coverage_bams=None, strandedness=None, prefix=layout.DEFAULT_COVERAGE_PREFIX, norm="log"):
    """The checkpoint's record of what the model reads: DNA columns, and RNA-seq coverage of which
    BAMs (their order is part of the input), strandedness, dataset prefix and normalisation."""
    return {
        "dna": list(layout.BASES),
        "coverage": None
        if not coverage_bams
        else {
            "bams": [os.path.basename(str(b)) for b in coverage_bams],
            "strandedness": list(strandedness or []),
            "prefix": prefix,
            "norm": norm,
        },
    }
