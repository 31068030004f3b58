"""Streaming prediction: genome.h5 (+ coverage.h5) -> predictions.h5 in the data/X layout.

Per sequence strand, the valid bases of its chunks are read as one contiguous 5'->3'
stream (so padded minus chunks never put padding inside the sequence, unlike Helixer 0.3.6,
its issue #197). How a strand is cut depends on the model's context:
  - unbounded (HybridModel's BiLSTM): Helixer's overlap scheme, windows of L every L/2 plus one
    flush with the end, L/8 trimmed from inner window edges (core 3L/4), an unweighted mean
    where windows overlap;
  - finite (the residual CNN): spans of batch_size x L bases with `context` bases of real flank
    either side (zeros past the strand's ends), which is exact: every base gets what a pass over
    the whole strand would give it, so no overlap is needed.
Outputs are float16 probabilities with padding (zeros) at the end of every chunk, rows in
genome.h5's order: `predictions` (4 genic classes), `predictions_phase` (the phase head, or for
models without one a neutral phase, P(CDS) shared equally, attr phase_head = False) and, for
models that predict them, `predictions_boundary` (layout.BOUNDARY_CLASSES). Only a batch of
windows is in memory at a time.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
import torch
from tqdm import tqdm

from genetune.core import layout
from genetune.core.device import autocast, pick_device
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_h5, require
from genetune.io.chunks import StrandReader, check_same_chunks, piece_of, read_keys, strand_runs
from genetune.io.h5chunks import ChunkIO
from genetune.models import family_of
from genetune.models.checkpoint import check_channels, load_model, sha256

log = logging.getLogger("genetune.predict")


def window_starts(n, length, overlap=True):
    """Window start positions over a strand of n bases."""
    if n <= length:
        return [0]
    step = length // 2 if overlap else length
    starts = list(range(0, n - length + 1, step))
    if starts[-1] + length < n:
        starts.append(n - length)
    return starts


def window_cores(starts, n, length, overlap=True):
    """[a, b) of each window that counts: inner edges trimmed by L/8 when overlapping."""
    trim = length // 8 if overlap else 0
    cores = []
    for i, s in enumerate(starts):
        a = s if i == 0 else s + trim
        b = min(n, s + length if i == len(starts) - 1 else s + length - trim)
        cores.append((a, b))
    return cores


def fast_softmax(logits):
    """Softmax over a short last axis (4-7 classes), in float32; 3-4x faster on CPU than
    torch.softmax, whose kernel vectorises along that short axis."""
    logits = logits.float()
    e = torch.exp(logits - logits.amax(-1, keepdim=True))
    return e / e.sum(-1, keepdim=True)


N_COLUMNS = {"genic": 4, "phase": 4, "boundary": len(layout.BOUNDARY_CLASSES)}


def output_columns(model):
    """[(output, dataset)] in the column order predict_run yields: genic, phase (always: neutral
    for models without a phase head), boundary where the model predicts it."""
    cols = [("genic", layout.PREDICTIONS), ("phase", layout.PREDICTIONS_PHASE)]
    if "boundary" in model.outputs:
        cols.append(("boundary", layout.PREDICTIONS_BOUNDARY))
    return cols


def _as_columns(model, probs):
    """(B, L, n) float32 numpy array of a probability dict, columns as output_columns()."""
    genic = probs["genic"]
    if "phase" not in probs:
        cds = genic[..., layout.CDS : layout.CDS + 1] / 3
        probs = {**probs, "phase": torch.cat([1 - 3 * cds, cds, cds, cds], dim=-1)}
    return torch.cat([probs[name].float() for name, _ in output_columns(model)], dim=-1).cpu().numpy()


def _predict_windows(model, x_span, offsets, covs, length, device):
    x = torch.from_numpy(x_span).to(device=device, dtype=torch.float32)
    cov = torch.from_numpy(np.stack(covs)).to(device=device, dtype=torch.float32) if covs else None
    with torch.no_grad(), autocast(device):
        logits = model.window_logits(x, offsets, length, cov)
        return _as_columns(model, model.probabilities(logits, softmax=fast_softmax))


def _overlapping_windows(model, reader, length, batch_size, device, overlap, progress, n_cols):
    """Helixer's overlapping windows over one strand: yields (strand position, values) blocks."""
    n = int(reader.run.valid.sum())
    starts = window_starts(n, length, overlap)
    cores = window_cores(starts, n, length, overlap)
    acc = np.zeros((0, n_cols), dtype=np.float32)  # sums for strand positions [done, done + len)
    cnt = np.zeros(0, dtype=np.float32)
    done = 0  # strand position of acc[0]
    n_cov = len(reader.cov_sets)
    for b0 in range(0, len(starts), batch_size):
        ws = starts[b0 : b0 + batch_size]
        span_a, span_b = ws[0], min(n, ws[-1] + length)
        x_all, cov_all = reader.read(span_a, span_b)
        x_span = np.zeros((ws[-1] + length - span_a, 4), np.float32)  # zeros past the strand's end
        x_span[: len(x_all)] = x_all
        covs = []
        for w in ws:
            if n_cov:
                c = np.full((length, cov_all.shape[1]), -1.0, np.float32)
                cseg = cov_all[w - span_a : min(w + length, n) - span_a]
                c[: len(cseg)] = cseg
                covs.append(c)
        values = _predict_windows(model, x_span, [w - span_a for w in ws], covs, length, device)
        end = max(b for _, b in cores[b0 : b0 + len(ws)])
        if end - done > len(cnt):
            grow = end - done - len(cnt)
            acc = np.concatenate([acc, np.zeros((grow, n_cols), np.float32)])
            cnt = np.concatenate([cnt, np.zeros(grow, np.float32)])
        for k, w in enumerate(ws):
            a, b = cores[b0 + k]
            acc[a - done : b - done] += values[k, a - w : b - w]
            cnt[a - done : b - done] += 1
        nxt = b0 + len(ws)
        final_upto = cores[nxt][0] if nxt < len(starts) else n
        k = final_upto - done
        ready = acc[:k] / cnt[:k, None]
        acc, cnt, pos, done = acc[k:], cnt[k:], done, final_upto
        if progress is not None:
            progress.update(k)
        yield pos, ready


def _flanked_spans(model, reader, length, batch_size, device, progress):
    """Exact spans of batch_size x L bases for a model of finite context: each read with
    `flank` bases either side (zeros past the strand's ends; coverage -1 there, as padding) and
    predicted in one pass."""
    n = int(reader.run.valid.sum())
    f = model.flank
    step = max(1, batch_size) * length
    for a in range(0, n, step):
        b = min(n, a + step)
        lo, hi = max(0, a - f), min(n, b + f)
        x_real, cov_real = reader.read(lo, hi)
        x = np.zeros((b - a + 2 * f, 4), np.float32)
        x[lo - (a - f) : hi - (a - f)] = x_real
        cov = None
        if cov_real is not None:
            c = np.full((b - a + 2 * f, cov_real.shape[1]), -1.0, np.float32)
            c[lo - (a - f) : hi - (a - f)] = cov_real
            cov = torch.from_numpy(c)[None].to(device)
        with torch.no_grad(), autocast(device):
            logits = model(torch.from_numpy(x)[None].to(device), cov)
            values = _as_columns(model, model.probabilities(logits, softmax=fast_softmax))[0]
        if progress is not None:
            progress.update(b - a)
        yield a, values


def predict_run(model, reader, length, batch_size, device, overlap=True, progress=None):
    """Yield (row, values (valid, n_columns)) for each chunk of a strand run, in order; columns as
    output_columns(model)."""
    run = reader.run
    offsets = reader.offsets
    n_cols = sum(N_COLUMNS[name] for name, _ in output_columns(model))
    if model.context is None:
        blocks = _overlapping_windows(model, reader, length, batch_size, device, overlap, progress, n_cols)
    else:
        blocks = _flanked_spans(model, reader, length, batch_size, device, progress)
    next_row = 0
    out_buf, out_start = np.zeros((0, n_cols), np.float32), 0
    for pos, ready in blocks:
        assert pos == out_start + out_buf.shape[0]
        out_buf = np.concatenate([out_buf, ready])
        while next_row < len(run.rows) and out_start + out_buf.shape[0] >= offsets[next_row] + run.valid[next_row]:
            v = int(run.valid[next_row])
            lo = int(offsets[next_row]) - out_start
            yield int(run.rows[next_row]), out_buf[lo : lo + v]
            next_row += 1
            cut = int(offsets[next_row]) - out_start if next_row < len(run.rows) else out_buf.shape[0]
            out_buf, out_start = out_buf[cut:], out_start + cut


def predict_h5(
    genome_h5,
    model_path,
    out,
    coverage_h5=None,
    batch_size=8,
    overlap=True,
    threads=None,
    show_progress=True,
    piece=None,
):
    """Write predictions.h5 for genome_h5 with the model at model_path. On the CPU, `threads`
    strand runs are predicted at once, one core each: torch's intra-op threads hardly speed up
    a small LSTM, independent runs do (on CUDA one stream does it all). `piece` (k, n): only the
    sequences of piece k of n (chunks.pieces), their rows only; gather_predictions joins them."""
    device = pick_device()
    workers = 1
    if device.type == "cpu":
        workers = threads or torch.get_num_threads()
        torch.set_num_threads(1)
    model, ckpt = load_model(model_path)
    model.to(device).eval()
    cov_names = []
    n_bams = 0
    if coverage_h5:
        check_same_chunks(genome_h5, coverage_h5)
        with open_h5(coverage_h5) as c:
            prefix = (ckpt["input_channels"].get("coverage") or {}).get("prefix", layout.DEFAULT_COVERAGE_PREFIX)
            cov_names = [layout.coverage_name(prefix), layout.spliced_coverage_name(prefix)]
            if cov_names[0] not in c:
                raise InputError(f"{coverage_h5}: no {cov_names[0]} dataset")
            n_bams = c[cov_names[0]].shape[2]
    check_channels(ckpt, n_bams, model_path, genome_h5)
    if model.input_channels == 4:  # a DNA-only model: coverage given or not, it reads none
        cov_names = []
    seqids, start_ends = read_keys(genome_h5)
    runs = strand_runs(seqids, start_ends)
    rows_out = np.arange(len(seqids))
    if piece is not None:
        wanted = set(piece_of(seqids, start_ends, *piece))
        runs = [r for r in runs if r.seqid in wanted]
        rows_out = np.flatnonzero(np.isin(seqids, list(wanted)))
    out_row = {int(r): i for i, r in enumerate(rows_out)}
    with open_h5(genome_h5) as g, atomic_path(out) as tmp, h5py.File(tmp, "w") as o:
        cov_file = open_h5(coverage_h5) if cov_names else None
        try:
            require(g, genome_h5, layout.X, what="a genome.h5 from ingest_genome.py")
            X = g[layout.X]
            N, L = X.shape[:2]
            if L % model.length_multiple:
                raise InputError(
                    f"{genome_h5}: subsequence length {L} is not divisible by {model.length_multiple}, "
                    f"which the model {model_path} needs"
                )
            columns = output_columns(model)
            dsets, col0 = [], 0
            for name, dataset in columns:
                width = N_COLUMNS[name]
                dsets.append((layout.create_chunked(o, dataset, len(rows_out), (L, width), np.float16), col0, width))
                col0 += width
            for name in (layout.SEQIDS, layout.SPECIES, layout.START_ENDS):
                o.create_dataset(name, data=g[name][:][rows_out])
            total = int(sum(r.valid.sum() for r in runs))
            lock = threading.Lock()
            with (
                ChunkIO() as chunk_io,
                tqdm(total=total, unit="bp", unit_scale=True, disable=not show_progress, mininterval=5) as bar,
            ):

                def predict_one(run):
                    reader = StrandReader(run, X, [cov_file[n] for n in cov_names] if cov_file else ())
                    for row, values in predict_run(model, reader, L, batch_size, device, overlap, bar):
                        for dset, c0, width in dsets:
                            a = np.zeros((1, L, width), np.float16)
                            a[0, : len(values)] = values[:, c0 : c0 + width]
                            with lock:
                                chunk_io.write(dset, out_row[row], a)  # compressed in threads while the model runs

                longest_first = sorted(runs, key=lambda r: -int(r.valid.sum()))
                with ThreadPoolExecutor(workers) as pool:
                    for _ in pool.map(predict_one, longest_first):
                        pass
        finally:
            if cov_file is not None:
                cov_file.close()
        o.attrs["model_path"] = str(model_path)
        o.attrs["model_sha256"] = sha256(model_path)
        o.attrs["genome_h5"] = str(genome_h5)
        o.attrs["overlap"] = overlap if model.context is None else False
        o.attrs["device"] = str(device)
        o.attrs["model_family"] = family_of(ckpt)
        o.attrs["model_context"] = -1 if model.context is None else int(model.context)  # -1: the whole chunk
        o.attrs["phase_head"] = "phase" in model.outputs
        if piece is not None:
            o.attrs["piece"] = f"{piece[0]}/{piece[1]}"
    return len(rows_out)
