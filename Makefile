# mlprod-nb: two set-up commands, `make demo` and `make test`. Both create .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test env lint jstest browser-deps airflow-env bench clean

env: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Airflow 3 for the export test (tests/airflow) in a venv of its own: Airflow is not a
# dependency of mlprod-nb, and its DAG tasks call .venv's mlprod-nb by absolute path
AIRFLOW_VENV  := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed-stamp

airflow-env: $(AIRFLOW_STAMP)

$(AIRFLOW_STAMP):
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet "apache-airflow==3.3.*"
	touch $@

demo: env
	@bash notebooks/demo.sh

lint: env
	$(BIN)/ruff check mlprod_nb tests bench notebooks
	$(BIN)/ruff format --check mlprod_nb tests bench notebooks
	$(BIN)/mypy

# Debian's chromium for the browser tests (never a downloaded browser)
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# jest tests of the panel's model and service (node_modules come with the editable install)
jstest: env
	PATH="$(CURDIR)/$(BIN):$$PATH" jlpm install
	PATH="$(CURDIR)/$(BIN):$$PATH" jlpm test

test: env browser-deps airflow-env lint jstest
	$(BIN)/python -m pytest

# ipyflow, the tracer benchmark's peer, in a cached venv of its own (bench/bench_tracer.py)
IPYFLOW_VENV := .venv-ipyflow
IPYFLOW_STAMP := $(IPYFLOW_VENV)/.installed-stamp

$(IPYFLOW_STAMP):
	test -x $(IPYFLOW_VENV)/bin/python || $(PYTHON) -m venv $(IPYFLOW_VENV)
	$(IPYFLOW_VENV)/bin/python -m pip install --quiet ipyflow pandas
	touch $@

bench: env $(IPYFLOW_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(IPYFLOW_VENV) .venv-airflow .mlprod notebooks/.mlprod notebooks/build node_modules mlprod_nb/labextension
