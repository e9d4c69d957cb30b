#!/usr/bin/env bash
# `make demo`: the main job end to end on the example's embedded defaults.
#   1. trace notebooks/churn.ipynb headlessly (tracer on) and show its lineage;
#   2. export its tagged cells into a papermill pipeline, verified against Run All;
#   3. run it twice with different parameters, then once unchanged (all from cache);
#   4. show the runs table.
set -euo pipefail
cd "$(dirname "$0")"
BIN=../.venv/bin
say() { printf '\n== %s ==\n' "$*"; }

say "trace churn.ipynb (headless, tracer on)"
$BIN/mlprod-nb trace churn.ipynb
say "lineage of churn.ipynb"
$BIN/mlprod-nb lineage churn.ipynb
say "stale cells"
$BIN/mlprod-nb stale churn.ipynb

say "export churn.ipynb into a pipeline, and verify it computes what Run All computes"
$BIN/mlprod-nb export churn.ipynb --verify
say "run 1: n_estimators=40"
$BIN/mlprod-nb run churn.pipeline -p n_estimators 40
say "run 2: n_estimators=80 max_depth=6"
$BIN/mlprod-nb run churn.pipeline -p n_estimators 80 -p max_depth 6
say "run 3: the same parameters again (every step from the cache)"
$BIN/mlprod-nb run churn.pipeline -p n_estimators 80 -p max_depth 6
say "runs of churn.pipeline"
$BIN/mlprod-nb runs churn.pipeline
