"""Train/validation split by whole sequence (Helixer's N90 grouping, but seeded and never empty),
or by whole region where a genome has too few sequences to hold any out.

Sequences are grouped into the large ones up to N90 by chunk count and the short tail;
each group with two or more members sends ~val_fraction of them to validation. Both strands
of a sequence go to the same side, so validation measures unseen sequence. A genome of fewer
than `min_units` sequences (a few scaffolds, or one chromosome piece) is cut into regions of
consecutive chunks first, each region one unit with both of its strands: validation then holds
whole unseen regions instead of one short scaffold or nothing. Near-identical paralogs of training
genes are masked in the validation file (CDS k-mers), so validation scores only unseen genes.

With read junctions, the units that hold them are a stratum of their own: about `val_fraction` of
the junctions go to validation (whole units, at least one, never all), so the final check has
evidence to score on even when the reads cover a small part of the genome. When fewer than
MIN_EVIDENCE_UNITS units hold junctions, the sequences that hold them are cut into one-chunk regions
first (reads on one contig still reach both sides).
"""

import logging
import zlib
from collections import Counter, defaultdict

import numpy as np

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_h5, require
from genetune.evidence.splicing import MIN_READS, junctions_per_chunk
from genetune.io.chunks import read_keys, seq_lengths
from genetune.io.sequences import cds_sequences
from genetune.io.subset import mask_genes, write_subset

log = logging.getLogger("genetune.split")

MIN_UNITS = 10  # fewer sequences than this: split by region
MIN_EVIDENCE_UNITS = 5  # fewer units with junctions than this: cut their sequences into one-chunk regions


def split_seqids(seqids, val_fraction=0.2, seed=1, evidence=None):
    """(train_ids, val_ids) from per-chunk unit ids; deterministic for a seed. evidence: {unit id:
    junctions} of the units that hold read junctions: they are split first, on their own, so that
    validation gets about val_fraction of the junctions (never all of them)."""
    if not 0 < val_fraction < 1:
        raise InputError(f"val_fraction {val_fraction} must lie strictly between 0 and 1")
    ids, counts = np.unique(np.asarray(seqids), return_counts=True)
    if len(ids) < 2:
        raise InputError(f"cannot split {len(ids)} sequence(s) into training and validation: need at least 2")
    rng = np.random.default_rng(seed)
    evidence = {u: n for u, n in (evidence or {}).items() if n > 0 and u in set(ids.tolist())}
    val = _evidence_validation(evidence, val_fraction, rng) if len(evidence) >= 2 else []
    rest = ~np.isin(ids, list(evidence))
    ids, counts = ids[rest], counts[rest]
    order = np.lexsort((ids, -counts))  # by count descending, then name: stable across runs
    ids, counts = ids[order], counts[order]
    n90 = int(np.searchsorted(np.cumsum(counts), int(0.9 * counts.sum()))) + 1
    for group in (ids[:n90], ids[n90:]):
        if len(group) >= 2:
            n_val = int(np.ceil(val_fraction * len(group)))
            n_val = min(n_val, len(group) - 1)
            val.extend(rng.choice(group, n_val, replace=False).tolist())
    everything = sorted(set(map(str, np.unique(np.asarray(seqids)))))
    if not val:
        val = [str(rng.choice(everything))]
    val_set = set(val)
    train = [i for i in everything if i not in val_set]
    return train, sorted(str(v) for v in val_set)


def _evidence_validation(evidence, val_fraction, rng):
    """Units holding junctions, in seeded random order, taken until validation holds val_fraction of
    the junctions: at least one unit, and at least one left for training."""
    units = sorted(evidence)
    total = sum(evidence.values())
    val, held = [], 0
    for u in rng.permutation(units).tolist():
        if val and (held >= val_fraction * total or len(val) == len(units) - 1):
            break
        val.append(str(u))
        held += evidence[u]
    return val


def split_units(seqids, start_ends, length, min_units=MIN_UNITS, fine=()):
    """Per-chunk unit ids: the seqid, or with fewer than `min_units` sequences "seqid:k" for the
    k-th region of `region_chunks` chunks (both strands of a region share its id). Sequences in
    `fine` are cut into one-chunk regions whatever their count. Returns (unit ids, region_chunks or 0)."""
    seqids = np.asarray(seqids).astype(str)
    names = np.unique(seqids)
    lo = np.minimum(start_ends[:, 0], start_ends[:, 1])
    if len(names) >= min_units:
        region_chunks = 0
        units = seqids.copy()
    else:
        plus_chunks = int((start_ends[:, 0] < start_ends[:, 1]).sum())
        region_chunks = max(1, plus_chunks // min_units)
        region = lo // (region_chunks * length)
        units = np.array([f"{s}:{r}" for s, r in zip(seqids, region)])
    fine = set(fine)
    if fine:
        units = np.array([f"{s}:{k // length}" if s in fine else u for s, k, u in zip(seqids, lo, units)])
    return units, region_chunks


def junction_units(junctions, seqids, start_ends, units):
    """{unit id: junctions (>= evidence.MIN_READS reads) whose intron starts in a chunk of the unit},
    counted on the plus chunks, which tile every sequence once."""
    counts = junctions_per_chunk(seqids, start_ends, junctions)
    out = Counter()
    for u, n, (a, b) in zip(units, counts, start_ends):
        if n and a < b:
            out[str(u)] += int(n)
    return dict(out)


def evidence_units(junctions, seqids, start_ends, length, min_units=MIN_UNITS):
    """(unit ids, region_chunks, {unit: junctions}): split_units, with the sequences that hold the
    junctions cut into one-chunk regions when fewer than MIN_EVIDENCE_UNITS units hold any."""
    units, region_chunks = split_units(seqids, start_ends, length, min_units)
    if not junctions:
        return units, region_chunks, {}
    counts = junction_units(junctions, seqids, start_ends, units)
    if 0 < len(counts) < MIN_EVIDENCE_UNITS:
        unit_seq = {str(u): str(s) for u, s in zip(units, np.asarray(seqids).astype(str))}
        units, region_chunks = split_units(seqids, start_ends, length, min_units, {unit_seq[u] for u in counts})
        counts = junction_units(junctions, seqids, start_ends, units)
    return units, region_chunks, counts


K = 15  # k-mer length for near-identical paralogs
SAMPLE = 4  # a k-mer is indexed when its crc32 is divisible by this (deterministic subsampling)
PARALOG_SHARE = 0.5  # shared sampled 15-mers (of the smaller gene) that make two genes paralogs: ~95% identity


def _kmers(seq):
    return {h for h in (zlib.crc32(seq[i : i + K]) for i in range(len(seq) - K + 1)) if h % SAMPLE == 0}


def paralogs_across(sides, seqs):
    """Indices of validation genes (sides[i] == 'val') that share >= PARALOG_SHARE of their sampled
    CDS k-mers with a training gene: near-identical paralogs the model would have seen in training."""
    index = defaultdict(list)
    kmers = {k: _kmers(s) for k, s in seqs.items()}
    for k, km in kmers.items():
        if sides[k] == "train":
            for h in km:
                index[h].append(k)
    out = []
    for k, km in kmers.items():
        if sides[k] != "val" or not km:
            continue
        shared = Counter(j for h in km for j in index.get(h, ()))
        if any(n >= PARALOG_SHARE * min(len(km), len(kmers[j])) for j, n in shared.items() if kmers[j]):
            out.append(k)
    return out


def split_train_val(
    labels_h5,
    out_train,
    out_val,
    coverage_h5=None,
    val_fraction=0.2,
    seed=1,
    min_units=MIN_UNITS,
    genes=None,
    genome_h5=None,
    junctions=None,
):
    """Write the two files; returns (training units, validation units). genes: the kept pseudolabel
    genes (gff.Transcript), with genome_h5 for their sequence; a validation gene near-identical to a
    training gene (a paralog) is masked in the validation file, so validation does not score what
    training has seen. junctions: read junction rows; about val_fraction of them go to validation."""
    seqids, start_ends = read_keys(labels_h5)
    with open_h5(labels_h5) as h5:
        require(h5, labels_h5, layout.X, layout.Y, layout.SAMPLE_WEIGHTS, what="a labels.h5 with pseudolabels")
        length = h5[layout.X].shape[1]
    units, region_chunks, evidence = evidence_units(junctions, seqids, start_ends, length, min_units)
    train_ids, val_ids = split_seqids(units, val_fraction, seed, evidence)
    if junctions is not None:
        n_val = sum(evidence.get(u, 0) for u in val_ids)
        log.info(
            "read junctions (>= %d reads): %d in %d unit(s) of the genome, %d of them in validation",
            MIN_READS,
            sum(evidence.values()),
            len(evidence),
            n_val,
        )
    if out_train == out_val:
        raise InputError(f"{out_train}: the training and validation outputs are the same file")
    attrs = {
        "val_fraction": val_fraction,
        "seed": seed,
        "region_chunks": region_chunks,
        "junctions_validation": sum(evidence.get(u, 0) for u in val_ids),
        "junctions_training": sum(evidence.get(u, 0) for u in train_ids),
    }
    masked = []
    if genes:
        if genome_h5 is None:
            raise InputError("paralog masking needs the genome.h5 the genes lie on")
        unit_of = {}
        for u, s_id, (a, b) in zip(units, seqids, start_ends):
            unit_of[(str(s_id), int(min(a, b)) // length)] = str(u)
        val_set = set(val_ids)
        sides = ["val" if unit_of.get((t.seqid, t.start // length)) in val_set else "train" for t in genes]
        masked = [genes[k] for k in paralogs_across(sides, cds_sequences(genome_h5, genes))]
    for out, chosen in ((out_train, train_ids), (out_val, val_ids)):
        rows = np.flatnonzero(np.isin(units, chosen))
        with atomic_path(out) as tmp:
            write_subset(
                labels_h5,
                rows,
                tmp,
                coverage_h5,
                attrs={**attrs, "units": ",".join(chosen), "masked_paralogs": len(masked)},
            )
            if out == out_val and masked:
                rows_masked = [{"seqid": t.seqid, "strand": t.strand, "start": t.start, "end": t.end} for t in masked]
                mask_genes(tmp, rows_masked, 0, seq_lengths(seqids, start_ends))
    if masked:
        log.info(
            "%d validation genes are near-identical paralogs of training genes: masked in %s", len(masked), out_val
        )
    return train_ids, val_ids
