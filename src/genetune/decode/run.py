"""Base-wise probabilities -> gene models, by an exact Viterbi over gene-structure states, streamed.

Per sequence strand (5'->3'), read in pieces that skip confident intergenic runs (regions.py),
each piece is scored (scores.py), decoded (viterbi.py) and cut into genes (genes.py). The states
(states.py) make every gene start at an ATG, end after an in-frame stop, splice at GT/GC..AG
introns of at least `min_intron` and keep its frame across them; genes are cut only at sequence ends
(partial, marked in the GFF). Where the predictions hold boundary probabilities (geneML's classes,
HybridModel's boundary head), each edge also scores the boundary the model saw there; RNA-seq
coverage and read junctions add the species' own evidence, which is what lets pseudolabels be better
than the network's calls.
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
#179, #213). Every gene gets a score in [0, 1] (GFF3 column 6), as geneML scores its calls.
Strands are decoded apart; where genes on opposite strands overlap in their CDS (a network sees
coding-like signal on both strands of a real gene), only the better-scored one is kept
(`opposite_strand_overlaps: best`).
"""

import bisect
import contextlib
import dataclasses
import logging

from genetune.core import layout
from genetune.core.fileio import open_h5, require
from genetune.core.progress import tracked
from genetune.decode import profile, regions
from genetune.decode.config import DecodeConfig
from genetune.decode.genes import first_atg, gene_score, genes_from_path, resolve_opposite_strand_overlaps
from genetune.decode.profile import Profile
from genetune.decode.scores import Scorer
from genetune.decode.viterbi import best_path
from genetune.io.chunks import StrandReader, check_same_chunks, piece_of, read_keys, strand_runs
from genetune.io.fasta import codes_from_onehot
from genetune.io.gff import sorted_by_position, write_gff3
from genetune.io.h5chunks import ChunkIO

log = logging.getLogger("genetune.decode")


def decode_strand(
    codes,
    probs,
    phase_probs,
    scorer: Scorer,
    coverage=None,
    spliced=None,
    open_start=True,
    open_end=True,
    boundary=None,
    onehot=None,
    junctions=(),
):
    """State path for one strand or piece (coverage/spliced: per-base read counts for RNA-seq
    hints; open_start/open_end: whether the piece touches a sequence end; boundary: (n, 4)
    boundary probabilities, layout.BOUNDARY_CLASSES; onehot: the piece's bases for the start
    context; junctions: [(last exon base, first exon base after, reads)] of read-supported introns
    in piece coordinates)."""
    piece = scorer.piece(probs, phase_probs, coverage, spliced, boundary, onehot, junctions)
    return best_path(codes, piece, scorer.scores, open_start, open_end)


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
    for d, x, r in strand_junctions[bisect.bisect_left(strand_junctions, (a,)) :]:
        if d >= b:
            break
        if x < b:
            out.append((d - a, x - a, r))
    return out


def decode_h5(
    genome_h5,
    predictions_h5,
    out,
    cfg: DecodeConfig | None = None,
    coverage_h5=None,
    piece=None,
    comments=(),
    prof: Profile | None = None,
    junctions=(),
    seqids_only=None,
):
    """annotation.gff3 from genome.h5 + predictions.h5 (+ coverage.h5 hints). Returns the number of genes.
    Streams: each strand is read twice in pieces, never whole. `piece` (k, n): only the sequences
    of piece k of n (chunks.pieces); gather_gff3 joins the pieces' files. `comments`: header lines.
    prof: the species profile (None: cfg's); junctions: read-supported introns (splicing.collect rows);
    seqids_only: decode only these sequences."""
    cfg = cfg or DecodeConfig()
    by_strand = {}
    for j in junctions:
        by_strand.setdefault((j[0], j[1]), []).append(tuple(j[:5]))
    check_same_chunks(genome_h5, predictions_h5)
    use_hints = coverage_h5 is not None and cfg.rnaseq_hint_weight > 0
    if use_hints:
        check_same_chunks(genome_h5, coverage_h5)
        log.info("RNA-seq hints from %s, weight %.2f", coverage_h5, cfg.rnaseq_hint_weight)
    seqids, start_ends = read_keys(genome_h5)
    wanted = set(piece_of(seqids, start_ends, *piece)) if piece is not None else None
    if seqids_only is not None:
        wanted = set(seqids_only) if wanted is None else wanted & set(seqids_only)
    transcripts, lengths = [], {}
    with contextlib.ExitStack() as stack:
        g = stack.enter_context(open_h5(genome_h5))
        p = stack.enter_context(open_h5(predictions_h5))
        c = stack.enter_context(open_h5(coverage_h5)) if use_hints else None
        species = g[layout.SPECIES][0].decode() if len(seqids) else ""
        require(g, genome_h5, layout.X, what="a genome.h5 from ingest_genome.py")
        require(
            p, predictions_h5, layout.PREDICTIONS, layout.PREDICTIONS_PHASE, what="a predictions.h5 from predict.py"
        )
        io = stack.enter_context(ChunkIO(threads=1))
        if not p.attrs.get("phase_head", True) and cfg.phase_weight:
            log.info("%s: the model has no phase head; phase_weight %.2f -> 0", predictions_h5, cfg.phase_weight)
            cfg = dataclasses.replace(cfg, phase_weight=0.0)
        scorer = Scorer.build(cfg, prof)
        if junctions:
            log.info(
                "%d read-supported junctions as whole-intron evidence (weight %.2f)",
                len(junctions),
                scorer.prof.junction_weight,
            )
        model_sha = p.attrs.get("model_sha256")
        with_boundary = layout.PREDICTIONS_BOUNDARY in p and scorer.prof.boundary_weight > 0
        if with_boundary:
            log.info("boundary probabilities from %s, weight %.2f", predictions_h5, scorer.prof.boundary_weight)
        for run in tracked(strand_runs(seqids, start_ends), desc="decode", unit="strand"):
            lengths[run.seqid] = run.seq_len
            if wanted is not None and run.seqid not in wanted:
                continue
            sources = _Sources(g, p, c if use_hints else None, io, with_boundary)
            transcripts += _decode_run(run, sources, scorer, _strand_junctions(by_strand, run))
    if cfg.opposite_strand_overlaps == "best":
        n_all = len(transcripts)
        transcripts = resolve_opposite_strand_overlaps(transcripts)
        log.info(
            "%d of %d genes overlapped a better-scored gene on the other strand and were dropped",
            n_all - len(transcripts),
            n_all,
        )
    header = ([f"species {species}"] if species else []) + list(comments)
    if model_sha:
        header.append(f"model sha256 {model_sha}")
    write_gff3(_named(transcripts, lengths, species), lengths, out, "genetune", comments=header)
    return len(transcripts)


@dataclasses.dataclass(frozen=True)
class _Sources:
    """The open files a run reads: genome, predictions, coverage (None: no hints), and whether the
    predictions' boundary probabilities are scored."""

    genome: object
    predictions: object
    coverage: object
    io: ChunkIO
    with_boundary: bool


def _decode_run(run, src: _Sources, scorer: Scorer, strand_junctions):
    """The transcripts of one strand of one sequence, decoded piece by piece."""
    cfg, n = scorer.cfg, int(run.valid.sum())
    bases = StrandReader(run, src.genome[layout.X], chunk_io=src.io)
    p = src.predictions
    preds = StrandReader(run, p[layout.PREDICTIONS], [p[layout.PREDICTIONS_PHASE]], chunk_io=src.io)
    c = src.coverage
    hints = (
        None
        if c is None
        else StrandReader(run, c[layout.coverage_name()], [c[layout.spliced_coverage_name()]], chunk_io=src.io)
    )
    borders = StrandReader(run, p[layout.PREDICTIONS_BOUNDARY], chunk_io=src.io) if src.with_boundary else None
    out = []
    for a, b in _pieces(run, preds, hints, cfg, scorer.prof, strand_junctions):
        onehot = bases.read(a, b)[0]
        codes = codes_from_onehot(onehot)
        probs, phase = preds.read(a, b)
        cov, spl = _pooled_hints(hints, a, b) if hints is not None else (None, None)
        bounds = borders.read(a, b)[0] if borders is not None else None
        path = decode_strand(
            codes,
            probs,
            phase,
            scorer,
            cov,
            spl,
            open_start=a == 0,
            open_end=b == n,
            boundary=bounds,
            onehot=onehot,
            junctions=_in_piece(strand_junctions, a, b),
        )
        previous_end = 0  # on this strand: a start moved up never reaches into the gene before
        for gene in genes_from_path(path, cfg.min_cds_length, at_start=a == 0, at_end=b == n):
            gene = dataclasses.replace(gene, score=gene_score(gene, path, probs, bounds))
            if cfg.first_atg:
                gene = first_atg(gene, codes, previous_end)
            previous_end = gene.end
            if gene.score >= cfg.min_gene_score:
                out.append(gene.to_transcript(run.seqid, run.strand, run.seq_len, offset=a))
    return out


def _named(transcripts, lengths, species):
    """The transcripts in genome order with IDs <species>_<seqid>_<n, 6 digits> and <gene>.1."""
    counter, named = {}, []
    for t in sorted_by_position(transcripts, lengths):
        counter[t.seqid] = counter.get(t.seqid, 0) + 1
        gene_id = f"{species}_{t.seqid}_{counter[t.seqid]:06d}"
        named.append(dataclasses.replace(t, gene_id=gene_id, transcript_id=f"{gene_id}.1"))
    return named
