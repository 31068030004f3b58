import h5py
import numpy as np
import pytest

from genetune.core import layout
from genetune.io.h5chunks import ChunkIO


@pytest.mark.parametrize("dtype, shape", [(np.float16, (50, 4)), (np.uint32, (50,)), (np.int8, (50, 6))])
@pytest.mark.parametrize("threads", [1, 3])
def test_chunks_written_in_threads_read_back_through_the_gzip_filter(tmp_path, dtype, shape, threads):
    rng = np.random.default_rng(0)
    data = (rng.random((7, *shape)) * 100).astype(dtype)
    with h5py.File(tmp_path / "a.h5", "w") as h5, ChunkIO(threads) as w:
        d = layout.create_chunked(h5, "data/x", 7, shape, dtype)
        w.write(d, 0, data[:4])
        w.write(d, 4, data[4:])
    with h5py.File(tmp_path / "a.h5") as h5:
        d = h5["data/x"]
        assert d.compression == "gzip" and d.shuffle == (len(shape) >= 1)
        assert np.array_equal(d[:], data)


@pytest.mark.parametrize(
    "filters",
    [
        dict(compression="gzip", shuffle=True),
        dict(compression="gzip"),
        dict(compression="lzf", shuffle=True),
        dict(fletcher32=True),
    ],
)
@pytest.mark.parametrize("threads", [1, 3])
def test_rows_read_raw_equal_what_hdf5_decodes(tmp_path, filters, threads):
    """The fast path (raw chunk + inflate + unshuffle) and the fallback give HDF5's rows,
    in the order asked, across batch boundaries; a never-written row reads as the fill value."""
    rng = np.random.default_rng(1)
    data = (rng.random((9, 40, 4)) * 10).astype(np.float16)
    with h5py.File(tmp_path / "a.h5", "w") as h5:
        d = h5.create_dataset("x", shape=(10, 40, 4), chunks=(1, 40, 4), dtype=np.float16, **filters)
        d[:9] = data
    rows = [8, 0, 3, 9, 4, 5]
    with h5py.File(tmp_path / "a.h5") as h5, ChunkIO(threads) as io:
        got = list(io.read(h5["x"], rows, batch=4))
    expected = np.concatenate([data, np.zeros((1, 40, 4), np.float16)])[rows]
    assert np.array_equal(np.stack(got), expected)


def test_queued_writes_are_all_stored_on_exit(tmp_path):
    """Writes wait in a queue while others compress; leaving the context stores every one."""
    data = np.arange(12 * 30, dtype=np.uint32).reshape(12, 30)
    with h5py.File(tmp_path / "a.h5", "w") as h5:
        d = layout.create_chunked(h5, "data/x", 12, (30,), np.uint32)
        with ChunkIO(2, pending_bytes=0) as w:
            for k in range(0, 12, 3):
                w.write(d, k, data[k : k + 3])
        with ChunkIO(2, pending_bytes=1 << 30) as w:
            w.write(d, 0, data[::-1])
        assert np.array_equal(d[:], data[::-1])
