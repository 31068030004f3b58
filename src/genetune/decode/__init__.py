"""From per-base class probabilities to GFF3 gene models: the gene-structure states, their scores,
the Viterbi kernel, genes from a path and the streaming run over a genome (run.py); beside them the
species profile, the region finder and the fit of the decoder's meta-parameters to read junctions.
"""

from genetune.decode.config import DecodeConfig
from genetune.decode.run import decode_h5, decode_strand
from genetune.decode.scores import Scorer

__all__ = ["DecodeConfig", "Scorer", "decode_h5", "decode_strand"]
