# Two commands do everything on a fresh clone: `make run` and `make test`. `make help` lists all.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
CRONTAB ?= crontab
# make test: pytest-xdist workers (one per CPU; TEST_WORKERS=0 runs in one process), a test
# file's tests on one worker (its module fixtures are built once). One BLAS/OpenMP thread
# per process: the workers and the scripts they start already fill the cores, and idle
# BLAS threads spinning beside them cost CPU time.
TEST_WORKERS ?= auto
TEST_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# What `make clean` removes from the model folders: reports and caches, all rebuilt on demand.
REBUILDABLE := confusionmatrix.png summary_report.pdf risk_scores.csv apireturns.txt \
	apireturns.json dependencies.json
# What a shipped checkout does not have: the user's data, models, deployments, history, logs.
GENERATED := ingesteddata practicemodels models production_deployment production_deployment.key logs
# An example's generated data (make example-saas writes it again); its config.json stays.
EXAMPLE_DATA := practicedata sourcedata testdata

.PHONY: help install run demo-drift serve bench test test-slow lint data example-saas cronline cron uncron clean reset

## help: list every target with its purpose
help:
	@sed -n 's/^## \([a-z-]*\): \(.*\)/\1\t\2/p' $(firstword $(MAKEFILE_LIST)) \
		| awk -F'\t' '{ printf "  make %-13s %s\n", $$1, $$2 }'

# The virtual environment, rebuilt when the requirements change.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## install: create .venv and install the pinned packages (run and test do it too)
install: $(STAMP)

## run: the main job on the shipped data (fullprocess.py); a second run finds nothing new
run: $(STAMP)
	$(PY) fullprocess.py
	@echo "Outputs: ingesteddata/ (finaldata.csv, ingestion_record.json, store.db, fullprocess.log)"
	@echo "         practicemodels/ (trainedmodel.pkl, scores.json, summary_report.pdf, risk_scores.csv)"
	@echo "         production_deployment/ (current -> versions/vNNNN)"
	@echo "Serve the API and dashboard: make serve  (http://$(HOST):$(PORT)/)"

## demo-drift: after make run, a drifted batch arrives (sourcedata/dataset3.csv) and fullprocess.py judges it
demo-drift: $(STAMP)
	cp sourcedata/dataset3.csv practicedata/dataset3.csv
	$(PY) fullprocess.py
	@echo "A drifted batch was judged: see the dashboard (make serve) and the report's first page"

## serve: the production server (gunicorn.conf.py, wsgi.py) on HOST:PORT (127.0.0.1:8000)
serve: $(STAMP)
	$(VENV)/bin/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WORKERS) wsgi:app

## bench: the model server's throughput under the production settings
bench: $(STAMP)
	$(PY) benchmarks/bench_server.py

## test: the test suite without the slow tests; skipped tests say why
test: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -rs -m "not slow" -n $(TEST_WORKERS) --dist loadfile

## test-slow: the slow tests (a fresh clone running the README's commands, ...)
test-slow: $(STAMP)
	$(PY) -m pytest -rs -m slow

## lint: check the code with ruff (style, imports, likely bugs)
lint: $(STAMP)
	$(VENV)/bin/ruff check .

## data: regenerate the shipped sample data (deterministic)
data: $(STAMP)
	$(PY) generate_data.py

## example-saas: write the SaaS example's data (examples/saas/); run it with its config.json
example-saas: $(STAMP)
	$(PY) generate_data.py --example saas
	@echo "Run it: $(PY) fullprocess.py --config examples/saas/config.json"

## cronline: print the cron line with this checkout's paths
cronline: $(STAMP)
	@$(PY) -m risk_assessment.pipeline.cron line

## cron: install (or replace) this checkout's cron line, then run it once as cron would
cron: $(STAMP)
	@command -v $(firstword $(CRONTAB)) >/dev/null || { echo "crontab not found: install cron first"; exit 1; }
	@$(PY) -m risk_assessment.pipeline.cron install --crontab '$(CRONTAB)'

## uncron: remove this checkout's cron line (other lines stay)
uncron: $(STAMP)
	@command -v $(firstword $(CRONTAB)) >/dev/null || { echo "crontab not found: nothing to remove"; exit 0; }
	@$(PY) -m risk_assessment.pipeline.cron remove --crontab '$(CRONTAB)'

## clean: remove what is rebuilt on demand (caches, reports); keeps data, models, history
clean:
	rm -rf .pytest_cache .ruff_cache __pycache__ */__pycache__
	rm -f $(foreach d,practicemodels models,$(addprefix $(d)/,$(REBUILDABLE)))

## reset: back to the shipped state: also deletes data, models, deployments, history, logs
reset: clean
	@if [ -x $(PY) ] && command -v $(firstword $(CRONTAB)) >/dev/null; then \
		$(PY) -m risk_assessment.pipeline.cron remove --crontab '$(CRONTAB)'; fi
	rm -rf $(GENERATED)
	rm -rf $(foreach e,$(wildcard examples/*),$(addprefix $(e)/,$(GENERATED) $(EXAMPLE_DATA)))
	@# the demo's copy (make demo-drift), only when it is still the shipped file
	@if cmp -s sourcedata/dataset3.csv practicedata/dataset3.csv; then rm practicedata/dataset3.csv; fi
