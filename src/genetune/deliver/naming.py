"""IDs a user owns: NCBI-style locus tags PREFIX_000010, PREFIX_000020, ... in genome order (steps of
10 leave room for genes added later between two), transcripts PREFIX_000010-T1. The same gene
models in the same genome always get the same IDs: the order is the sequences' order in genome.h5,
then start, then strand."""

import dataclasses

from genetune.core.errors import InputError
from genetune.core.settings import is_locus_prefix
from genetune.io.gff import sorted_by_position

STEP = 10
DIGITS = 6


def check_prefix(prefix, source="naming.prefix"):
    """The prefix, or one clear error naming where it came from."""
    if not is_locus_prefix(prefix):
        raise InputError(
            f"{source}: '{prefix}' is no locus-tag prefix (1-32 letters, digits or _, starting with a "
            f"letter; NCBI registers 3-12 letters and digits)"
        )
    return prefix


def locus_tags(transcripts, seq_order, prefix):
    """The transcripts in genome order, one gene each, renamed PREFIX_000010 (gene, with
    locus_tag=) and PREFIX_000010-T1 (transcript)."""
    check_prefix(prefix)
    named = []
    for k, t in enumerate(sorted_by_position(transcripts, seq_order), 1):
        tag = f"{prefix}_{STEP * k:0{DIGITS}d}"
        named.append(
            dataclasses.replace(
                t, gene_id=tag, transcript_id=f"{tag}-T1", attributes={"locus_tag": tag, **t.attributes}
            )
        )
    return named
