#!/usr/bin/env bash
# `make demo`: trace the example notebook headlessly and show what was recorded.
set -euo pipefail
cd "$(dirname "$0")"
BIN=../.venv/bin
echo "== tracing notebooks/churn.ipynb (headless, tracer on) =="
$BIN/mlprod-nb trace churn.ipynb
echo
echo "== lineage =="
$BIN/mlprod-nb lineage churn.ipynb
echo
echo "== stale cells =="
$BIN/mlprod-nb stale churn.ipynb
