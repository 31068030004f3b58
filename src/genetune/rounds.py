"""Self-training rounds: the final annotation is the round whose model scores best on one fixed
validation set, round 1's (whole held-out sequences or regions, labelled by the first pass), so
every round is measured against the same bases and labels; ties go to the earlier round."""

import shutil

import torch

from . import layout
from .checkpoint import load_model
from .data import ChunkDataset
from .errors import InputError
from .fileio import atomic_path
from .train import evaluate, pick_device

ROUND_COLUMNS = ("round", "model", "annotation", "val_genic_f1", "val_CDS_f1", "val_intron_f1", "val_loss", "chosen")


def score_rounds(val_h5, models, batch_size=4):
    """Validation metrics of each round's model on val_h5."""
    device = pick_device()
    out = []
    for path in models:
        model, _ = load_model(path)
        model.to(device)
        prefix = layout.DEFAULT_COVERAGE_PREFIX if model.input_channels > 4 else None
        loader = torch.utils.data.DataLoader(ChunkDataset(val_h5, None, None, prefix), batch_size=batch_size)
        out.append(evaluate(model, loader, device))
    return out


def choose_round(val_h5, models, annotations, out_gff3, out_tsv):
    """Copy the best round's annotation to out_gff3 and write every round's scores; returns its index."""
    if len(models) != len(annotations) or not models:
        raise InputError(f"{len(models)} round model(s) but {len(annotations)} annotation(s)")
    scores = score_rounds(val_h5, models)
    best = max(range(len(scores)), key=lambda i: (scores[i]["genic_f1"], -i))
    with atomic_path(out_tsv) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(ROUND_COLUMNS) + "\n")
        for i, (m, a, s) in enumerate(zip(models, annotations, scores)):
            fh.write(f"{i + 1}\t{m}\t{a}\t{s['genic_f1']:.4f}\t{s['CDS_f1']:.4f}\t{s['intron_f1']:.4f}\t"
                     f"{s['loss']:.4f}\t{'yes' if i == best else 'no'}\n")
    with atomic_path(out_gff3) as tmp:
        shutil.copyfile(annotations[best], tmp)
    return best
