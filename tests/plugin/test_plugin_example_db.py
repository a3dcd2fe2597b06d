"""The pytest plugin's ``--cxpay-example-db``: as ``run --example-db``, a folder, a real Redis, or none."""

from __future__ import annotations

import pytest

from tests.redis_server import free_port

SMALL = ("--cxpay-max-examples", "2", "--cxpay-max-steps", "3", "--cxpay-seed", "1", "--cxpay-shards", "1",
         "--cxpay-phases", "sequential")


def test_the_shards_use_a_redis_example_database(pytester: pytest.Pytester, redis_url: str) -> None:
    result = pytester.runpytest("--cxpay", *SMALL, "--cxpay-example-db", redis_url)
    result.assert_outcomes(passed=1)


def test_a_redis_that_does_not_answer_fails_with_the_option_as_pytest_spells_it(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--cxpay", *SMALL, "--cxpay-example-db", f"redis://127.0.0.1:{free_port()}/0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*--cxpay-example-db redis://127.0.0.1:*Redis does not answer*"])


def test_none_turns_the_database_off(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--cxpay", *SMALL, "--cxpay-example-db", "none")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / ".hypothesis").exists()
