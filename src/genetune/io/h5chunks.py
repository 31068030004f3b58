"""Read and write whole one-row chunks, (de)compressing in threads.

Helixer's layout stores every subsequence as its own gzip(+shuffle) HDF5 chunk. h5py compresses
inside one call on one core with zlib level 4, which is most of the time spent writing. Here
each chunk is shuffled as HDF5's filter does and deflated by ISA-L (igzip level 1: a standard
zlib stream, ~10x faster than zlib level 4, files ~30% larger for data/X) in a thread pool; the
finished chunks go in through H5Dwrite_chunk. Any HDF5 reader, Helixer included, reads them
through the dataset's ordinary gzip filter. Reading goes the other way (H5Dread_chunk, inflate,
unshuffle) for datasets with exactly that filter pipeline, and through h5py otherwise.
"""

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from isal import isal_zlib

LEVEL = 1  # ISA-L levels are 0-3; 1 and 2 compress alike, 3 is slower than zlib


def default_threads():
    return max(1, min(8, len(os.sched_getaffinity(0))))


def _one_chunk_per_row(dset):
    return dset.chunks == (1, *dset.shape[1:])


def _shuffled(dset):
    return "shuffle" in dset._filters and dset.dtype.itemsize > 1


def _shuffle(raw, itemsize):
    """HDF5's shuffle filter: all first bytes of the elements, then all second bytes, ...
    (byte-plane copies by stride: several times faster than a uint8 transpose)."""
    out = np.empty_like(raw)
    n = raw.size // itemsize
    for j in range(itemsize):
        out[j * n : (j + 1) * n] = raw[j::itemsize]
    return out


def _unshuffle(planes, itemsize):
    out = np.empty_like(planes)
    n = planes.size // itemsize
    for j in range(itemsize):
        out[j::itemsize] = planes[j * n : (j + 1) * n]
    return out


def _encoder(dset, chunks=None):
    """Row (or `chunks`-shaped block) -> the compressed bytes of one HDF5 chunk of `dset`."""
    if dset.compression != "gzip" or dset.chunks != (chunks or (1, *dset.shape[1:])):
        raise ValueError(f"{dset.name}: chunk writer needs gzip and chunks of {chunks or 'one row'}")
    itemsize, dtype, shuffle = dset.dtype.itemsize, dset.dtype, _shuffled(dset)

    def encode(row):
        raw = np.ascontiguousarray(row, dtype=dtype).reshape(-1).view(np.uint8)
        return isal_zlib.compress(_shuffle(raw, itemsize) if shuffle else raw, LEVEL)

    return encode


def channel_encoder(dset):
    """Encoder for datasets (N, L, C) chunked (1, L, 1), one chunk per row and channel (Helixer's
    coverage layout): takes the L values of one row and channel."""
    return _encoder(dset, (1, dset.shape[1], 1))


def _decoder(dset):
    """Raw chunk bytes -> row array, or None where the filters are not plain gzip(+shuffle)."""
    if set(dset._filters) - {"shuffle"} != {"gzip"} or not _one_chunk_per_row(dset):
        return None
    itemsize, dtype, shape, shuffle = dset.dtype.itemsize, dset.dtype, dset.shape[1:], _shuffled(dset)

    def decode(raw):
        data = np.frombuffer(isal_zlib.decompress(raw), np.uint8)
        return (_unshuffle(data, itemsize) if shuffle else data).view(dtype).reshape(shape)

    return decode


class ChunkIO:
    """Context manager owning the thread pool. `write(dset, start, rows)` queues rows start.. of
    an already sized dataset: they are compressed in the pool while the caller prepares the
    next rows, and stored in order once more than `pending_bytes` wait (all of them on a clean
    exit, so leave this context before closing the file). `read(dset, rows)` yields rows."""

    def __init__(self, threads=None, pending_bytes=24 << 20):
        self.threads = threads or default_threads()
        self.pending_bytes = pending_bytes
        self.pool = None
        self._pending = deque()  # (dataset, first row, compressed chunks or futures, raw bytes)

    def __enter__(self):
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        return self

    def __exit__(self, exc_type, *exc):
        try:
            if exc_type is None:
                self.flush()
        finally:
            self._pending.clear()
            if self.pool:
                self.pool.shutdown(cancel_futures=True)

    def _map(self, fn, items):
        return self.pool.map(fn, items) if self.pool else map(fn, items)

    def write(self, dset, start, rows):
        encode = _encoder(dset)

        def encode_all(rows=rows):
            return [encode(row) for row in rows]

        chunks = self.pool.submit(encode_all) if self.pool else encode_all()
        self._pending.append((dset, start, chunks, rows.nbytes))
        while sum(p[3] for p in self._pending) > self.pending_bytes:
            self._store(self._pending.popleft())

    def flush(self):
        while self._pending:
            self._store(self._pending.popleft())

    @staticmethod
    def _store(pending):
        dset, start, chunks, _ = pending
        pad = (0,) * (dset.ndim - 1)
        for k, chunk in enumerate(chunks if isinstance(chunks, list) else chunks.result()):
            dset.id.write_direct_chunk((start + k, *pad), chunk)

    def read(self, dset, rows, batch=64):
        """Rows are read raw in batches and inflated in the pool (memory: one batch)."""
        decode = _decoder(dset)
        pad = (0,) * (dset.ndim - 1)
        rows = [int(r) for r in rows]
        for b in range(0, len(rows), batch):
            if decode is None:
                yield from (dset[r] for r in rows[b : b + batch])
                continue
            raw = []
            for r in rows[b : b + batch]:
                try:
                    mask, data = dset.id.read_direct_chunk((r, *pad))
                except (KeyError, RuntimeError, ValueError):  # chunk never written
                    mask, data = 1, None
                raw.append(data if not mask else dset[r])  # a skipped filter: HDF5 decodes it

            yield from self._map(lambda x: decode(x) if isinstance(x, bytes) else x, raw)

    def read_block(self, dset, r0, r1):
        """Rows r0..r1 as one array: raw reads inflated by ISA-L where the filters allow, else h5py."""
        if _decoder(dset) is None:
            return dset[r0:r1]
        return np.stack(list(self.read(dset, range(r0, r1))))
