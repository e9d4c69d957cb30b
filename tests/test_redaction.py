"""The secret-name rule (mlprod_nb/redaction.py): one table of secret and plain names."""

from __future__ import annotations

import pytest

from mlprod_nb.records import REDACTED, is_secret_name, redact
from mlprod_nb.redaction import redact_source

SECRET = [
    "password", "PASSWORD", "db_password", "dbPassword2", "passwd", "pwd", "userPwd",
    "pass", "db_pass", "dbPass", "passphrase", "gpg-passphrase", "token", "api_token",
    "accessToken", "authtoken", "secret", "client_secret", "secret_name", "api_key",
    "apikey", "APIKey", "key", "aws_secret_key", "private_key", "privateKey", "key2",
    "credential", "credentials", "gcp.credentials", "conn_str", "db_conn_str", "connstr",
    "connection_string", "connectionString", "dsn", "DB_DSN", "auth", "auth_header",
    "basic_auth", "HTTPAuth", "dbpassword",
]  # fmt: skip
PLAIN = [
    "keyboard", "monkey", "passenger", "author", "authors", "authority", "tokenizer",
    "max_tokens", "pass_rate", "bypass", "compass", "key_column", "sortKey", "sort_key",
    "join_key", "partition_key", "alpha", "learning_rate", "n_estimators", "connection",
    "conn_timeout", "string", "path", "", "_", "x1",
]  # fmt: skip


@pytest.mark.parametrize("name", SECRET)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", PLAIN)
def test_plain_names(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_keeps_plain_values() -> None:
    assert redact({"db_pass": "hunter2", "alpha": 0.5}) == {"db_pass": REDACTED, "alpha": 0.5}
    nested = {"db": {"host": "h", "password": "x", "opts": {"dsn": "y"}}, "n": [1]}
    assert redact(nested) == {
        "db": {"host": "h", "password": REDACTED, "opts": {"dsn": REDACTED}},
        "n": [1],
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('password = "hunter2"\nalpha = 0.5\n', "password = '<redacted>'\nalpha = 0.5\n"),
        ("db_pass: str = 'hunter2'", "db_pass: str = '<redacted>'"),
        ('cfg["api_key"] = f"k{x}"', "cfg[\"api_key\"] = '<redacted>'"),
        ('c = connect(host="h", token="t0k")', "c = connect(host=\"h\", token='<redacted>')"),
        ("log_param('db_pass', 'x1')", "log_param('db_pass', '<redacted>')"),
        ('d = {"secret": "s", "n": 1}', 'd = {"secret": \'<redacted>\', "n": 1}'),
        ('%time x = 1\npwd = "é-hunter2"  # é', "%time x = 1\npwd = '<redacted>'  # é"),
        ("password = None\ntoken = compute()\n", "password = None\ntoken = compute()\n"),
        ('author = "Ada"\nkeyboard = "us"', 'author = "Ada"\nkeyboard = "us"'),
    ],
)
def test_redact_source(source: str, expected: str) -> None:
    assert redact_source(source) == expected


def test_a_huge_source_is_redacted_by_lines_quickly() -> None:
    import time

    body = "x = {'a': [1, 2, 3]}\n" * 40_000  # over MAX_PARSED
    source = body + "db_pass = 'hunter2'\nflag: bool = True\npassword = None\n"
    started = time.perf_counter()
    out = redact_source(source)
    assert out == body + "db_pass = '<redacted>'\nflag: bool = True\npassword = None\n"
    assert time.perf_counter() - started < 2.0
