# How every job runs: the Python it calls, the line a job killed from outside leaves in its log,
# and the record of this run that lets a killed run's successor continue without --unlock.
import shlex

from snakemake.settings.types import DeploymentMethod

from genetune.core.runlock import claim_run, clear_stale_locks, release_run


def _python_dir():
    """A folder whose `python` is the interpreter Snakemake runs under (a venv's bin/, or a link)."""
    here = Path(sys.executable)
    if (here.parent / "python").resolve() == here.resolve():
        return here.parent
    link = Path(".snakemake/genetune-python/python")
    if not link.is_symlink() or link.resolve() != here.resolve():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(here)
    return link.parent.resolve()


# Every rule's command ends `|| killed_from_outside $? {log:q}`: a job killed by signal 9 (a memory
# cgroup, the OOM killer) cannot say so itself, so its shell adds the line to the job's log. Every
# log lies in logs/<rule>/ (a `use rule` copy in its own folder): the folder names the rule.
KILLED = (
    'killed_from_outside() {{ if [ "$1" -eq 137 ]; then echo "error: killed from outside by signal 9 '
    "(SIGKILL), most often for memory (SLURM's cgroup limit, the kernel's OOM killer): raise the rule's "
    'mem_mb (--set-resources $(basename "$(dirname "$2")"):mem_mb=...) or lower its batch_size or '
    'scatter: pieces" >> "$2"; fi; return "$1"; }}; '  # braces doubled: Snakemake formats the prefix
)
# The rules call `python`: outside a conda deployment, the interpreter Snakemake runs under, so
# `.venv/bin/snakemake ...` needs no activated venv; with --sdm conda, the rule's env's.
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    shell.prefix(f"set -euo pipefail; {KILLED}")
else:
    shell.prefix(
        f'set -euo pipefail; export PATH={shlex.quote(str(_python_dir()))}:"$PATH"; '
        + KILLED
    )


# Snakemake's locks of a run killed outright (kill -9, a lost ssh session) are removed when that run
# is gone, so the same command continues; a live run is named (genetune.core.runlock).
if workflow.is_main_process:
    for line in clear_stale_locks():
        print(line, file=sys.stderr)


onstart:
    claim_run()


onsuccess:
    release_run()


onerror:
    release_run()
