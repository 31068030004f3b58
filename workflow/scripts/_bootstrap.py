"""Make `import genetune` work from a checkout, also inside a conda env without the package installed,
and turn a missing requirement into one sentence that says what to do (a rule run by a Python other
than the venv's is the usual first mistake)."""

import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
# the import names of requirements.txt's runtime packages
REQUIRED = {
    "numpy",
    "h5py",
    "yaml",
    "jsonschema",
    "torch",
    "pysam",
    "numba",
    "Bio",
    "gffutils",
    "tqdm",
    "matplotlib",
    "isal",
    "genetune",
}


def missing_requirement(exc_type, exc, tb):
    """sys.excepthook: one sentence for a requirement this Python cannot import, else the usual traceback."""
    name = (getattr(exc, "name", None) or "").split(".")[0]
    if issubclass(exc_type, ModuleNotFoundError) and name in REQUIRED:
        sys.stderr.write(
            f"error: {sys.executable} cannot import {name} (a genetune requirement): run the workflow with the "
            f"venv's Snakemake, `.venv/bin/snakemake ...` (`make demo` builds .venv), or `pip install -r "
            f"requirements.txt` into this Python\n"
        )
    else:
        sys.__excepthook__(exc_type, exc, tb)


sys.excepthook = missing_requirement
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))
