"""Model families behind one interface, and the one place that builds a model from its record.

Every family is an nn.Module with `family`, `arch` (a dataclass with to_dict()), `input_channels`,
`context` (bases either side each output depends on; None: the whole window, for recurrent
models), `flank` (input bases either side that forward() consumes), `length_multiple` (window
lengths must be a multiple of it), `outputs` (the probability
outputs it gives: "genic" always, "phase", "boundary"), `flops_per_bp()`, `forward(x, coverage)`
-> logits by head, `probabilities(logits)` -> (B, L, 4) arrays by output, `layer_groups()`
([(name, parameters)] from input to output, the head last) and `trunk_parameters()`.
Prediction, training and decoding ask this interface, not the class.
"""

import dataclasses

from ..errors import InputError
from .hybrid import HybridArchitecture, HybridModel
from .residual import ResidualArchitecture, ResidualCNN

FAMILIES = {
    "hybrid": (HybridModel, HybridArchitecture),
    "residual": (ResidualCNN, ResidualArchitecture),
}


def architecture(family, record, source="checkpoint"):
    """The family's architecture dataclass from a record (dict); a key of another family, or an
    unknown family, is one clear error naming the source."""
    if family not in FAMILIES:
        raise InputError(f"{source}: unknown model family '{family}' (known: {', '.join(FAMILIES)})")
    arch_cls = FAMILIES[family][1]
    known = {f.name for f in dataclasses.fields(arch_cls)}
    foreign = sorted(set(record) - known)
    if foreign:
        others = [name for name, (_, cls) in FAMILIES.items() if name != family
                  and set(foreign) <= {f.name for f in dataclasses.fields(cls)}]
        hint = f"; these are {others[0]} settings" if others else ""
        raise InputError(f"{source}: architecture settings {', '.join(foreign)} do not belong to the {family} "
                         f"family (it has {', '.join(sorted(known))}){hint}")
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
    record = {**base.arch.to_dict(), "coverage_adapter": {"n_bams": n_bams, "width": width, "kernel": kernel,
                                                          "hidden": hidden}}
    model = build(base.family, record, "coverage adapter")
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("adapter.") for k in missing), (missing, unexpected)
    return model
