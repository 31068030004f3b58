# genetune: adapt a pretrained Helixer-style gene caller to a new species.
# Table of contents only; the rules live in workflow/rules/, the logic in src/genetune/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/pseudolabels.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/pretrain.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),
