"""Which method calls change their receiver: a registry of data, open to users.

``classify(method, inplace)`` answers ``True`` (known to mutate), ``None`` (known
pure: not a mutation at all) or ``False`` (unknown: recorded as "may mutate").
Add names with ``register_mutating`` / ``register_pure`` (they bump ``generation``,
which tells the tracer that analyses it cached are out of date). The one analyser
(``analysis``) asks it for the tracer and the exporter alike: a registered method
counts for staleness and makes the step calling it produce its receiver.
"""

from __future__ import annotations

MUTATING: set[str] = {
    # list, dict, set, bytearray, deque
    "append",
    "appendleft",
    "extend",
    "extendleft",
    "insert",
    "pop",
    "popleft",
    "popitem",
    "remove",
    "reverse",
    "sort",
    "clear",
    "update",
    "setdefault",
    "add",
    "discard",
    "difference_update",
    "intersection_update",
    "symmetric_difference_update",
    "rotate",
    # numpy arrays
    "fill",
    "put",
    "itemset",
    "resize",
    "setflags",
    # estimators and models (scikit-learn, torch, ...)
    "fit",
    "partial_fit",
    "fit_transform",
    "fit_predict",
    "set_params",
    "set_output",
    "load_state_dict",
    "zero_grad",
    "train",
    "eval",
    "register_buffer",
    "register_parameter",
    "step",
    # pandas objects changed in place
    "__setitem__",
    "__delitem__",
    "set_axis_inplace",
}

PURE: set[str] = {
    # pandas / polars / numpy reductions and views that return new objects
    "head",
    "tail",
    "describe",
    "info",
    "copy",
    "clone",
    "to_numpy",
    "to_dict",
    "to_list",
    "tolist",
    "to_frame",
    "to_series",
    "to_pandas",
    "to_arrow",
    "to_csv",
    "to_parquet",
    "to_json",
    "to_pickle",
    "to_markdown",
    "to_string",
    "groupby",
    "group_by",
    "agg",
    "aggregate",
    "sum",
    "mean",
    "median",
    "min",
    "max",
    "std",
    "var",
    "count",
    "value_counts",
    "unique",
    "nunique",
    "quantile",
    "cumsum",
    "cumprod",
    "diff",
    "pct_change",
    "shift",
    "rolling",
    "expanding",
    "resample",
    "corr",
    "cov",
    "round",
    "abs",
    "clip",
    "any",
    "all",
    "argmax",
    "argmin",
    "idxmax",
    "idxmin",
    "nlargest",
    "nsmallest",
    "apply",
    "map",
    "transform",
    "pipe",
    "filter",
    "query",
    "select",
    "with_columns",
    "collect",
    "lazy",
    "merge",
    "join",
    "concat",
    "pivot",
    "pivot_table",
    "melt",
    "explode",
    "stack",
    "unstack",
    "sort_values",
    "sort_index",
    "reset_index",
    "set_index",
    "rename",
    "astype",
    "dropna",
    "fillna",
    "drop",
    "drop_duplicates",
    "duplicated",
    "isna",
    "isnull",
    "notna",
    "notnull",
    "isin",
    "between",
    "where",
    "mask",
    "sample",
    "equals",
    "iterrows",
    "itertuples",
    "items",
    "keys",
    "values",
    "get",
    "index",
    "reshape",
    "ravel",
    "flatten",
    "dot",
    "item",
    "numpy",
    "plot",
    "hist",
    "show",
    "savefig",
    # estimators used, not trained
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "score",
    "get_params",
    "get_feature_names_out",
    # DuckDB relations and connections
    "df",
    "fetchall",
    "fetchone",
    "fetchdf",
    "fetchnumpy",
    "arrow",
    "pl",
    # strings and misc
    "format",
    "split",
    "strip",
    "lower",
    "upper",
    "replace",
    "startswith",
    "endswith",
    "encode",
    "decode",
}


generation = 0  # changes whenever the registry does


def register_mutating(*names: str) -> None:
    """Treat ``obj.name(...)`` as changing ``obj`` (counts for staleness)."""
    MUTATING.update(names)
    PURE.difference_update(names)
    global generation
    generation += 1


def register_pure(*names: str) -> None:
    """Treat ``obj.name(...)`` as leaving ``obj`` unchanged (not recorded)."""
    PURE.update(names)
    MUTATING.difference_update(names)
    global generation
    generation += 1


def classify(method: str, inplace: bool) -> bool | None:
    """True: known mutation; None: known pure; False: unknown, may mutate."""
    if inplace or method in MUTATING:
        return True
    if method in PURE:
        return None
    return False
