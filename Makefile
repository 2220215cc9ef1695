# Two commands do everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint data clean cron cronline serve bench

# The virtual environment, rebuilt when the requirements change.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## run: the main job on the shipped data (config.json): fullprocess.py ingests new data,
## checks drift, trains, scores, deploys and reports; a second run finds nothing new
run: $(STAMP)
	$(PY) fullprocess.py
	@echo "Outputs: ingesteddata/ (finaldata.csv, ingestion_record.json, runs.db, fullprocess.log)"
	@echo "         practicemodels/ (trainedmodel.pkl, scores.json, summary_report.pdf, risk_scores.csv)"
	@echo "         production_deployment/ (current -> versions/vNNNN)"
	@echo "Serve the API and dashboard: $(PY) app.py  (http://127.0.0.1:8000/)"

## test: the test suite, without the slow tests
test: $(STAMP)
	$(PY) -m pytest -m "not slow"

## test-slow: the slow tests (schemathesis fuzzing of the API, > 10 s each)
test-slow: $(STAMP)
	$(PY) -m pytest -m slow

## serve: the production server (gunicorn.conf.py) on 127.0.0.1:8000
serve: $(STAMP)
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

## bench: the model server's throughput under the production settings
bench: $(STAMP)
	$(PY) benchmarks/bench_server.py

## lint: ruff
lint: $(STAMP)
	$(VENV)/bin/ruff check .

## data: regenerate the shipped sample data (deterministic)
data: $(STAMP)
	$(PY) generate_data.py

## cronline: print the cron line of cronjob.txt with this checkout's paths
cronline:
	@grep -v '^#' cronjob.txt | sed 's#/opt/dynamic-risk-assessment#$(CURDIR)#g'

## cron: install that line in the user's crontab (replacing an older fullprocess line)
cron: $(STAMP)
	@command -v crontab >/dev/null || { echo "crontab not found: install cron first"; exit 1; }
	mkdir -p logs
	( crontab -l 2>/dev/null | grep -v 'fullprocess.py' ; $(MAKE) -s cronline ) | crontab -
	@echo "installed:"; crontab -l | grep fullprocess.py

## clean: remove generated artifacts (keeps the virtual environment)
clean:
	rm -rf ingesteddata practicemodels models production_deployment .pytest_cache
