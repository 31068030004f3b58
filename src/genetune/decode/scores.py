"""What the Viterbi kernel scores: one `Scores` record built once per run from the config and the
species profile (penalties, intron length components), and per piece the log-scores of every base
in every state, the boundary terms and the read-supported junctions (`PieceScores`).

Scores are log-probabilities of the predicted class (CDS blended with the phase head) plus
penalties. Where the predictions hold boundary probabilities, each transition also scores the
edge it makes, boundary_weight x log(p / (1 - p)). With RNA-seq coverage and
`rnaseq_hint_weight` > 0, the spliced fraction s/(c+s) of reads over a base favours intron states,
its complement exon states, and covered bases disfavour intergenic. The inner bases of long
introns score log max(P(intron), P(intergenic)).
"""

from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from genetune.core import layout
from genetune.decode import profile
from genetune.decode.config import DecodeConfig
from genetune.decode.profile import Profile
from genetune.decode.states import (
    CODING_STATES,
    EXON_STATES,
    INTERGENIC,
    INTRON_STATES,
    N_STATES,
    STATE_CLASS,
    STATE_PHASE,
    UTR5_INTRON,
)

NEG = -1e30  # log-score of the impossible
HINT_FLOOR = 0.02  # the least share of reads a state is scored with (a read can be wrong)


class Scores(NamedTuple):
    """The run's fixed scoring terms, as the compiled kernel reads them."""

    min_intron: int
    gene_penalty: float  # log-space cost of opening a gene
    intron_penalty: float
    gc_donor: bool  # introns may open at GC as well as GT
    require_utr: bool  # HelixerPost's forced >= 1 bp UTRs
    short_intron: np.ndarray  # (log weight, log self-loop, log exit) of the short length component
    long_weight: np.ndarray  # per long component: log weight
    long_loop: np.ndarray  # per long component: log self-loop, scaled by the profile's length_weight
    long_exit: np.ndarray  # per long component: log exit
    flank: int  # bases at either end of a long intron that emit the intron class


class PieceScores(NamedTuple):
    """One piece's per-base terms."""

    emit: np.ndarray  # (n, N_STATES + 1) log-scores; the last column: inner bases of long introns
    cum_intron: np.ndarray  # (n + 1,) prefix sums of the intron state's scores, for whole-intron jumps
    boundary: np.ndarray  # (n, 4) boundary log-odds, layout.BOUNDARY_CLASSES columns (zeros: none)
    junction_donor: np.ndarray  # per read junction: last exon base before it (sorted by junction_acceptor)
    junction_acceptor: np.ndarray  # first exon base after it, ascending
    junction_score: np.ndarray


def run_scores(cfg: DecodeConfig, prof: Profile) -> Scores:
    """The Scores of a run; prof is the effective profile (config overrides applied)."""
    if cfg.structure_lengths:
        (w0, mean0), *longer = prof.intron_lengths
        loop0 = profile.geometric_log_p(mean0, cfg.min_intron)
        short = np.array([np.log(max(w0, 1e-12)), loop0, np.log1p(-np.exp(loop0))])
        flank = prof.intron_flank
        long = (
            [(w, profile.geometric_log_p(mean, 2 * flank + 1)) for w, mean in longer if w > 0]
            if cfg.long_introns
            else []
        )
    else:
        short, flank, long = np.zeros(3), 1, []
    loops = np.array([p for _, p in long])
    # the per-base cost of long introns is weighted: their inner bases no longer pay the network's
    # disagreement, and a boundary-weighted stop and start codon saved by bridging can be worth hundreds
    return Scores(
        min_intron=int(cfg.min_intron),
        gene_penalty=float(prof.gene_penalty),
        intron_penalty=float(prof.intron_penalty),
        gc_donor=bool(cfg.allow_gc_donor),
        require_utr=bool(cfg.require_utr),
        short_intron=short,
        long_weight=np.array([np.log(w) for w, _ in long]),
        long_loop=(prof.length_weight * loops) if long else np.zeros(0),
        long_exit=np.log1p(-np.exp(loops)) if long else np.zeros(0),
        flank=int(flank),
    )


@dataclass(frozen=True)
class Scorer:
    """A run's config, effective profile and Scores, made once; `piece` scores the bases of one piece."""

    cfg: DecodeConfig
    prof: Profile
    scores: Scores

    @classmethod
    def build(cls, cfg: DecodeConfig | None = None, prof: Profile | None = None):
        cfg = cfg or DecodeConfig()
        prof = cfg.effective_profile(prof)
        return cls(cfg, prof, run_scores(cfg, prof))

    def piece(
        self, probs, phase_probs, coverage=None, spliced=None, boundary=None, onehot=None, junctions=()
    ) -> PieceScores:
        """coverage/spliced: per-base read counts; boundary: (n, 4) probabilities; onehot: the bases,
        for the start context; junctions: [(last exon base, first exon base after, reads)]."""
        cfg, prof = self.cfg, self.prof
        emit = emissions(probs, phase_probs, cfg, prof)
        if coverage is not None and cfg.rnaseq_hint_weight > 0:
            emit = add_rnaseq_hints(emit, coverage, spliced, cfg)
        cum_intron = np.concatenate([[0.0], np.cumsum(emit[:, UTR5_INTRON])])
        if boundary is None or prof.boundary_weight == 0:
            bnd = np.zeros((len(emit), len(layout.BOUNDARY_CLASSES)))
        else:
            bnd = boundary_scores(boundary, prof.boundary_weight, cfg.prob_floor)
        if onehot is not None:
            bnd[:, layout.START_CODON] += start_context_scores(onehot, prof)
        return PieceScores(emit, cum_intron, bnd, *junction_arrays(list(junctions), prof, cfg))


@numba.njit(cache=True)
def _class_scores(probs, phase, prob_floor, phase_weight, phase_mix, state_class, state_phase, cds):
    n = probs.shape[0]
    out = np.empty((n, N_STATES))
    log_p = np.empty(4)
    share = np.zeros(4)
    coding = np.empty(4)  # score of a coding state, by phase-head column
    for i in range(n):
        for c in range(4):
            log_p[c] = np.log(max(np.float64(probs[i, c]), prob_floor))
        total = 0.0
        for c in range(1, 4):
            share[c] = max(np.float64(phase[i, c]), prob_floor)
            total += share[c]
        p_cds = np.float64(probs[i, cds])
        for c in range(1, 4):
            if phase_mix:  # HelixerPost: P(CDS) * ((1 - w) + w * phase share)
                coding[c] = np.log(max(p_cds * ((1 - phase_weight) + phase_weight * share[c] / total), prob_floor))
            else:
                coding[c] = log_p[cds] + phase_weight * np.log(share[c] / total)
        for s in range(N_STATES):
            col = state_phase[s]
            out[i, s] = log_p[state_class[s]] if col == 0 else coding[col]
    return out


def emissions(probs, phase_probs, cfg: DecodeConfig, prof: Profile | None = None):
    """(n, N_STATES + 1) log-scores from class and phase probabilities (compiled: numpy's temporaries
    made this a third of the decoding time); the last column scores the inner bases of long introns,
    log max(P(intron), P(intergenic)): where the network calls intergenic they score as intergenic
    bases do, so only the length distributions and the splice signals at the flanks tell the two
    apart. With the profile's lengths, exon and intergenic bases also pay their geometric self-loop."""
    probs = np.asarray(probs, np.float32)
    out = np.empty((len(probs), N_STATES + 1))
    out[:, :N_STATES] = _class_scores(
        probs,
        np.asarray(phase_probs, np.float32),
        cfg.prob_floor,
        cfg.phase_weight,
        cfg.phase_mix,
        STATE_CLASS,
        STATE_PHASE,
        layout.CDS,
    )
    p_deep = np.maximum(probs[:, layout.INTRON], probs[:, layout.IG]).astype(np.float64)
    out[:, N_STATES] = np.log(np.maximum(p_deep, cfg.prob_floor))
    if prof is not None and cfg.structure_lengths:
        out[:, CODING_STATES] += profile.geometric_log_p(prof.exon_mean, 1)
        out[:, INTERGENIC] += profile.geometric_log_p(prof.intergenic_mean, 1)
    return out


def add_rnaseq_hints(emit, coverage, spliced, cfg: DecodeConfig):
    """Add weighted log-evidence from coverage (n,) and spliced coverage (n,) to the scores."""
    depth = coverage + spliced
    idx = np.flatnonzero(depth >= cfg.rnaseq_min_depth)
    spliced_share = spliced[idx] / depth[idx]
    w = cfg.rnaseq_hint_weight
    emit[np.ix_(idx, INTRON_STATES + [N_STATES])] += w * np.log(np.maximum(spliced_share, HINT_FLOOR))[:, None]
    emit[np.ix_(idx, EXON_STATES)] += w * np.log(np.maximum(1 - spliced_share, HINT_FLOOR))[:, None]
    emit[idx, INTERGENIC] += w * np.log(HINT_FLOOR)
    return emit


def boundary_scores(boundary, weight, prob_floor):
    """(n, 4) weight x log-odds of each boundary probability (floored at `prob_floor`)."""
    p = np.clip(np.asarray(boundary, np.float64), prob_floor, 1 - prob_floor)
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
            out[lo:hi] += onehot[lo + o : hi + o] @ row
    return prof.start_context_weight * out


def junction_arrays(junctions, prof: Profile, cfg: DecodeConfig):
    """(last exon base, first exon base after, score) arrays sorted by the latter, from
    [(donor-side last exon base, acceptor-side first exon base, reads)] in piece coordinates."""
    if not junctions:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    rows = sorted(junctions, key=lambda j: (j[1], j[0]))
    donor = np.array([r[0] for r in rows], np.int64)
    acceptor = np.array([r[1] for r in rows], np.int64)
    score = np.array(
        [
            prof.junction_weight * np.log1p(r[2])
            - prof.intron_penalty
            + profile.intron_log_prob(int(r[1] - r[0] - 1), prof, cfg.min_intron)
            for r in rows
        ]
    )
    return donor, acceptor, np.where(np.isfinite(score), score, NEG)
