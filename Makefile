# The verbs a user types. Everything runs inside .venv, made from requirements.txt on first use.
#   make book      build the HTML book from the committed, executed notebooks (the report, the runs
#                  page, the assumptions page and README's training-cost table are regenerated; git
#                  status stays clean)
#   make readme-costs   README's training-cost table, from the stored runs' metrics
#   make figures   execute every figure notebook again (papermill, PROFILE): rewrites notebooks/
#   make test      unit tests + notebook tests (nbval) + book checks, replaying committed results
#                  (make test-lib / test-notebooks run one half)
#   make figure FIG=fig13 PROFILE=smoke DEVICE=cpu
#   make bench     speed measurements (benchmarks/RESULTS.md)
#   make gpu-slot MINUTES=10 [DEVICE=auto] [SLOT_OUT=slot]   a GPU for a few minutes: the priority
#                  list's missing runs (gpu_priority.txt) trained, scored and packed into one archive
#                  in SLOT_OUT (no venv needed: python3 with torch, numpy, scipy, tqdm); add it here
#                  with `python -m compdiff results unpack ARCHIVE`
#   make workers MINUTES=170 [WORKERS=2]   background training here: the same list, one worker per
#                  core, runs stored in results/ as they finish (logs in weights/workers/)
#   make clean     remove build outputs (keeps .venv and results/)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PROFILE ?= cpu
DEVICE  ?= auto
FIG     ?= fig01

# The book build and the tests only replay what results/ holds: a missing run is an error.
export COMPDIFF_NO_TRAIN ?= 1

MINUTES  ?= 10
SLOT_OUT ?= slot
# the GPU slot runs where nothing can be installed: the venv's python if there is one, else python3
SLOT_PY  ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))

.PHONY: venv book figures figure html assumptions report runs-page readme-costs test test-lib test-notebooks bench gpu-slot workers clean

$(BIN)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

venv: $(BIN)/.installed

figures: venv
	$(BIN)/python -m compdiff figures --profile $(PROFILE) --device $(DEVICE) --quiet

figure: venv
	$(BIN)/python -m compdiff figure $(FIG) --profile $(PROFILE) --device $(DEVICE)

assumptions: venv
	$(BIN)/python -m compdiff assumptions

# The reproduction report is generated from results/ (never typed): book/report.md
report: venv
	$(BIN)/python -m compdiff report

# The runs page is generated from results/ (never typed): book/runs.md
runs-page: venv
	$(BIN)/python -m compdiff runs-page

# README's table of each figure's measured training cost is generated from results/ (never typed)
readme-costs: venv
	$(BIN)/python -m compdiff readme-costs --write

html: venv assumptions report runs-page readme-costs
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going --quiet
	@echo "book: $(CURDIR)/_build/html/index.html"

book: html

# The unit tests and the notebook tests run side by side, one core each (every test process uses
# one torch thread); the unit tests' output is printed when both are done.
test: venv html
	@mkdir -p _build
	@$(BIN)/python -m pytest -q tests > _build/test-lib.log 2>&1 & lib=$$!; \
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q --nbval-lax -p no:cacheprovider notebooks; nb=$$?; \
	wait $$lib; rc=$$?; echo "--- unit tests (pytest tests) ---"; cat _build/test-lib.log; \
	echo "unit tests: exit $$rc; notebook tests: exit $$nb"; test $$rc -eq 0 && test $$nb -eq 0

test-lib: venv html
	$(BIN)/python -m pytest -q tests

test-notebooks: venv
	$(BIN)/python -m pytest -q --nbval-lax -p no:cacheprovider notebooks

bench: venv
	$(BIN)/python benchmarks/run_all.py

# Background training on this machine (issue 20): WORKERS processes, one per core, each reading
# PRIORITY again before every run (default gpu_priority.txt; a shorter list of your own, same
# format, trains only its lines) and taking the first missing run no other worker holds (--claim:
# a per-run lock; an around= line follows the runs stored meanwhile) at PROFILE until MINUTES are up. Finished runs are stored in
# results/ as they land (commit them); an unfinished run resumes on the next call with the same list.
# Logs and summaries: weights/workers/.
WORKERS ?= 2
PRIORITY ?= gpu_priority.txt
workers: venv
	@mkdir -p weights/workers
	@for i in $$(seq 0 $$(($(WORKERS) - 1))); do \
	  OMP_NUM_THREADS=1 COMPDIFF_NO_TRAIN=0 nohup $(BIN)/python -m compdiff gpu-slot --device cpu \
	    --minutes $(MINUTES) --profile $(PROFILE) --priority $(PRIORITY) --out weights/workers/w$$i --claim \
	    --no-archive --bench-seconds 0 > weights/workers/worker-$$i.log 2>&1 & \
	  echo "worker $$i/$(WORKERS): weights/workers/worker-$$i.log"; \
	done

gpu-slot:
	PYTHONPATH=lib COMPDIFF_NO_TRAIN=0 $(SLOT_PY) -m compdiff gpu-slot --minutes $(MINUTES) --out $(SLOT_OUT) --device $(DEVICE)

clean:
	rm -rf _build figures notebooks/*.failed.ipynb
