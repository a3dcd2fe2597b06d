"""The server is an implementation, not a mirror of the spec (ARCHITECTURE.md, rule 2): it
imports nothing of cxpay_conformance outside ``server/`` and never opens spec files."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import cxpay_conformance.server

SERVER = Path(cxpay_conformance.server.__file__).parent
ALLOWED_THIRD_PARTY = {"starlette", "uvicorn", "httpx"}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_server_imports_only_itself_the_stdlib_and_its_web_stack() -> None:
    files = sorted(SERVER.glob("*.py"))
    assert len(files) > 10
    for path in files:
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top == "cxpay_conformance":
                assert module.startswith("cxpay_conformance.server"), (
                    f"{path.name} imports {module}"
                )
            else:
                allowed = top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY
                assert allowed or top == "__future__", f"{path.name} imports {module}"


def _opens_to_write_only(call: ast.Call) -> bool:
    """``open(..., "w")`` and the like: a file written (``serve --record``'s trace), never read."""
    modes = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    modes += [k.value.value for k in call.keywords
              if k.arg == "mode" and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)]
    return any(set(m) & set("wax") and not set(m) & set("r+") for m in modes)


def test_the_server_reads_no_files() -> None:
    """State lives in the store (sqlite3); nothing else is read, so no spec can sneak in. A
    file may be opened to write only (the trace of ``serve --record``)."""
    for path in SERVER.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name == "open" and _opens_to_write_only(node):
                    continue
                assert name not in {"open", "read_text", "read_bytes", "safe_load", "load_spec"}, (
                    f"{path.name}:{node.lineno} calls {name}"
                )
        assert "cxpay.yaml" not in path.read_text(encoding="utf-8"), path.name
