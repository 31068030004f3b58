"""PSAURON's protein-coding score of gene models, a check that does not come from the pseudolabels.

PSAURON (Sommer et al. 2025; MIT licence; PyPI `psauron==1.1.3`) is a temporal convolutional network
trained on the proteins of over a thousand plant and animal genomes. It reads a protein one amino
acid at a time and gives every position a logit of being coding; a CDS scores the sigmoid of the
mean logit from the 100th amino acid on (or the last one, for short proteins), in its own frame and
in the five other frames (two shifted, three on the reverse complement). A CDS is protein-coding
when its own frame scores >= 0.5 and the other frames <= 0.5 on average: PSAURON's rule. Only the
weights come from the package (`psauron/data/model_state_dict.pt`, fetched by
workflow/scripts/fetch_real_data.py without the package's numpy<2 pin); the network is written here:
6 levels of causal dilated convolutions (32 channels, kernel 16, dilation 2^level, weight-normed)
with residual connections, then one linear output per position.

It sees frame errors and proteins that are not there, not whether an intron sits a few bases off:
a sanity score reported for every stage, not a judge of structure (ARCHITECTURE.md §7).
"""

import pickle

import numpy as np
import torch
import torch.nn.functional as F

from genetune.core.errors import InputError
from genetune.deliver.genetic_code import translate
from genetune.io.fasta import LETTERS

LEVELS, CHANNELS, KERNEL, N_TOKENS = 6, 32, 16, 21
AMINO_TOKENS = {a: k for k, a in enumerate("LVIMCAGSTPFYWEDNQKRH", 1)}  # 0 pads; anything else counts as L
SKIP = 100  # positions before this one do not score (too little context)
MIN_AA = 5  # shorter proteins are not scored
_COMPLEMENT = str.maketrans("ACGT", "TGCA")
NOT_A_FRAME = "GALDALFELVIS"  # PSAURON's stand-in for a frame that is all stop codons


class PsauronTCN(torch.nn.Module):
    """PSAURON's network, reading its state dict (the weight-normed convolutions as g and v)."""

    def __init__(self, state):
        super().__init__()
        self.levels = []
        for level in range(LEVELS):
            p = f"tcn.network.{level}."
            convs = [self._weight_normed(state, f"{p}{name}") for name in ("conv1", "conv2")]
            down = (
                (state[f"{p}downsample.weight"], state[f"{p}downsample.bias"])
                if f"{p}downsample.weight" in state
                else None
            )
            self.levels.append((2**level, convs, down))
        self.linear = (state["linear.weight"], state["linear.bias"])

    @staticmethod
    def _weight_normed(state, name):
        g, v = state[f"{name}.weight_g"], state[f"{name}.weight_v"]
        return g * v / v.flatten(1).norm(dim=1).view(-1, 1, 1), state[f"{name}.bias"]

    def forward(self, x):
        """(N, 21, L) one-hot amino acids -> (N, L) coding logits (position t sees positions <= t)."""
        for dilation, convs, down in self.levels:
            out = x
            for w, b in convs:
                out = F.relu(F.conv1d(F.pad(out, ((KERNEL - 1) * dilation, 0)), w, b, dilation=dilation))
            res = x if down is None else F.conv1d(x, *down)
            x = F.relu(out + res)
        w, b = self.linear
        return torch.einsum("ncl,oc->nol", x, w)[:, 0] + b[0]


def load(path):
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError, EOFError) as exc:
        raise InputError(f"{path}: cannot read PSAURON's weights ({str(exc).splitlines()[0]})") from None
    if not isinstance(state, dict):
        raise InputError(f"{path}: not PSAURON's model_state_dict.pt (not a state dict)")
    missing = [k for k in ("linear.weight", f"tcn.network.{LEVELS - 1}.conv2.weight_v") if k not in state]
    if missing:
        raise InputError(f"{path}: not PSAURON's model_state_dict.pt (no {', '.join(missing)})")
    return PsauronTCN(state)


@torch.no_grad()
def _scores(model, proteins, batch=64):
    """PSAURON's score of each protein (sigmoid of the mean logit from position SKIP on)."""
    tokens = [[AMINO_TOKENS.get(a, 1) for a in p] for p in proteins]
    order = np.argsort([len(t) for t in tokens])
    out = np.zeros(len(tokens))
    for i in range(0, len(order), batch):
        rows = order[i : i + batch]
        width = max(len(tokens[r]) for r in rows)
        x = torch.zeros((len(rows), width), dtype=torch.long)
        for k, r in enumerate(rows):
            x[k, : len(tokens[r])] = torch.tensor(tokens[r])
        logits = model(F.one_hot(x, N_TOKENS).permute(0, 2, 1).float())
        for k, r in enumerate(rows):
            n = len(tokens[r])
            out[r] = torch.sigmoid(logits[k, min(SKIP, n - 1) : n].mean()).item()
    return out


def score_cds(model, cds_codes):
    """[(own frame score, mean score of the other five frames, protein-coding)] of CDS sequences
    (bytes of fasta codes, 5'->3'); None for a CDS under MIN_AA amino acids."""
    own, others, index = [], [], []
    for k, codes in enumerate(cds_codes):
        dna = "".join(LETTERS[np.frombuffer(codes, np.uint8)]).upper().replace("N", "A")
        protein = translate(dna).replace("*", "")
        if len(protein) < MIN_AA:
            continue
        rc = dna[::-1].translate(_COMPLEMENT)
        frames = [translate(s).replace("*", "") or NOT_A_FRAME for s in (dna[1:], dna[2:], rc, rc[1:], rc[2:])]
        own.append(protein)
        others.extend(frames)
        index.append(k)
    result = [None] * len(cds_codes)
    if not own:
        return result
    s_own, s_other = _scores(model, own), _scores(model, others).reshape(-1, 5).mean(axis=1)
    for k, a, b in zip(index, s_own, s_other):
        result[k] = (float(a), float(b), bool(a >= 0.5 and b <= 0.5))
    return result


def coding_count(model, genome_h5, genes):
    """(genes PSAURON calls protein-coding, genes it scored) of coding transcripts on genome.h5."""
    from genetune.io.sequences import cds_sequences

    seqs = cds_sequences(genome_h5, genes)
    scored = [x for x in score_cds(model, [seqs[k] for k in range(len(genes))]) if x is not None]
    return sum(x[2] for x in scored), len(scored)
