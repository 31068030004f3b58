"""Inputs that are legal but suspicious: one warning line in the log and a row in a QC TSV.

Errors stop a step (errors.InputError); these do not, because the input may be meant, but a
person should look: most CDS phases of an annotation disagree with their CDS lengths, a
reference has genes on only some of the evaluated sequences, a BAM gives no coverage at all,
the reads contradict the declared strandedness (coverage.py's report).
"""

import logging

from genetune.core.fileio import atomic_path

QC_COLUMNS = ("check", "status", "value", "detail")
log = logging.getLogger("genetune.qc")


class QC:
    def __init__(self):
        self.rows = []

    def ok(self, check, value, detail=""):
        self.rows.append((check, "ok", value, detail))

    def warn(self, check, value, detail):
        log.warning("%s: %s", check, detail)
        self.rows.append((check, "warning", value, detail))

    def write(self, path):
        with atomic_path(path) as tmp, open(tmp, "w") as fh:
            fh.write("\t".join(QC_COLUMNS) + "\n")
            for check, status, value, detail in self.rows:
                v = f"{value:.4f}" if isinstance(value, float) else str(value)
                fh.write(f"{check}\t{status}\t{v}\t{detail}\n")
