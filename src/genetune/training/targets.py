"""Per-base training targets from a chunk's label arrays (y, phases, transitions, sample weights).

One place for what each model output is trained on:
  - genic: the class of data/y (IG, UTR, CDS, intron);
  - phase: the class of data/phases;
  - boundary: 0 = none, then 1 + layout.BOUNDARY_CLASSES (acceptor, donor, start codon, stop
    codon), on the bases layout defines, from the transitions read in the chunk's own 5'->3'
    order (Helixer's minus chunks have start and end columns swapped, layout.MINUS_TRANSITION_COLUMNS);
  - classes (geneML's 7): none for intergenic and UTR (geneML has no UTR), is_exon for CDS,
    is_intron for introns between CDS segments, the four boundary classes on CDS boundaries.
Masked bases (padding, sample weight 0) are -1 everywhere.
"""

import numpy as np

from genetune.core import layout

_GENEML = {c: i for i, c in enumerate(layout.GENEML_CLASSES)}
GENEML_OF_BOUNDARY = [_GENEML[c] for c in ("exon_start", "exon_end", "cds_start", "cds_end")]  # BOUNDARY order


def strand_transitions(transitions, minus):
    """(L, 6) transitions with the column meanings of the chunk's own strand."""
    return transitions[:, layout.MINUS_TRANSITION_COLUMNS] if minus else transitions


def boundary_targets(genic, transitions, minus):
    """(L,) int64: 0 none, 1 + layout.BOUNDARY_CLASSES index; `genic` is the (L,) class index (-1
    masked). A transition flags the two bases around a change; the boundary base is the one
    layout.BOUNDARY_CLASSES names, told apart by the classes either side."""
    t = strand_transitions(transitions, minus) > 0
    c = genic
    prev = np.concatenate([[-2], c[:-1]])  # -2: outside the chunk
    nxt = np.concatenate([c[1:], [-2]])
    exonic = (c == layout.UTR) | (c == layout.CDS)
    cds = c == layout.CDS
    out = np.zeros(len(c), np.int64)
    # later assignments win: a base both donor and start codon (ATG straight into an intron) is the start
    out[t[:, 2] & exonic & ((nxt == layout.INTRON) | (nxt == -2))] = 1 + layout.DONOR
    out[t[:, 5] & exonic & ((prev == layout.INTRON) | (prev == -2))] = 1 + layout.ACCEPTOR
    out[t[:, 4] & cds & (nxt != layout.CDS)] = 1 + layout.STOP_CODON
    out[t[:, 1] & cds & (prev != layout.CDS)] = 1 + layout.START_CODON
    out[c < 0] = -1
    return out


def geneml_targets(genic, boundary):
    """(L,) int64 index into layout.GENEML_CLASSES from the genic and boundary targets."""
    out = np.full(len(genic), _GENEML["none"], np.int64)
    out[genic == layout.CDS] = _GENEML["is_exon"]
    intron = genic == layout.INTRON
    out[intron & _between_cds(genic)] = _GENEML["is_intron"]
    on_cds = (boundary > 0) & (genic == layout.CDS)
    out[on_cds] = np.asarray(GENEML_OF_BOUNDARY)[boundary[on_cds] - 1]
    out[genic < 0] = -1
    return out


def _between_cds(genic):
    """Intron bases whose run is flanked by CDS (a coding intron), or by CDS on one side and the
    chunk's end on the other."""
    n = len(genic)
    out = np.zeros(n, bool)
    intron = genic == layout.INTRON
    edges = np.diff(np.concatenate([[0], intron.astype(np.int8), [0]]))
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        left = genic[a - 1] if a > 0 else None
        right = genic[b] if b < n else None
        sides = [s for s in (left, right) if s is not None]
        if sides and all(s == layout.CDS for s in sides):
            out[a:b] = True
    return out
