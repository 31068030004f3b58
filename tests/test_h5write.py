import h5py
import numpy as np
import pytest

from genetune import layout
from genetune.h5write import ChunkWriter


@pytest.mark.parametrize("dtype, shape", [(np.float16, (50, 4)), (np.uint32, (50,)), (np.int8, (50, 6))])
@pytest.mark.parametrize("threads", [1, 3])
def test_chunks_written_in_threads_read_back_through_the_gzip_filter(tmp_path, dtype, shape, threads):
    rng = np.random.default_rng(0)
    data = (rng.random((7, *shape)) * 100).astype(dtype)
    with h5py.File(tmp_path / "a.h5", "w") as h5, ChunkWriter(threads) as w:
        d = layout.create_chunked(h5, "data/x", 7, shape, dtype)
        w.write(d, 0, data[:4])
        w.write(d, 4, data[4:])
    with h5py.File(tmp_path / "a.h5") as h5:
        d = h5["data/x"]
        assert d.compression == "gzip" and d.shuffle == (len(shape) >= 1)
        assert np.array_equal(d[:], data)
