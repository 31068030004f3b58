"""The exact Viterbi kernel: the best state path of one strand piece (compiled with numba).

The path can only enter CDS at an ATG that no intron interrupts, leave it right after an in-frame
stop codon (never read through one), keep the frame across introns, open an intron at GT (or GC)
and close it after AG, no shorter than `min_intron` (a jump that consumes min_intron bases at once,
so no counter states), and start or end inside a gene only at a sequence end. Introns have a short
length component, whose every base emits the intron class, and long components whose `flank` bases
at either end emit the intron class and whose inner bases emit the last column of the scores.
Read-supported junctions are taken as whole introns (no emission inside).
"""

import numba
import numpy as np

from genetune.core.layout import ACCEPTOR, DONOR, START_CODON, STOP_CODON
from genetune.decode.scores import NEG, PieceScores, Scores
from genetune.decode.states import (
    CODING,
    CODING_INTRON,
    EXON_TYPES,
    INTERGENIC,
    INTRON_TYPES,
    LONG_INTRON,
    N_STATES,
    START,
    STOP,
    UTR3,
    UTR3_INTRON,
    UTR5,
    UTR5_INTRON,
    next_context,
    plain_intron,
)
from genetune.io.fasta import A, C, G, T

# backpointer codes above a plain state: the source state is code - offset
JUMP, ENTER, LEAVE, JUNCTION = 64, 128, 192, 256  # short intron jump, into / out of a long intron, read junction


@numba.njit(cache=True)
def _is_donor(bases, first_intron_base, gc_donor):
    b = first_intron_base
    return b + 1 < len(bases) and bases[b] == G and (bases[b + 1] == T or (gc_donor and bases[b + 1] == C))


@numba.njit(cache=True)
def best_path(bases, piece: PieceScores, scores: Scores, open_start, open_end):
    """State per base of the best path. open_start/open_end: the piece begins/ends at a sequence end,
    where genes may be cut."""
    emit, cum_intron, bnd = piece.emit, piece.cum_intron, piece.boundary
    j_donor, j_acceptor, j_score = piece.junction_donor, piece.junction_acceptor, piece.junction_score
    short = scores.short_intron
    gene_pen, intron_pen = scores.gene_penalty, scores.intron_penalty
    min_intron, flank = scores.min_intron, scores.flank
    n = len(bases)
    n_long = len(scores.long_weight)
    n_states = N_STATES + 8 * n_long
    ring_size = max(min_intron, flank + 1) + 1
    back = np.full((n, n_states), -1, dtype=np.int16)
    ring = np.full((ring_size, n_states), NEG)  # scores of the last ring_size positions, for jumps
    n_junctions = len(j_acceptor)
    at_donor = np.full((n_junctions, n_states), NEG)  # scores at each junction's last exon base
    choice = np.full((n_junctions, n_states), -1, dtype=np.int64)  # best junction per (first at an acceptor, state)
    by_donor = np.argsort(j_donor)
    next_donor = 0
    next_acceptor = 0
    prev = np.full(n_states, NEG)
    prev[INTERGENIC] = emit[0, INTERGENIC]
    if open_start:
        for s in range(1, N_STATES):  # a partial gene may start at the sequence start
            prev[s] = emit[0, s] - gene_pen
    ring[0] = prev
    while next_donor < n_junctions and j_donor[by_donor[next_donor]] == 0:
        at_donor[by_donor[next_donor]] = prev
        next_donor += 1
    for i in range(1, n):
        cur = np.full(n_states, NEG)
        b_prev = bases[i - 1]
        atg = i + 2 < n and bases[i] == A and bases[i + 1] == T and bases[i + 2] == G
        acceptor = i >= 2 and bases[i - 2] == A and bases[i - 1] == G
        # intergenic
        best, arg = prev[INTERGENIC], INTERGENIC
        if prev[UTR3] > best:
            best, arg = prev[UTR3], UTR3
        cur[INTERGENIC], back[i, INTERGENIC] = best, arg
        acc = bnd[i, ACCEPTOR] + short[2]  # i is the first exon base after an intron
        stop = bnd[i - 1, STOP_CODON]  # i - 1 is the last base of a stop codon
        # 5' UTR
        best, arg = prev[UTR5], UTR5
        if prev[INTERGENIC] - gene_pen > best:
            best, arg = prev[INTERGENIC] - gene_pen, INTERGENIC
        if acceptor and prev[UTR5_INTRON] + acc > best:
            best, arg = prev[UTR5_INTRON] + acc, UTR5_INTRON
        cur[UTR5], back[i, UTR5] = best, arg
        # 3' UTR: from itself, from an intron, or right after a stop codon
        best, arg = prev[UTR3], UTR3
        if acceptor and prev[UTR3_INTRON] + acc > best:
            best, arg = prev[UTR3_INTRON] + acc, UTR3_INTRON
        for k in range(6):
            if next_context(k, b_prev) == STOP and prev[CODING + k] + stop > best:
                best, arg = prev[CODING + k] + stop, CODING + k
        cur[UTR3], back[i, UTR3] = best, arg
        if not scores.require_utr:  # stop codon straight into intergenic
            for k in range(6):
                if next_context(k, b_prev) == STOP and prev[CODING + k] + stop > cur[INTERGENIC]:
                    cur[INTERGENIC], back[i, INTERGENIC] = prev[CODING + k] + stop, CODING + k
        # coding states
        for k in range(6):
            cur[CODING + k] = NEG
        for k in range(6):
            k2 = next_context(k, b_prev)
            if k2 != STOP and prev[CODING + k] > cur[CODING + k2]:
                cur[CODING + k2], back[i, CODING + k2] = prev[CODING + k], CODING + k
        if acceptor:
            for k in range(6):
                if prev[CODING_INTRON + k] + acc > cur[CODING + k]:
                    cur[CODING + k], back[i, CODING + k] = prev[CODING_INTRON + k] + acc, CODING_INTRON + k
            # leaving a long intron: its last `flank` bases emit the intron class (source at i - flank - 1)
            j = i - flank - 1
            if j >= 0 and n_long > 0:
                before = ring[j % ring_size]
                body = cum_intron[i] - cum_intron[j + 1] + bnd[i, ACCEPTOR]
                for t in range(8):
                    to = EXON_TYPES[t]
                    for c in range(n_long):
                        d = LONG_INTRON + t * n_long + c
                        cand = before[d] + scores.long_exit[c] + body
                        if cand > cur[to]:
                            cur[to], back[i, to] = cand, LEAVE + d
        # read-supported junctions closing at i: the whole intron at once
        while next_acceptor < n_junctions and j_acceptor[next_acceptor] < i:
            next_acceptor += 1
        first = next_acceptor
        while next_acceptor < n_junctions and j_acceptor[next_acceptor] == i:
            jx = next_acceptor
            last_exon_base = j_donor[jx]
            before = at_donor[jx]
            for s_from in (UTR5, UTR3):
                cand = before[s_from] + j_score[jx]
                if cand > cur[s_from]:
                    cur[s_from], back[i, s_from], choice[first, s_from] = cand, JUNCTION + s_from, jx
            for k in range(6):
                k2 = next_context(k, bases[last_exon_base])
                if k2 != STOP:
                    cand = before[CODING + k] + j_score[jx]
                    if cand > cur[CODING + k2]:
                        cur[CODING + k2], back[i, CODING + k2], choice[first, CODING + k2] = (
                            cand,
                            JUNCTION + CODING + k,
                            jx,
                        )
            next_acceptor += 1
        next_acceptor = first
        # start codon A-T-G, then codon context 0
        if atg:
            start = bnd[i, START_CODON]
            cur[START], back[i, START] = prev[UTR5] + start, UTR5
            if not scores.require_utr and prev[INTERGENIC] - gene_pen + start > cur[START]:
                cur[START], back[i, START] = prev[INTERGENIC] - gene_pen + start, INTERGENIC
        cur[START + 1], back[i, START + 1] = prev[START], START
        cur[START + 2], back[i, START + 2] = prev[START + 1], START + 1
        if prev[START + 2] > cur[CODING]:
            cur[CODING], back[i, CODING] = prev[START + 2], START + 2
        # short introns: stay, or jump in at a donor min_intron - 1 bases back (source at i - min_intron)
        for s in (UTR5_INTRON, UTR3_INTRON):
            cur[s], back[i, s] = prev[s] + short[1], s
        for k in range(6):
            cur[CODING_INTRON + k], back[i, CODING_INTRON + k] = prev[CODING_INTRON + k] + short[1], CODING_INTRON + k
        src = i - min_intron
        if src >= 0 and _is_donor(bases, src + 1, scores.gc_donor):
            body = cum_intron[i + 1] - cum_intron[src + 1] - intron_pen + bnd[src, DONOR] + short[0]
            before = ring[src % ring_size]
            for s_from, s_to in ((UTR5, UTR5_INTRON), (UTR3, UTR3_INTRON)):
                cand = before[s_from] + body
                if cand > cur[s_to]:
                    cur[s_to], back[i, s_to] = cand, s_from + JUMP
            for k in range(6):
                k2 = next_context(k, bases[src])
                if k2 != STOP:
                    cand = before[CODING + k] + body
                    if cand > cur[CODING_INTRON + k2]:
                        cur[CODING_INTRON + k2], back[i, CODING_INTRON + k2] = cand, CODING + k + JUMP
        # long introns: stay, or enter after `flank` bases from a donor (source at i - flank - 1)
        for d in range(LONG_INTRON, n_states):
            cur[d], back[i, d] = prev[d] + scores.long_loop[(d - LONG_INTRON) % n_long], d
        src = i - flank - 1
        if src >= 0 and n_long > 0 and _is_donor(bases, src + 1, scores.gc_donor):
            body = cum_intron[i] - cum_intron[src + 1] - intron_pen + bnd[src, DONOR]
            before = ring[src % ring_size]
            for t in range(2):  # UTR introns
                for c in range(n_long):
                    d = LONG_INTRON + t * n_long + c
                    cand = before[EXON_TYPES[t]] + body + scores.long_weight[c]
                    if cand > cur[d]:
                        cur[d], back[i, d] = cand, ENTER + EXON_TYPES[t]
            for k in range(6):
                k2 = next_context(k, bases[src])
                if k2 != STOP:
                    for c in range(n_long):
                        d = LONG_INTRON + (2 + k2) * n_long + c
                        cand = before[CODING + k] + body + scores.long_weight[c]
                        if cand > cur[d]:
                            cur[d], back[i, d] = cand, ENTER + CODING + k
        for s in range(n_states):
            if s >= LONG_INTRON:
                cur[s] += emit[i, N_STATES]
            elif s == UTR5_INTRON or s == UTR3_INTRON or s >= CODING_INTRON and s < CODING_INTRON + 6:
                # jump bodies already carry their emissions; self-loops add this base's
                if back[i, s] < JUMP:
                    cur[s] += emit[i, s]
            else:
                cur[s] += emit[i, s]
        prev = cur
        ring[i % ring_size] = prev
        while next_donor < n_junctions and j_donor[by_donor[next_donor]] == i:
            at_donor[by_donor[next_donor]] = prev
            next_donor += 1
    return _trace_back(back, choice, prev, j_donor, j_acceptor, min_intron, flank, n_long, open_end)


@numba.njit(cache=True)
def _trace_back(back, choice, last, j_donor, j_acceptor, min_intron, flank, n_long, open_end):
    n = back.shape[0]
    path = np.empty(n, dtype=np.int16)
    s = int(np.argmax(last[:N_STATES])) if open_end else INTERGENIC  # a cut gene ends in a scored state, not deep
    i = n - 1
    while i >= 0:
        path[i] = s
        if i == 0:
            break
        p = int(back[i, s])
        if p >= JUNCTION:
            jx = choice[np.searchsorted(j_acceptor, i), s]
            last_exon_base = j_donor[jx]
            for j in range(last_exon_base + 1, i):
                path[j] = plain_intron(s)
            i = last_exon_base
            s = p - JUNCTION
        elif p >= LEAVE:
            for j in range(i - flank, i):
                path[j] = INTRON_TYPES[(p - LEAVE - LONG_INTRON) // n_long]
            i -= flank + 1
            s = p - LEAVE
        elif p >= ENTER:
            for j in range(i - flank, i):
                path[j] = INTRON_TYPES[(s - LONG_INTRON) // n_long]
            i -= flank + 1
            s = p - ENTER
        elif p >= JUMP:
            for j in range(i - min_intron + 1, i + 1):
                path[j] = s
            i -= min_intron
            s = p - JUMP
        else:
            i -= 1
            s = p
    return path
