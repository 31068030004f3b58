"""The species profile: the gene-structure parameters the decoder scores with, learned from the species.

A network with 400 bp of context cannot say whether the middle of a 5 kb stretch is intron or
intergenic; the species' gene structure can. The profile holds what the decoder needs beyond the
network's probabilities: intron lengths as a mixture of geometric components (long-tailed: a
short component whose every base the network must call intron, and longer ones whose inner bases
need not, see decode.py), mean exon and intergenic lengths, the gene and intron opening costs,
the boundary weight, the start-codon context (log-odds of the bases around the ATG) and the
weight of read-supported junctions. Defaults come from the base model's card (`for_model`); each
round re-estimates the profile from the pseudolabel genes and, with RNA-seq, from the spliced-read
junctions (intron lengths directly), with every parameter moving at most a bounded step from the
previous profile (`estimate`). It is a YAML file: an output of every round, shown in the report,
and reusable for a related species (`decode: profile: file`).
"""

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import yaml

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_h5
from genetune.io.chunks import StrandReader, read_keys, strand_runs

START_OFFSETS = (-6, -5, -4, -3, -2, -1, 3, 4)  # bases around the A (0) of the ATG scored by the context
MAX_LOG_STEP = math.log(2.0)  # a length mean moves at most 2x per round
MAX_WEIGHT_STEP = 0.2  # a component weight moves at most this much per round
MIN_JUNCTIONS = 20  # junctions (>= 2 reads) enough to take the intron lengths from the reads alone
MIN_TAIL_WEIGHT = 0.02  # the longest intron component never vanishes: pseudolabels never hold the introns
#                         the first pass could not bridge, so they cannot teach that long ones exist


@dataclass
class Profile:
    # [weight, mean bp] per intron-length component, ascending means; weights sum to 1
    intron_lengths: list = field(default_factory=lambda: [[0.7, 100.0], [0.25, 400.0], [0.05, 2000.0]])
    exon_mean: float = 250.0  # bp; geometric
    intergenic_mean: float = 3000.0  # bp; geometric
    # weight of the long introns' per-base length cost: their inner bases no longer pay the network's
    # disagreement, and bridging saves a boundary-weighted stop and start codon (hundreds with geneML)
    length_weight: float = 100.0
    intron_flank: int = 40  # bases at each end of a long intron the network must call intron
    gene_penalty: float = 8.0  # log-space cost of opening a gene
    intron_penalty: float = 2.0  # log-space cost of opening an intron
    boundary_weight: float = 150.0  # weight of the boundary log-odds (models that predict boundaries)
    start_context: list = None  # per START_OFFSETS: log-odds of C, A, T, G (layout's one-hot order)
    start_context_weight: float = 1.0
    # x log(1 + reads) for an intron the reads show, as a whole (10: best of 4, 10, 20 on the human piece)
    junction_weight: float = 10.0
    made_from: str = "defaults"

    def __post_init__(self):
        comps = self.intron_lengths
        if (
            not isinstance(comps, list)
            or not comps
            or any(not isinstance(c, (list, tuple)) or len(c) != 2 for c in comps)
        ):
            raise InputError(f"profile intron_lengths: {comps!r} is not a list of [weight, mean] pairs")
        if any(w < 0 or m <= 0 for w, m in comps) or not math.isclose(sum(w for w, _ in comps), 1, abs_tol=1e-3):
            raise InputError(f"profile intron_lengths: weights must be >= 0 and sum to 1, means > 0 (got {comps})")
        if self.intron_flank < 1 or self.exon_mean <= 1 or self.intergenic_mean <= 1:
            raise InputError("profile: intron_flank must be >= 1 and exon_mean, intergenic_mean > 1")
        if not 1 <= len(comps) <= 5:
            raise InputError(f"profile intron_lengths: 1 to 5 components, not {len(comps)}")
        if self.start_context is not None and np.shape(self.start_context) != (len(START_OFFSETS), 4):
            raise InputError(f"profile start_context: needs {len(START_OFFSETS)} rows of 4 log-odds")
        self.intron_lengths = sorted(([float(w), float(m)] for w, m in comps), key=lambda c: c[1])

    @classmethod
    def from_dict(cls, d, source="profile"):
        unknown = set(d or {}) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise InputError(f"{source}: unknown profile keys {', '.join(sorted(unknown))}")
        return cls(**(d or {}))

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["intron_lengths"] = [[round(w, 4), round(m, 1)] for w, m in self.intron_lengths]
        if self.start_context is not None:
            d["start_context"] = [[round(float(v), 3) for v in row] for row in self.start_context]
        return d


def load(path):
    try:
        with open(path) as fh:
            d = yaml.safe_load(fh)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the profile ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not a YAML profile ({exc})") from None
    if not isinstance(d, dict):
        raise InputError(f"{path}: a profile is a YAML mapping")
    return Profile.from_dict(d, str(path))


def save(profile, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        yaml.safe_dump(profile.to_dict(), fh, sort_keys=False)


def write_tsv(profile, path):
    """The profile as a parameter/value table (the report shows it)."""
    rows = [
        (f"intron component {k + 1}: weight, mean bp", f"{w:.4f}, {m:.1f}")
        for k, (w, m) in enumerate(profile.intron_lengths)
    ]
    for name in (
        "exon_mean",
        "intergenic_mean",
        "intron_flank",
        "length_weight",
        "gene_penalty",
        "intron_penalty",
        "boundary_weight",
        "start_context_weight",
        "junction_weight",
    ):
        rows.append((name, f"{getattr(profile, name):g}"))
    if profile.start_context is not None:
        for o, row in zip(START_OFFSETS, profile.start_context):
            rows.append((f"start context at {o:+d} (C, A, T, G log-odds)", ", ".join(f"{v:+.2f}" for v in row)))
    rows.append(("made from", profile.made_from))
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("parameter\tvalue\n")
        for name, value in rows:
            fh.write(f"{name}\t{value}\n")


def for_model(card):
    """Defaults from a model card: geneML's boundary classes are strong (weight 150, measured on both
    real genomes) and it was trained on fungi; a model without boundary outputs leaves boundary_weight
    unused. Lengths the species shows otherwise are learned (`estimate`) or given (`decode: profile`)."""
    source = (card or {}).get("source", {}).get("project", "")
    name = f"defaults for {card.get('name', 'the base model')}" if card else "defaults"
    if source == "geneML":  # a fungal model: fungal introns (most under 100 bp, few over 1 kb)
        return Profile(intron_lengths=[[0.85, 70.0], [0.15, 300.0]], boundary_weight=150.0, made_from=name)
    return Profile(made_from=name)


# --- lengths ---------------------------------------------------------------------------------


def geometric_log_p(mean, minimum):
    """log of the self-loop probability of a geometric length >= minimum with the given mean."""
    extra = max(mean - minimum, 1.0)
    return math.log(extra / (extra + 1.0))


def intron_log_prob(length, profile, min_intron):
    """log P(intron length) under the mixture (max over components, as Viterbi scores it)."""
    best = -math.inf
    for k, (w, mean) in enumerate(profile.intron_lengths):
        lo = min_intron if k == 0 else 2 * profile.intron_flank + 1
        if length < lo or w <= 0:
            continue
        lp = geometric_log_p(mean, lo)
        best = max(best, math.log(w) + math.log1p(-math.exp(lp)) + (length - lo) * lp)
    return best


def intron_quantile(profile, q, cap=100_000):
    """Intron length below which a share q of the mixture's introns fall (bisection; at most cap)."""

    def cdf(x):
        return sum(w * (1 - math.exp(-x / m)) for w, m in profile.intron_lengths)

    lo, hi = 0.0, float(cap)
    if cdf(hi) < q:
        return cap
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
    return int(math.ceil(hi))


def fit_geometric_mixture(lengths, init, iterations=50):
    """EM for a mixture of geometric (exponential) components with fixed count, from init [[w, mean]]."""
    x = np.asarray(lengths, float)
    w = np.array([c[0] for c in init], float)
    m = np.array([c[1] for c in init], float)
    if len(x) == 0:
        return [list(c) for c in init]
    for _ in range(iterations):
        logp = np.log(np.maximum(w, 1e-12))[None] - np.log(m)[None] - x[:, None] / m[None]
        logp -= logp.max(1, keepdims=True)
        r = np.exp(logp)
        r /= r.sum(1, keepdims=True)
        nk = r.sum(0)
        w = nk / len(x)
        m = np.where(nk > 1e-9, (r * x[:, None]).sum(0) / np.maximum(nk, 1e-9), m)
    return [[float(a), float(b)] for a, b in zip(w, m)]


def _bounded_log(old, new):
    """new, but at most MAX_LOG_STEP away from old in log space."""
    step = min(max(math.log(max(new, 1.0)) - math.log(old), -MAX_LOG_STEP), MAX_LOG_STEP)
    return math.exp(math.log(old) + step)


# --- estimation --------------------------------------------------------------------------------


def start_context_counts(genome_h5, transcripts):
    """(counts (len(START_OFFSETS), 4), background (4,)) of the one-hot bases around the ATG of every
    gene with a complete 5' end, read from genome.h5 per strand (a window per gene, never a strand)."""
    lo, hi = min(START_OFFSETS), max(START_OFFSETS) + 1
    wanted = {}
    for t in transcripts:
        if t.cds and not t.partial5:
            wanted.setdefault((t.seqid, t.strand), []).append(t)
    counts = np.zeros((len(START_OFFSETS), 4))
    background = np.zeros(4)
    with open_h5(genome_h5) as g:
        for run in strand_runs(*read_keys(genome_h5)):
            genes = wanted.get((run.seqid, run.strand))
            if not genes:
                continue
            reader = StrandReader(run, g[layout.X])
            n = int(run.valid.sum())
            for t in genes:
                a = t.cds[0][0] if t.strand == "+" else run.seq_len - t.cds[-1][1]  # the A, 5'->3'
                if a + lo < 0 or a + hi > n:
                    continue
                x = reader.read(a + lo, a + hi)[0].astype(np.float64)
                counts += x[[o - lo for o in START_OFFSETS]]
                background += x.sum(0)
    return counts, background


def junction_lengths(junctions, min_intron, min_reads=2):
    return [j[3] - j[2] for j in junctions if j[4] >= min_reads and j[3] - j[2] >= min_intron]


def _fit_with_tail(lengths, comps):
    """The mixture fitted to `lengths` from `comps`, its longest component kept at MIN_TAIL_WEIGHT or
    more, the weights summing to 1."""
    fitted = fit_geometric_mixture(lengths, comps)
    fitted[-1][0] = max(fitted[-1][0], MIN_TAIL_WEIGHT)
    total = sum(w for w, _ in fitted)
    return [[w / total, m] for w, m in fitted]


def _tail_kept(comps, prior_tail):
    """comps with the longest component no lighter and no shorter than prior_tail, the other weights
    scaled so that all sum to 1."""
    w_tail, m_tail = max(comps[-1][0], prior_tail[0]), max(comps[-1][1], prior_tail[1])
    rest = sum(w for w, _ in comps[:-1])
    scale = (1 - w_tail) / rest if rest > 0 else 0.0
    return [[w * scale, m] for w, m in comps[:-1]] + [[w_tail, m_tail]]


def from_junctions(prior, junctions, min_intron=30, made_from=""):
    """The prior with intron lengths fitted to the read junctions alone (>= 2 reads, MIN_JUNCTIONS of them).
    Unbounded: reads observe this species' introns directly, where the rounds' genes are the model's
    own calls; this is how a species with RNA-seq starts its first pass."""
    lengths = junction_lengths(junctions, min_intron)
    if len(lengths) < MIN_JUNCTIONS:
        return prior
    fitted = _fit_with_tail(lengths, prior.intron_lengths)
    return dataclasses.replace(
        prior,
        intron_lengths=[[w, max(m, 1.0)] for w, m in fitted],
        made_from=made_from or f"{prior.made_from}; intron lengths of {len(lengths)} junctions",
    )


def estimate(prior, transcripts, seq_lengths, junctions=(), start_counts=None, min_intron=30, made_from=""):
    """A new profile from `prior` and the pseudolabel genes (gff.Transcript) and junctions
    [(seqid, strand, start, end, reads)]: intron lengths, exon and intergenic means, start context.
    Intron lengths come from the junctions (>= 2 reads) when there are at least MIN_JUNCTIONS of them,
    fitted as the first pass fits them: reads see the species' introns, long ones included. Otherwise
    from the genes' CDS introns, a bounded step from the prior, and never shrinking the longest
    component: pseudolabel introns are censored (the long introns the network missed were split into
    two genes and are not there to be measured). Everything else moves a bounded step."""
    coding = [t for t in transcripts if t.cds]
    read_lengths = junction_lengths(junctions, min_intron)
    introns = [e - s for t in coding for (_, s), (e, _) in zip(t.cds[:-1], t.cds[1:])]
    introns = [x for x in introns if x >= min_intron] + read_lengths
    comps = prior.intron_lengths
    if len(read_lengths) >= MIN_JUNCTIONS:
        comps = _fit_with_tail(read_lengths, comps)
    elif len(introns) >= 20:
        fitted = _fit_with_tail(introns, comps)
        old_w, new_w = np.array([c[0] for c in comps]), np.array([c[0] for c in fitted])
        # the weights move along the line to the fit, so they still sum to 1 and none moves more than the step
        alpha = min(1.0, MAX_WEIGHT_STEP / max(1e-12, float(np.abs(new_w - old_w).max())))
        weights = old_w + alpha * (new_w - old_w)
        stepped = [[float(w), _bounded_log(m0, m1)] for w, (_, m0), (_, m1) in zip(weights, comps, fitted)]
        comps = _tail_kept(stepped, comps[-1])
    exons = [e - s for t in coding for s, e in t.cds]
    exon_mean = _bounded_log(prior.exon_mean, float(np.mean(exons))) if len(exons) >= 20 else prior.exon_mean
    genic = sum(t.end - t.start for t in coding)
    total_bp = 2 * sum(seq_lengths.values())  # both strands
    if len(coding) >= 20 and total_bp > genic:
        ig_mean = _bounded_log(prior.intergenic_mean, (total_bp - genic) / len(coding))
    else:
        ig_mean = prior.intergenic_mean
    context = prior.start_context
    if start_counts is not None and start_counts[0].sum() >= 20 * len(START_OFFSETS):
        counts, background = start_counts
        freq = (counts + 1) / (counts + 1).sum(1, keepdims=True)
        bg = (background + 1) / (background + 1).sum()
        learned = np.log(freq / bg[None])
        old = np.zeros_like(learned) if context is None else np.asarray(context)
        context = np.clip(learned, old - 1.0, old + 1.0).tolist()  # at most e-fold per base and round
    return dataclasses.replace(
        prior,
        intron_lengths=comps,
        exon_mean=exon_mean,
        intergenic_mean=ig_mean,
        start_context=context,
        made_from=made_from or prior.made_from,
    )
