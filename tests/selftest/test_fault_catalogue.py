"""The fault catalogue is complete and documented: every fault has a description, a family the
suite has a check for (or a stated reason it cannot be caught), a switch in the server where
its entry says, and a line in docs/faults.md; unknown names are refused with exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cxpay_conformance import selftest
from cxpay_conformance.cli import main_group
from cxpay_conformance.selftest import NEEDS_PROFILE, chosen_faults, profile_for
from cxpay_conformance.server import KNOWN_FAULTS, ServerConfig
from cxpay_conformance.server.faults import FAULTS, Fault, injected
from cxpay_conformance.suite.checks import CHECKS

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "cxpay_conformance" / "server"

#: The check families the self-test must show catching a fault (every check of the suite).
FAMILIES = set(CHECKS)


def test_there_are_at_least_25_faults_and_the_config_knows_them_all() -> None:
    assert len(FAULTS) >= 25
    assert frozenset(FAULTS) == KNOWN_FAULTS


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_fault_is_described_and_has_a_family(name: str) -> None:
    fault = FAULTS[name]
    assert fault.name == name and re.fullmatch(r"[a-z0-9_]+", name)
    assert len(fault.description) > 30, "say what the fault breaks, in a sentence"
    if fault.blind_spot:
        assert len(fault.blind_spot) > 30, "say why the suite cannot catch it"
    else:
        assert fault.family in FAMILIES, f"{name}: {fault.family!r} is not a check of the suite"


def test_every_check_family_has_a_fault() -> None:
    covered = {fault.family for fault in FAULTS.values() if not fault.blind_spot}
    assert covered == FAMILIES, f"no fault for: {sorted(FAMILIES - covered)}"


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_fault_has_a_switch_where_its_entry_says(name: str) -> None:
    module = FAULTS[name].where.split(".")[0]
    source = (SERVER / f"{module}.py").read_text(encoding="utf-8")
    assert f'"{name}"' in source, f"no injected(..., {name!r}) in server/{module}.py"


def test_a_switch_for_a_fault_not_in_the_catalogue_raises() -> None:
    with pytest.raises(KeyError, match="not in the fault catalogue"):
        injected(frozenset(), "no_such_fault")


def test_faults_are_off_by_default() -> None:
    assert ServerConfig().faults == frozenset()


def test_every_fault_is_run_by_default_the_races_included() -> None:
    # The races were blind spots until the suite's concurrent phase (issue 11) could see them.
    run, left_out = chosen_faults(())
    assert [f.name for f in run] == list(FAULTS) and left_out == []
    races = {f.name for f in run if f.family == "linearizability"}
    assert {"no_lock_in_pay", "idempotency_insert_after_work", "expire_and_network_both_apply",
            "double_cancel_voids_twice"} <= races


def test_a_blind_spot_is_left_out_of_the_default_selftest_but_named(monkeypatch: pytest.MonkeyPatch) -> None:
    unseen = Fault("unseen_race", "linearizability", "a fault no check of the suite can see, by design",
                   "app.Api.pay", blind_spot="the suite sends nothing that could show it, by design")
    monkeypatch.setattr(selftest, "FAULTS", {**FAULTS, unseen.name: unseen})
    run, left_out = chosen_faults(())
    assert left_out == [unseen] and [f.name for f in run] == list(FAULTS)
    assert chosen_faults(("unseen_race",)) == ([unseen], [])  # named explicitly, it runs (and is missed)


def test_docs_list_every_fault_with_its_family() -> None:
    text = (ROOT / "docs" / "faults.md").read_text(encoding="utf-8")
    assert "## Fault catalogue" in text
    catalogue = text.split("## Fault catalogue", 1)[1]
    for fault in FAULTS.values():
        row = next((line for line in catalogue.splitlines() if f"`{fault.name}`" in line), None)
        assert row is not None, f"docs/faults.md does not list {fault.name}"
        assert fault.family in row, f"docs/faults.md does not say {fault.name} is caught by {fault.family}"


def test_serve_lists_the_faults() -> None:
    result = CliRunner().invoke(main_group, ["serve", "--list-faults"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for fault in FAULTS.values():
        line = next(line for line in lines if line.startswith(fault.name + " "))
        assert fault.family in line and fault.description[:40] in line


@pytest.mark.parametrize("command", [["serve"], ["selftest", "--no-clean-run"]])
def test_an_unknown_fault_is_a_usage_error(command: list[str]) -> None:
    result = CliRunner().invoke(main_group, [*command, "--fault", "session_not_complete"])
    assert result.exit_code == 2, result.output
    assert "unknown fault 'session_not_complete'" in result.output
    assert "did you mean 'session_not_completed'" in result.output
    assert "--list-faults" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_fault_in_the_config_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault 'bogus'"):
        ServerConfig(faults=frozenset({"bogus"}))


def test_faults_that_need_a_stronger_profile_say_why_and_get_it() -> None:
    for name, (profile, reason) in NEEDS_PROFILE.items():
        assert name in FAULTS and len(reason) > 30
        assert profile_for(name, "quick") == profile_for(name, "ci") == profile
        assert profile_for(name, "thorough") == "thorough"
    assert profile_for("session_not_completed", "ci") == "ci"
    assert profile_for("", "quick") == "quick"
