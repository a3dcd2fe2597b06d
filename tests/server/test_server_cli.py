"""``cxpay-conformance serve``: options that cannot work end with one clear line on stderr and
exit code 2, never a traceback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cxpay_conformance.cli.serve import serve
from cxpay_conformance.server.sqlite_store import SQLiteStore


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(serve, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        yield taken.getsockname()[1]


def test_a_port_in_use_is_a_usage_error(busy_port: int) -> None:
    code, output = run("--port", str(busy_port))
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{busy_port}" in output and "--port" in output


def test_a_db_in_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    code, output = run("--db", str(tmp_path / "no" / "such" / "folder" / "s.sqlite3"))
    assert code == 2 and "cannot" in output and "sandbox database" in output


def test_a_db_that_is_not_sqlite_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 100)
    code, output = run("--db", str(path))
    assert code == 2 and "not a SQLite file" in output
    assert path.read_text().startswith("these are my notes")


def test_a_db_of_another_application_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE customers (id INTEGER)")
    code, output = run("--db", str(path))
    assert code == 2 and "another application" in output


def test_a_db_in_use_by_another_sandbox_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    holder = SQLiteStore(path)
    try:
        code, output = run("--db", path)
    finally:
        holder.close()
    assert code == 2 and "in use by another process" in output


def test_a_directory_is_not_a_db(tmp_path: Path) -> None:
    code, output = run("--db", str(tmp_path))
    assert code == 2 and "directory" in output


@pytest.mark.parametrize(
    "args",
    [
        ("--api-key", "has spaces in it"),
        ("--api-key", "short"),
        ("--webhook-max-attempts", "0"),
        ("--webhook-base-delay", "0"),
        ("--webhook-base-delay", "5", "--webhook-max-delay", "1"),
        ("--port", "70000"),
        ("--webhook-allow-host", "not a host"),
        ("--webhook-allow-host", "https://shop.example"),
        ("--public-url", "shop.example:8000"),
        ("--public-url", "https://shop.example/?x=1"),
    ],
)
def test_bad_options_are_usage_errors(args: tuple[str, ...]) -> None:
    code, output = run(*args)
    assert code == 2 and output.strip()
    assert "Traceback" not in output


def test_help_names_every_option() -> None:
    code, output = run("--help")
    assert code == 0
    options = ("--host", "--port", "--api-key", "--db", "--webhook-max-attempts", "--quiet")
    for option in (*options, "--webhook-allow-host", "--public-url"):
        assert option in output
