"""Seeded simulator of small eukaryotic genomes with a truth GFF3 and a dUTP RNA-seq BAM.

Why: the demo and the tests need a species whose true gene models are known, and a
"target" that differs from the "source" species the base model was trained on, so that
fine-tuning has something to fix. Presets differ in GC content, codon usage, splice-site
consensus and intron lengths.

Genes are protein-coding on both strands: 5' UTR, ATG, codons drawn from the preset's
codon-usage table (no in-frame stop), a stop codon, 3' UTR; CDS split into exons by
introns with a GT donor consensus, a branch point, a polypyrimidine tract and AG, lengths
log-normal. UTRs are single-exon (introns only interrupt the CDS). Intergenic sequence
carries copies of a few mutated repeat families.

Reads: paired-end, dUTP protocol (read 1 antisense to the transcript, read 2 sense), drawn
from spliced transcripts with log-normal expression, plus intronic (pre-mRNA) and
intergenic background. Alignments carry N CIGAR operations over introns; the BAM is
coordinate-sorted and indexed with pysam.
"""

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pysam

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path
from genetune.io.fasta import START_CODON_SEQ, STOP_CODON_SEQS
from genetune.io.gff import Transcript, write_gff3

GENETIC_CODE = {}
_AA = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
for _i, _c in enumerate(a + b + c for a in "TCAG" for b in "TCAG" for c in "TCAG"):
    GENETIC_CODE[_c] = _AA[_i]
# rough amino-acid composition of eukaryotic proteomes (per cent)
AA_FREQ = dict(
    A=6.8,
    R=5.5,
    N=4.3,
    D=5.3,
    C=1.8,
    Q=4.1,
    E=6.4,
    G=6.2,
    H=2.4,
    I=5.3,
    L=9.6,
    K=6.1,
    M=2.3,
    F=4.0,
    P=5.2,
    S=8.5,
    T=5.4,
    W=1.2,
    Y=2.8,
    V=6.3,
)


@dataclass(frozen=True)
class Preset:
    """What makes one simulated species differ from another."""

    gc: float  # intergenic/UTR GC content
    gc3_bias: float  # log-odds weight per G/C at the codon's third position
    codon_seed: int  # seed of the codon-usage noise
    donor: str  # consensus after the exon boundary, starts with GT
    donor_fidelity: float  # probability each non-GT consensus base is kept
    ppt_pyrimidine: float  # pyrimidine fraction of the polypyrimidine tract
    branch: str  # branch point motif
    intron_median: float  # bp
    intron_sigma: float  # log-normal sigma
    exons_mean: float  # mean number of CDS exons
    protein_median: float  # codons
    intergenic_median: float  # bp
    repeat_fraction: float = 0.25
    utr5_median: float = 120
    utr3_median: float = 220


PRESETS = {
    "source_a": Preset(
        gc=0.40,
        gc3_bias=-0.3,
        codon_seed=11,
        donor="GTAAGT",
        donor_fidelity=0.85,
        ppt_pyrimidine=0.85,
        branch="CTAAC",
        intron_median=110,
        intron_sigma=0.45,
        exons_mean=4.0,
        protein_median=320,
        intergenic_median=2200,
    ),
    "source_b": Preset(
        gc=0.46,
        gc3_bias=0.2,
        codon_seed=12,
        donor="GTAAGT",
        donor_fidelity=0.8,
        ppt_pyrimidine=0.8,
        branch="CTAAT",
        intron_median=160,
        intron_sigma=0.5,
        exons_mean=4.5,
        protein_median=380,
        intergenic_median=2600,
    ),
    "source_c": Preset(
        gc=0.53,
        gc3_bias=0.8,
        codon_seed=14,
        donor="GTAAGA",
        donor_fidelity=0.75,
        ppt_pyrimidine=0.75,
        branch="CTAAC",
        intron_median=200,
        intron_sigma=0.5,
        exons_mean=4.5,
        protein_median=350,
        intergenic_median=2400,
    ),
    # the demo's target: inside the sources' GC range, but with longer introns, another donor
    # consensus and branch point, and its own codon usage
    "target": Preset(
        gc=0.50,
        gc3_bias=1.0,
        codon_seed=13,
        donor="GTGAGT",
        donor_fidelity=0.7,
        ppt_pyrimidine=0.7,
        branch="CTGAC",
        intron_median=300,
        intron_sigma=0.6,
        exons_mean=5.0,
        protein_median=400,
        intergenic_median=3000,
    ),
}


def codon_table(preset: Preset):
    """amino acid -> (codons, probabilities): GC3-biased weights times seeded noise."""
    rng = np.random.default_rng(preset.codon_seed)
    table = {}
    for aa in AA_FREQ:
        codons = sorted(c for c, a in GENETIC_CODE.items() if a == aa)
        w = np.array([np.exp(preset.gc3_bias * (c[2] in "GC")) for c in codons])
        w *= rng.gamma(2.0, 1.0, size=len(codons))
        table[aa] = (codons, w / w.sum())
    return table


def _random_bases(rng, n, gc):
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]  # A C G T
    return np.array(list("ACGT"))[rng.choice(4, size=n, p=p)]


def _seq(rng, n, gc):
    return "".join(_random_bases(rng, n, gc))


def _lognormal(rng, median, sigma, low):
    return max(low, int(rng.lognormal(np.log(median), sigma)))


def _mutate(rng, s, rate, gc):
    arr = np.array(list(s))
    hits = rng.random(len(arr)) < rate
    arr[hits] = _random_bases(rng, int(hits.sum()), gc)
    return "".join(arr)


def _revcomp(s):
    return s.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


def _cds_sequence(rng, preset, table):
    n_codons = _lognormal(rng, preset.protein_median, 0.5, 60)
    aas = list(AA_FREQ)
    p = np.array(list(AA_FREQ.values()))
    chosen = rng.choice(len(aas), size=n_codons, p=p / p.sum())
    codons = []
    for k in chosen:
        cods, probs = table[aas[k]]
        codons.append(cods[rng.choice(len(cods), p=probs)])
    return START_CODON_SEQ + "".join(codons) + STOP_CODON_SEQS[rng.integers(3)]


def _intron(rng, preset):
    n = _lognormal(rng, preset.intron_median, preset.intron_sigma, 45)
    donor = "GT" + "".join(
        b if rng.random() < preset.donor_fidelity else "ACGT"[rng.integers(4)] for b in preset.donor[2:]
    )
    ppt = "".join(
        ("CT"[rng.integers(2)] if rng.random() < preset.ppt_pyrimidine else "AG"[rng.integers(2)]) for _ in range(12)
    )
    tail = preset.branch + _seq(rng, 8, 0.3) + ppt + "AG"
    body_len = max(0, n - len(donor) - len(tail))
    return donor + _seq(rng, body_len, max(0.05, preset.gc - 0.12)) + tail


def _gene(rng, preset, table):
    """Plus-strand gene string and its exon/CDS coordinates relative to the gene start."""
    utr5 = _seq(rng, _lognormal(rng, preset.utr5_median, 0.5, 20), preset.gc)
    utr3 = _seq(rng, _lognormal(rng, preset.utr3_median, 0.5, 30), preset.gc)
    cds = _cds_sequence(rng, preset, table)
    n_exons = min(1 + rng.poisson(preset.exons_mean - 1), max(1, len(cds) // 60))
    cuts = sorted(rng.choice(np.arange(10, len(cds) - 10), size=n_exons - 1, replace=False)) if n_exons > 1 else []
    pieces = np.split(np.array(list(cds)), cuts)
    seq = [utr5]
    pos = len(utr5)
    cds_coords = []
    for i, piece in enumerate(pieces):
        s = "".join(piece)
        cds_coords.append((pos, pos + len(s)))
        seq.append(s)
        pos += len(s)
        if i < len(pieces) - 1:
            intr = _intron(rng, preset)
            seq.append(intr)
            pos += len(intr)
    seq.append(utr3)
    total = pos + len(utr3)
    exons = (
        [(0, cds_coords[0][1])] + cds_coords[1:-1] + [(cds_coords[-1][0], total)]
        if len(cds_coords) > 1
        else [(0, total)]
    )
    return "".join(seq), exons, cds_coords


def simulate_genome(preset_name, seed, contig_sizes, prefix="chr"):
    """Return ({seqid: sequence}, [Transcript]) for one simulated species."""
    preset = PRESETS[preset_name]
    rng = np.random.default_rng(seed)
    table = codon_table(preset)
    repeats = [_seq(rng, int(rng.integers(300, 1500)), preset.gc) for _ in range(5)]
    genome, transcripts = {}, []
    for ci, size in enumerate(contig_sizes, 1):
        seqid = f"{prefix}{ci}"
        parts, pos = [], 0
        while True:
            ig_len = _lognormal(rng, preset.intergenic_median, 0.6, 300)
            ig = _seq(rng, ig_len, preset.gc)
            if rng.random() < preset.repeat_fraction:
                rep = _mutate(rng, repeats[rng.integers(len(repeats))], 0.08, preset.gc)
                k = int(rng.integers(0, len(ig)))
                ig = ig[:k] + (rep if rng.random() < 0.5 else _revcomp(rep)) + ig[k:]
            gene, exons, cds = _gene(rng, preset, table)
            if pos + len(ig) + len(gene) + 300 > size:
                break
            parts.append(ig)
            pos += len(ig)
            strand = "+" if rng.random() < 0.5 else "-"
            if strand == "-":
                gl = len(gene)
                gene = _revcomp(gene)
                exons = [(gl - e, gl - s) for s, e in reversed(exons)]
                cds = [(gl - e, gl - s) for s, e in reversed(cds)]
            gene_id = f"{seqid}_g{len(transcripts) + 1:05d}"
            t = Transcript(
                seqid,
                strand,
                [(pos + s, pos + e) for s, e in exons],
                [(pos + s, pos + e) for s, e in cds],
                gene_id=gene_id,
                transcript_id=f"{gene_id}.t1",
            )
            t.expression = 0.0 if rng.random() < 0.1 else float(rng.lognormal(0, 1.2))
            transcripts.append(t)
            parts.append(gene)
            pos += len(gene)
        parts.append(_seq(rng, size - pos, preset.gc))
        genome[seqid] = "".join(parts)
    return genome, transcripts


def write_fasta(genome, path, width=60):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for sid, seq in genome.items():
            fh.write(f">{sid}\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + "\n")


def _positions(blocks):
    return np.concatenate([np.arange(s, e) for s, e in blocks])


def _cigar(pos):
    """CIGAR tuples for sorted reference positions: M runs separated by N gaps."""
    gaps = np.flatnonzero(np.diff(pos) > 1)
    ops, start = [], 0
    for g in gaps:
        ops.append((0, g + 1 - start))
        ops.append((3, int(pos[g + 1] - pos[g] - 1)))
        start = g + 1
    ops.append((0, len(pos) - start))
    return ops


def simulate_reads(
    genome, transcripts, path, n_pairs, seed, read_len=100, frag_mean=250, intronic=0.05, intergenic=0.02, contigs=None
):
    """Paired-end dUTP reads: read 1 antisense, read 2 sense to the transcript. contigs: the sequences
    the reads come from (None: all), as when a library covers part of a genome."""
    rng = np.random.default_rng(seed)
    background = list(genome) if contigs is None else [s for s in genome if s in set(contigs)]
    if not background:
        raise InputError(f"no reads can come from {', '.join(contigs)}: no such sequence in the genome")
    header = {"HD": {"VN": "1.6", "SO": "unsorted"}, "SQ": [{"SN": s, "LN": len(q)} for s, q in genome.items()]}
    tids = {s: i for i, s in enumerate(genome)}
    expressed = [t for t in transcripts if t.expression > 0 and (contigs is None or t.seqid in set(contigs))]
    tpos = [_positions(t.exons) for t in expressed]
    weights = np.array([t.expression * len(p) for t, p in zip(expressed, tpos)])
    weights /= weights.sum()
    path = Path(path)
    unsorted = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as bam:
        for k in range(n_pairs):
            r = rng.random()
            if r < intergenic:  # background anywhere, random strand
                sid = background[rng.integers(len(background))]
                L = len(genome[sid])
                a = int(rng.integers(0, L - frag_mean))
                pos = np.arange(a, a + frag_mean)
                sense_strand = "+" if rng.random() < 0.5 else "-"
            else:
                j = rng.choice(len(expressed), p=weights)
                t, sid = expressed[j], expressed[j].seqid
                sense_strand = t.strand
                if r < intergenic + intronic:  # pre-mRNA: unspliced span of the gene
                    pos = np.arange(t.start, t.end)
                else:
                    pos = tpos[j]
                flen = int(np.clip(rng.normal(frag_mean, 40), read_len, len(pos)))
                if len(pos) < read_len:
                    continue
                a = int(rng.integers(0, len(pos) - flen + 1))
                pos = pos[a : a + flen]
            # fragment in genomic order; the sense read lies at the transcript's 5' end
            left, right = pos[:read_len], pos[-read_len:]
            if sense_strand == "+":
                r2_pos, r1_pos, r1_rev = left, right, True
            else:
                r2_pos, r1_pos, r1_rev = right, left, False
            seq = genome[sid]
            name = f"p{k}"
            segs = []
            for is_r1, p, rev in ((True, r1_pos, r1_rev), (False, r2_pos, not r1_rev)):
                s = pysam.AlignedSegment()
                s.query_name = name
                s.reference_id = tids[sid]
                s.reference_start = int(p[0])
                s.cigartuples = _cigar(p)
                s.query_sequence = "".join(seq[i] for i in p)
                s.query_qualities = pysam.qualitystring_to_array("I" * len(p))
                s.mapping_quality = 60
                s.flag = 1 | 2 | (64 if is_r1 else 128) | (16 if rev else 0) | (0 if rev else 32)
                segs.append((s, p))
            (s1, p1), (s2, p2) = segs
            for s, other in ((s1, s2), (s2, s1)):
                s.next_reference_id = tids[sid]
                s.next_reference_start = other.reference_start
                span = int(max(p1[-1], p2[-1]) + 1 - min(p1[0], p2[0]))
                s.template_length = span if s.reference_start <= other.reference_start else -span
                bam.write(s)
    with atomic_path(path) as tmp:
        pysam.sort("-o", str(tmp), "-@", "2", str(unsorted))
    unsorted.unlink()
    pysam.index(str(path))


def simulate_species(preset, seed, out_dir, contig_sizes, n_read_pairs, prefix="chr", read_contigs=None):
    """Write genome.fa, annotation.gff3 and (if n_read_pairs) rnaseq.bam + .bai into out_dir; reads
    only from `read_contigs` when given."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    genome, transcripts = simulate_genome(preset, seed, contig_sizes, prefix=prefix)
    write_fasta(genome, out_dir / "genome.fa")
    write_gff3(transcripts, {s: len(q) for s, q in genome.items()}, out_dir / "annotation.gff3", "genetune_sim")
    if n_read_pairs:
        simulate_reads(genome, transcripts, out_dir / "rnaseq.bam", n_read_pairs, seed + 1, contigs=read_contigs)
    return genome, transcripts


def predictions_from_labels(labels_h5, out, sharpness=0.9, noise=0.0, seed=0, rows=64):
    """A predictions.h5 whose probabilities come from a labels.h5 (y and phases), blurred by
    `sharpness` and uniform `noise`: decoder input with a known truth, written block by block."""
    rng = np.random.default_rng(seed)
    with h5py.File(labels_h5) as lab, h5py.File(out, "w") as o:
        for src, dst in ((layout.Y, layout.PREDICTIONS), (layout.PHASES, layout.PREDICTIONS_PHASE)):
            d = o.create_dataset(
                dst,
                shape=lab[src].shape,
                dtype=np.float16,
                chunks=(1, *lab[src].shape[1:]),
                compression="gzip",
                compression_opts=1,
            )  # readable by HelixerPost
            for r in range(0, len(d), rows):
                y = lab[src][r : r + rows].astype(np.float32)
                valid = y.sum(-1, keepdims=True) > 0
                p = y * sharpness + (1 - sharpness) / 4
                if noise:
                    p = p + rng.random(p.shape) * noise
                    p /= p.sum(-1, keepdims=True)
                d[r : r + rows] = (p * valid).astype(np.float16)
        for k in (layout.SEQIDS, layout.START_ENDS, layout.SPECIES):
            o[k] = lab[k][:]
    return out
