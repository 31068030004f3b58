"""The Helixer-compatible HDF5 layout: every dataset name, dtype and class order lives here.

Nothing else in genetune spells a dataset name. Shapes follow Helixer's exporter
(its geenuff2h5.py and fasta2h5.py): N chunks of L bases, both strands, padding at the end.
"""

import numpy as np

DEFAULT_SUBSEQUENCE_LENGTH = 21384  # 9 * 2376, Helixer's fungi default
POOL_SIZE = 9

# One-hot column order of data/X (Helixer's numerify order).
BASES = ("C", "A", "T", "G")
# Complement of each X column: C<->G, A<->T, so reverse complement = flip rows and columns.
COMPLEMENT_COLUMNS = [3, 2, 1, 0]

CLASSES = ("intergenic", "UTR", "CDS", "intron")
IG, UTR, CDS, INTRON = range(4)
PHASE_CLASSES = ("no_phase", "phase_0", "phase_1", "phase_2")
# Phase class of a CDS base by its codon position (0 = first base of a codon). Helixer labels
# "bases until the next codon start": position 0 -> phase 0, 1 -> phase 2, 2 -> phase 1.
PHASE_CLASS_BY_CODON_POSITION = (1, 3, 2)
# Transition columns: [+transcript, +CDS, +intron, -transcript, -CDS, -intron].
TRANSITION_NAMES = ("transcript_start", "cds_start", "intron_start", "transcript_end", "cds_end", "intron_end")
# Helixer computes transitions in ascending genomic order before flipping the minus strand, so on
# a minus chunk the start and end columns are swapped. This permutation,
# applied to a minus chunk's columns, gives them their meaning in the chunk's own 5'->3' order.
MINUS_TRANSITION_COLUMNS = [3, 4, 5, 0, 1, 2]

# Boundary probabilities per base, for models that predict them (geneML's classes; HybridModel's
# optional boundary head). The base each one sits on, 5'->3' on the chunk's strand:
#   acceptor: first exon base after an intron (the base after AG)
#   donor: last exon base before an intron (the base before GT)
#   start_codon: the A of the ATG (first CDS base)
#   stop_codon: the last base of the stop codon (last CDS base)
# the 7 per-base classes of geneML's residual CNN (one output; targets.py derives them from y + transitions)
GENEML_CLASSES = ("none", "exon_start", "exon_end", "cds_start", "cds_end", "is_exon", "is_intron")
BOUNDARY_CLASSES = ("acceptor", "donor", "start_codon", "stop_codon")
ACCEPTOR, DONOR, START_CODON, STOP_CODON = range(4)

SEQID_DTYPE = "S50"
SPECIES_DTYPE = "S25"
BAM_FILES_DTYPE = "S512"

# data/ group
X = "data/X"
SEQIDS = "data/seqids"
SPECIES = "data/species"
START_ENDS = "data/start_ends"
Y = "data/y"
PHASES = "data/phases"
TRANSITIONS = "data/transitions"
SAMPLE_WEIGHTS = "data/sample_weights"
GENE_LENGTHS = "data/gene_lengths"
IS_ANNOTATED = "data/is_annotated"
ERR_SAMPLES = "data/err_samples"
FULLY_INTERGENIC = "data/fully_intergenic_samples"

# prediction file
PREDICTIONS = "predictions"
PREDICTIONS_PHASE = "predictions_phase"
PREDICTIONS_BOUNDARY = "predictions_boundary"  # (N, L, 4) BOUNDARY_CLASSES, same layout as predictions

# evaluation/ group (coverage); Helixer's trainer hard-codes the prefix "rnaseq".
DEFAULT_COVERAGE_PREFIX = "rnaseq"


def coverage_name(prefix: str = DEFAULT_COVERAGE_PREFIX) -> str:
    return f"evaluation/{prefix}_coverage"


def spliced_coverage_name(prefix: str = DEFAULT_COVERAGE_PREFIX) -> str:
    return f"evaluation/{prefix}_spliced_coverage"


def bam_files_name(prefix: str = DEFAULT_COVERAGE_PREFIX) -> str:
    return f"evaluation/{prefix}_meta/bam_files"


def strandedness_name(prefix: str = DEFAULT_COVERAGE_PREFIX) -> str:
    return f"evaluation/{prefix}_meta/strandedness"


# Per-base arrays written by pseudolabels_to_h5 (name -> (trailing shape builder, dtype)).
LABEL_DATASETS = {
    Y: ((4,), np.int8),
    PHASES: ((4,), np.int8),
    TRANSITIONS: ((6,), np.int8),
    SAMPLE_WEIGHTS: ((), np.int8),
    GENE_LENGTHS: ((), np.uint32),
}
FLAG_DATASETS = (IS_ANNOTATED, ERR_SAMPLES, FULLY_INTERGENIC)


def create_chunked(h5, name, n_rows, row_shape, dtype, fillvalue=None, compression="gzip"):
    """A resizable dataset with one HDF5 chunk per subsequence, as Helixer's exporter writes."""
    row_shape = tuple(row_shape)
    opts = {"compression": compression}
    if compression == "gzip":
        opts["compression_opts"] = 4
    if len(row_shape) >= 1:
        opts["shuffle"] = True
    return h5.create_dataset(
        name,
        shape=(n_rows, *row_shape),
        maxshape=(None, *row_shape),
        dtype=dtype,
        chunks=(1, *row_shape) if row_shape else (1,),
        fillvalue=fillvalue,
        **opts,
    )
