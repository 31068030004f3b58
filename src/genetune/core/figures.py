"""Report figures: matplotlib without a display, saved as SVG that equal inputs give equal bytes."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

from genetune.core.fileio import atomic_path  # noqa: E402

plt.rcParams["svg.hashsalt"] = "genetune"  # element ids from a fixed salt, not random ones


def save_svg(fig, path):
    """Lay the figure out, write it atomically without a date, and close it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="svg", metadata={"Date": None})
    plt.close(fig)
