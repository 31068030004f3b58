"""The decoder's gene-structure states, one strand read 5'->3', and the tables that map them to classes.

States: intergenic, 5'UTR, 5'UTR intron, six coding states, six coding-intron states, 3'UTR,
3'UTR intron, the three bases of the start codon, then the long-intron states (one per intron type
and long length component, appended after N_STATES). A coding state's context k remembers the
codon position and, where a stop codon could follow, the bases of the codon so far (T, TA, TG),
also across introns.
"""

import numba
import numpy as np

from genetune.core import layout
from genetune.io.fasta import A, G, T

INTERGENIC, UTR5, UTR5_INTRON = 0, 1, 2
CODING, CODING_INTRON = 3, 9  # coding context k: state CODING + k, its intron CODING_INTRON + k
UTR3, UTR3_INTRON = 15, 16
START = 17  # the start codon's A, T, G: coding, but no intron may open inside it
N_STATES = 20  # states that emit the network's classes; the long-intron states follow
LONG_INTRON = N_STATES  # first long-intron state: LONG_INTRON + t * n_long + c for intron type t, component c
STOP = -1  # next_context's answer when the codon just read is a stop
# context k: 0 codon start, 1 after T, 2 after other, 3 after TA, 4 after TG, 5 after other pair
CODON_POS = np.array([0, 1, 1, 2, 2, 2], dtype=np.int64)

INTRON_STATES = [UTR5_INTRON, UTR3_INTRON, *range(CODING_INTRON, CODING_INTRON + 6)]
CODING_STATES = [*range(CODING, CODING + 6), *range(START, START + 3)]
EXON_STATES = [UTR5, UTR3, *CODING_STATES]
INTRON_TYPES = np.array(INTRON_STATES, np.int64)  # intron type t -> its plain intron state
EXON_TYPES = np.array([UTR5, UTR3, *range(CODING, CODING + 6)], np.int64)  # type t -> the exon state around it


@numba.njit(cache=True)
def next_context(k, base):
    """The coding context after reading `base` in context k (STOP: the codon is a stop)."""
    if k == 0:
        return 1 if base == T else 2
    if k == 1:
        return 3 if base == A else (4 if base == G else 5)
    if k == 2:
        return 5
    if k == 3:
        return STOP if (base == A or base == G) else 0
    if k == 4:
        return STOP if base == A else 0
    return 0


@numba.njit(cache=True)
def plain_intron(state):
    """The plain intron state an exon state's introns pass through (UTR5 -> UTR5_INTRON, CODING + k -> ...)."""
    if state == UTR5:
        return UTR5_INTRON
    if state == UTR3:
        return UTR3_INTRON
    return CODING_INTRON + (state - CODING)


def _state_tables():
    """Per state: the class whose probability it emits, and the phase-head column of coding states (0: none)."""
    cls = np.full(N_STATES, layout.INTRON, np.int64)
    cls[INTERGENIC], cls[UTR5], cls[UTR3] = layout.IG, layout.UTR, layout.UTR
    phase = np.zeros(N_STATES, np.int64)
    for state, codon_pos in [(CODING + k, CODON_POS[k]) for k in range(6)] + [(START + j, j) for j in range(3)]:
        cls[state] = layout.CDS
        phase[state] = layout.PHASE_CLASS_BY_CODON_POSITION[codon_pos]
    return cls, phase


STATE_CLASS, STATE_PHASE = _state_tables()


def is_coding(path):
    return ((path >= CODING) & (path < CODING + 6)) | ((path >= START) & (path < START + 3))


def is_intron(path):
    return (
        (path == UTR5_INTRON)
        | (path == UTR3_INTRON)
        | ((path >= CODING_INTRON) & (path < CODING_INTRON + 6))
        | (path >= LONG_INTRON)
    )
