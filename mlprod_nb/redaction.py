"""Which names hold secrets, and how their values are hidden wherever the tool writes.

One rule, used everywhere (``log_param``, the runner's records and run folder, the
executed step notebooks, the store's answers, the tracer's recorded cell source).
A name is split into word parts on ``_``, ``-``, ``.``, spaces, camelCase
boundaries and digits (``dbPass2`` -> ``db``, ``pass``; ``APIKey`` -> ``api``,
``key``), compared case-insensitively. It is secret when

- a part is ``password``/``passwords``, ``passwd``, ``pwd``, ``passphrase``,
  ``secret``/``secrets``, ``credential``/``credentials``, ``apikey``, ``dsn``,
  ``auth`` or ``connstr``/``connectionstring``, anywhere (``auth_header``,
  ``basic_auth``, ``secret_name``); or ``conn`` then ``str``, or ``connection`` then
  ``string``, next to each other (``db_conn_str``);
- a part ends with ``password``, ``passwd``, ``passphrase``, ``pwd``, ``token``,
  ``secret``, ``apikey``, ``privatekey`` or ``credentials`` (``dbpassword``,
  ``accesstoken``);
- the *last* part is ``pass``, ``token`` or ``key`` (``db_pass``, ``api_token``,
  ``api_key``, ``aws_secret_key``, ``private_key``), except a key that names a
  column or a lookup (``sort_key``, ``join_key``, ``partition_key``, ...).

Not secret: ``keyboard``, ``monkey``, ``passenger``, ``author``, ``tokenizer``,
``max_tokens``, ``pass_rate``, ``key_column``, ``sortKey``, ``bypass``. The
table in tests/test_redaction.py lists both kinds.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from typing import Any

REDACTED = "<redacted>"

_CHUNK = re.compile(r"[^A-Za-z0-9]+")
_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_ANYWHERE = frozenset(
    {
        "password",
        "passwords",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "credential",
        "credentials",
        "apikey",
        "dsn",
        "auth",
        "connstr",
        "connectionstring",
    }
)
_ENDS = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "token",
    "secret",
    "apikey",
    "privatekey",
    "credentials",
)
_LAST = frozenset({"pass", "token", "key"})
_PAIRS = frozenset({("conn", "str"), ("connection", "string")})
_DATA_KEYS = frozenset(
    {"sort", "join", "group", "partition", "primary", "foreign", "index", "merge", "lookup"}
    | {"shard", "cache", "row", "column", "col", "dict", "map", "dedup", "groupby"}
)
# a quick test a source must pass before it is parsed for secret assignments, and a
# word before the rule is asked: every secret name holds one of these. Searched in
# lower-cased text (a case-insensitive search of the same text takes ~20x longer).
_MAYBE = re.compile(r"pass|pwd|token|secret|key|credential|dsn|auth|conn")
_VERDICTS = 4096  # names whose verdict is kept: cells name the same names again
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_PARSED = 256 * 1024  # larger sources: only `name = value` lines, by a regex
_ASSIGNMENT = re.compile(
    r"^(?P<head>[ \t]*(?P<name>[A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*)(?P<value>\S[^\n]*)$",
    re.M,
)


def words(name: str) -> list[str]:
    """The lower-case word parts of ``name`` (digits dropped)."""
    found: list[str] = []
    for chunk in _CHUNK.split(name):
        found += [p.lower() for p in _PART.findall(chunk) if not p.isdigit()]
    return found


@functools.lru_cache(maxsize=_VERDICTS)
def is_secret_name(name: str) -> bool:
    """Whether values named ``name`` are secrets (the rule in this module's docstring)."""
    parts = words(name)
    if not parts:
        return False
    if any(p in _ANYWHERE or p.endswith(_ENDS) for p in parts):
        return True
    if any(pair in _PAIRS for pair in itertools.pairwise(parts)):
        return True
    last = parts[-1]
    if last not in _LAST:
        return False
    return not (last == "key" and len(parts) > 1 and parts[-2] in _DATA_KEYS)


def redact(params: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``params`` with secret-named values replaced by ``REDACTED``, also in
    nested mappings (``{"db": {"password": ...}}``)."""
    return {k: (REDACTED if is_secret_name(k) else scrub(v)) for k, v in params.items()}


def scrub(value: Any) -> Any:
    """``value`` with the values of secret-named keys of nested dicts redacted."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_name(k) else scrub(v))
            for k, v in value.items()
        }
    return value


def redact_source(source: str) -> str:
    """``source`` with literals given to secret names replaced by ``'<redacted>'``.

    Covers ``password = "..."`` (also annotated, and ``cfg.password``/``cfg["password"]``
    targets), keyword arguments (``connect(password="...")``), a literal argument right
    after a secret name (``log_param("db_pass", "...")``) and dict entries
    (``{"password": "..."}``). A cell that does not parse (IPython magics) is
    redacted line by line, for the lines that parse on their own.
    """
    if not _maybe(source) or not _mentions_secret(source):
        return source
    if len(source) > MAX_PARSED:  # parsing megabytes would stall the kernel
        return _ASSIGNMENT.sub(_assignment, source)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return "".join(_redact_parsed(line) for line in source.splitlines(keepends=True))
    return _apply(source, _spans(tree))


def _maybe(text: str) -> bool:
    return _MAYBE.search(text.lower()) is not None


def _mentions_secret(source: str) -> bool:
    return any(_maybe(word) and is_secret_name(word) for word in set(_IDENT.findall(source)))


def _assignment(match: re.Match[str]) -> str:
    if not is_secret_name(match["name"]) or match["value"] in ("None", "True", "False"):
        return match[0]
    return match["head"] + repr(REDACTED)


def _redact_parsed(line: str) -> str:
    stripped = line.lstrip()
    if not _maybe(line):
        return line
    try:
        tree = ast.parse(stripped)
    except (SyntaxError, ValueError):
        return line
    indent = len(line) - len(stripped)
    return line[:indent] + _apply(stripped, _spans(tree))


def _target_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        key = node.slice.value
        return key if isinstance(key, str) else None
    return None


def _literal(node: ast.expr | None) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is not None and not isinstance(node.value, bool)
    return isinstance(node, ast.JoinedStr)


def _spans(tree: ast.AST) -> list[ast.expr]:
    """The literal value nodes given to secret names."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        pairs: list[tuple[str | None, ast.expr | None]] = []
        if isinstance(node, ast.Assign):
            pairs = [(_target_name(t), node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            pairs = [(_target_name(node.target), node.value)]
        elif isinstance(node, ast.keyword):
            pairs = [(node.arg, node.value)]
        elif isinstance(node, ast.Call):  # log_param("db_pass", "..."), environ.setdefault
            pairs = [
                (k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None, v)
                for k, v in itertools.pairwise(node.args)
            ]
        elif isinstance(node, ast.Dict):
            pairs = [
                (k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None, v)
                for k, v in zip(node.keys, node.values, strict=True)
            ]
        for name, value in pairs:
            if name is not None and value is not None and _literal(value) and is_secret_name(name):
                found.append(value)
    return found


def _apply(source: str, nodes: list[ast.expr]) -> str:
    if not nodes:
        return source
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:  # ast columns count UTF-8 bytes
        line = lines[lineno - 1]
        return starts[lineno - 1] + len(line.encode()[:col].decode(errors="ignore"))

    spans = sorted(
        (offset(n.lineno, n.col_offset), offset(n.end_lineno or n.lineno, n.end_col_offset or 0))
        for n in nodes
    )
    out, at = [], 0
    for begin, end in spans:
        if begin < at:
            continue
        out += [source[at:begin], repr(REDACTED)]
        at = end
    out.append(source[at:])
    return "".join(out)
