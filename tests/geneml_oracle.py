"""Run in the geneML oracle venv (geneml==1.3.1 with its TensorFlow): geneML's own model loading
and prediction code on every sequence of a FASTA, both strands.

    python tests/geneml_oracle.py GENOME.fa OUT.npz [MODEL.keras]

For each sequence `s` writes `<s>|+` and `<s>|-`: geneML's (7, n) class probabilities from
geneml.produce_genes.run_model (100 kb pieces with 400 bp of real flank, N padding at the
sequence ends), the minus strand on Bio.Seq.reverse_complement as geneml.pipeline does, the
model file's path, and `seconds`: the time spent in run_model (TensorFlow threads as the
environment sets them, TF_NUM_INTRAOP_THREADS).
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
from Bio import SeqIO  # noqa: E402
from Bio.Seq import reverse_complement  # noqa: E402
from geneml.model_loader import DEFAULT_MODEL_PATH, get_cached_gene_ml_model  # noqa: E402
from geneml.produce_genes import run_model  # noqa: E402

CONTEXT = 800  # geneML's default --context-length


def main(fasta, out, model_path=None):
    model = get_cached_gene_ml_model(model_path or DEFAULT_MODEL_PATH, CONTEXT)
    record = {"model_path": np.array(model_path or DEFAULT_MODEL_PATH)}
    run_model(model, "ACGT" * 500, CONTEXT)  # first call builds the graph: not part of the timing
    spent = 0.0
    for rec in SeqIO.parse(fasta, "fasta"):
        seq = str(rec.seq).upper()
        t = time.perf_counter()
        record[f"{rec.id}|+"] = run_model(model, seq, CONTEXT).astype(np.float32)
        record[f"{rec.id}|-"] = run_model(model, reverse_complement(seq), CONTEXT).astype(np.float32)
        spent += time.perf_counter() - t
    record["seconds"] = np.array(spent)
    np.savez_compressed(out, **record)


if __name__ == "__main__":
    main(*sys.argv[1:])
