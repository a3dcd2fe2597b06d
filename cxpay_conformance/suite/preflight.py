"""Check a run's configuration before it starts, so that a mistake is a usage error in seconds,
not a failure blamed on the implementation after minutes.

:func:`check_options` looks at everything that needs no implementation: the profile, the base
URL, the check names, the paths the reports will be written to, and the spec.
:func:`check_keys` sends one authenticated request per API key: a key the implementation
refuses (401) is a misconfigured secret, not a conformance failure. :func:`preflight` does
both; :func:`~cxpay_conformance.suite.runner.run_suite` runs it unless a front end did, earlier,
to report a mistake before it starts anything. Every problem is a
:class:`~cxpay_conformance.errors.UsageError` (exit 2) naming the option; a spec that cannot be
loaded is a :class:`~cxpay_conformance.errors.SpecError`; an implementation that does not
answer stays :class:`~cxpay_conformance.errors.ImplementationUnreachable` (exit 3).
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from cxpay_conformance.errors import UsageError
from cxpay_conformance.spec import Spec, load_spec
from cxpay_conformance.suite import checks, example_db
from cxpay_conformance.suite.adapter import USE_DEFAULT_KEY, Adapter, _UseDefaultKey
from cxpay_conformance.suite.config import PHASES, PROFILES, SuiteConfig
from cxpay_conformance.suite.http_adapter import HttpAdapter
from cxpay_conformance.suite.openapi import OpenAPIContract


@dataclass(frozen=True)
class Checked:
    """What a configuration that passed :func:`preflight` names, loaded once for the run."""

    spec: Spec
    contract: OpenAPIContract
    selected: frozenset[str]
    #: Seconds the fastest preflight request took (connection made, so about one round trip to
    #: the implementation plus its own time); None where no request was sent. What a front end
    #: may scale its parallelism by: a remote endpoint waits, a loopback one does not.
    round_trip: float | None = None


def preflight(
    config: SuiteConfig,
    *,
    adapter: Adapter | None = None,
    files: Mapping[str, str | None] | None = None,
    folders: Mapping[str, str | None] | None = None,
) -> Checked:
    """Check ``config`` (:func:`check_options`), then its keys against the implementation
    (:func:`check_keys`, through ``adapter`` or a short-lived HTTP one).

    >>> checked = preflight(SuiteConfig(base_url="http://127.0.0.1:8000", api_key="sk_test_..."))
    >>> result = run_suite(config, checked=checked)
    """
    checked = check_options(config, files=files, folders=folders)
    example_db.check_reachable(config.database, _spelling(config)("example-db"))
    if adapter is not None and "event_list" in checked.selected and not _takes_query(adapter):
        raise UsageError(f"the adapter's perform() takes no `query` (the limit and starting_after of "
                         f"GET /events, which the event_list check pages through): add `query=None` to it "
                         f"and pass it on, or skip that check ({_spelling(config)('skip-checks')} event_list)")
    own = adapter is None
    used = adapter_for(config, checked.contract) if adapter is None else adapter
    try:
        round_trip = check_keys(config, checked.contract, used)
    finally:
        if own:
            used.close()
    return replace(checked, round_trip=round_trip)


def check_options(
    config: SuiteConfig,
    *,
    files: Mapping[str, str | None] | None = None,
    folders: Mapping[str, str | None] | None = None,
) -> Checked:
    """Everything about ``config`` that can be checked without the implementation, every problem
    at once; ``files`` and ``folders`` name the report paths a front end will write (option ->
    path; ``None`` or ``-`` for none).

    >>> check_options(SuiteConfig(base_url="localhost:8000", api_key="k"), files={"--junit-xml": "no/junit.xml"})
    Traceback (most recent call last):
    UsageError: 2 problems with the options; fix them all before running:
      --base-url 'localhost:8000' is not an http:// or https:// URL; did you mean http://localhost:8000?
      --junit-xml no/junit.xml: the folder no does not exist; create it first, or give another path
    """
    option = _spelling(config)
    problems: list[str] = []
    if config.profile not in PROFILES:
        problems.append(f"unknown profile {config.profile!r}; use one of: {', '.join(PROFILES)}")
    if config.base_url is not None:
        problems += _url_problems(config.base_url, option("base-url"))
        if not config.embedded and not config.api_key:
            problems.append(f"{option('base-url')} needs {option('api-key')} (or CXPAY_API_KEY): "
                            "the key of the merchant to test as")
    unknown = [p for p in config.phases if p not in PHASES]
    if unknown or not config.phases:
        problems.append(f"{option('phases')}: unknown phase {', '.join(map(repr, unknown)) or '(none given)'}; "
                        f"use one or more of: {', '.join(PHASES)}")
    selected: frozenset[str] = frozenset()
    try:
        selected = checks.select(config.checks, config.skip_checks)
    except UsageError as exc:
        problems.append(str(exc))
    problems += example_db.problems(config.database, option("example-db"))
    if config.shrink_budget is not None and not config.shrink_budget > 0:
        problems.append(f"{option('shrink-budget')} {config.shrink_budget:g}: give more than 0 seconds")
    for name, path in (files or {}).items():
        if path and path != "-":
            problems += _file_problems(name, path)
    for name, path in (folders or {}).items():
        if path:
            problems += _folder_problems(name, path)
    if len(problems) == 1:
        raise UsageError(problems[0])
    if problems:
        raise UsageError(f"{len(problems)} problems with the options; fix them all before running:\n"
                         + "\n".join(f"  {p}" for p in problems))
    spec = load_spec(config.spec_path)
    return Checked(spec, OpenAPIContract.load(spec.openapi_path), selected)


def _takes_query(adapter: Adapter) -> bool:
    """Whether ``adapter.perform`` accepts ``query`` (by name, or with ``**kwargs``)."""
    try:
        parameters = inspect.signature(adapter.perform).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a C callable): let it try
        return True
    return any(p.name == "query" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def check_keys(config: SuiteConfig, contract: OpenAPIContract, adapter: Adapter) -> float | None:
    """One authenticated request per API key: a 401 means the key is not one of the
    implementation's merchants'. The second key must also differ from the first (whether two
    different keys belong to one merchant is the tenant isolation check's to find: from outside,
    it looks the same as an implementation that does not keep merchants apart).
    Answers the seconds the fastest request took (about one round trip; with one key, the
    request is sent twice, the first one making the connection).

    >>> check_keys(SuiteConfig(base_url=url, api_key="sk_test_wrong"), contract, adapter)
    Traceback (most recent call last):
    UsageError: the key given by --api-key (or CXPAY_API_KEY) was refused by http://...: ...
    """
    option = _spelling(config)
    where = config.base_url or "the implementation"
    operation_id, object_id = _probe(contract)
    problems: list[str] = []
    keys: list[tuple[str, str, str | _UseDefaultKey]] = [(option("api-key"), "CXPAY_API_KEY", USE_DEFAULT_KEY)]
    if config.second_api_key and config.second_api_key == config.api_key:
        problems.append(f"{option('second-api-key')} (or CXPAY_SECOND_API_KEY) is the same key as "
                        f"{option('api-key')}: give another merchant's key, to check that merchants "
                        "cannot see each other's objects, or none")
    elif config.second_api_key:
        keys.append((option("second-api-key"), "CXPAY_SECOND_API_KEY", config.second_api_key))
    took: list[float] = []
    for name, variable, key in keys:
        exchange = adapter.perform(operation_id, object_id, api_key=key)
        took.append(exchange.elapsed)
        if exchange.status == 401:
            problems.append(
                f"the key given by {name} (or {variable}) was refused by {where} "
                f"({exchange.method} {exchange.path} answered 401 {exchange.error_code or ''}".rstrip()
                + "): check the secret; it must be the secret key of one of this implementation's merchants")
    if problems:
        raise UsageError("\n".join(problems))
    if len(took) == 1:
        took.append(adapter.perform(operation_id, object_id).elapsed)
    return min(took) if took else None


def adapter_for(config: SuiteConfig, contract: OpenAPIContract) -> HttpAdapter:
    """The HTTP adapter to ``config.base_url`` with ``config.api_key`` (the second key labelled,
    for the story)."""
    if not config.base_url or not config.api_key:
        option = _spelling(config)
        raise UsageError(f"give {option('base-url')} and {option('api-key')}, or neither to test "
                         "the embedded reference server")
    labels = {config.second_api_key: "second merchant"} if config.second_api_key else {}
    return HttpAdapter(config.base_url, config.api_key, contract, timeout=config.request_timeout,
                       key_labels=labels)


def _spelling(config: SuiteConfig) -> Callable[[str], str]:
    """How the front end spells an option: ``--api-key`` on the command line, ``--cxpay-api-key``
    in pytest."""
    return lambda name: f"--{config.option_prefix}{name}"


def _probe(contract: OpenAPIContract) -> tuple[str, str | None]:
    """The cheapest authenticated request the contract has: a GET of a list (no id), else a GET of
    an id that was never made (authentication is checked before existence)."""
    gets = [op for op in contract.operations.values() if op.method == "GET"]
    for operation in gets:
        if "{" not in operation.path:
            return operation.operation_id, None
    if gets:
        return gets[0].operation_id, "cxpay_preflight_" + "0" * 16
    raise UsageError(f"the contract {contract.path} has no GET operation to check the API keys with")


def _url_problems(url: str, option: str) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        fixed = f"http://{url.strip()}" if "://" not in url and url.strip() else ""
        return [f"{option} {url!r} is not an http:// or https:// URL"
                + (f"; did you mean {fixed}?" if fixed else "; give one such as http://127.0.0.1:8000")]
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        return [f"{option} {url!r} has a port that is not a number from 0 to 65535"]
    return []


def _file_problems(option: str, path: str) -> list[str]:
    """Why a report file at ``path`` could not be written, if it could not."""
    target = Path(path)
    if target.is_dir():
        return [f"{option} {path}: is a folder; give the path of a file to write"]
    folder = target.parent
    if not folder.exists():
        return [f"{option} {path}: the folder {folder} does not exist; create it first, or give another path"]
    if not folder.is_dir():
        return [f"{option} {path}: {folder} is not a folder"]
    try:
        if target.exists():
            with target.open("a", encoding="utf-8"):  # appending nothing: the file is unchanged
                pass
        else:
            with tempfile.TemporaryFile(dir=folder):
                pass
    except OSError as exc:
        return [f"{option} {path}: cannot be written ({exc.strerror or exc}); give another path"]
    return []


def _folder_problems(option: str, path: str) -> list[str]:
    """Why a report folder at ``path`` could not be made and written in, if it could not."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        return [f"{option} {path}: is a file, not a folder; give the path of a folder"]
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return [f"{option} {path}: {existing} is a file, so the folder cannot be made; give another path"]
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return [f"{option} {path}: cannot write in {existing} ({exc.strerror or exc}); give another path"]
    return []
