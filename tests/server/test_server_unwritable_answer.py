"""A change whose answer cannot be written is never kept, in either store: the service encodes
the answer before it commits, so a client that got a 500 finds everything as it was."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cxpay_conformance.server import ServerConfig
from cxpay_conformance.server.idempotency import Answer
from cxpay_conformance.server.memory_store import MemoryStore
from cxpay_conformance.server.service import Sandbox
from cxpay_conformance.server.sqlite_store import SQLiteStore
from cxpay_conformance.server.store import Store
from cxpay_conformance.server.transaction import Transaction

MERCHANT = "acct_merchant_a"


def _open(kind: str, tmp_path: Path) -> Store:
    return MemoryStore() if kind == "memory" else SQLiteStore(str(tmp_path / "s.sqlite3"))


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_change_whose_answer_cannot_be_written_is_not_kept(kind: str, tmp_path: Path) -> None:
    store = _open(kind, tmp_path)
    sandbox = Sandbox(ServerConfig(), store)

    def unwritable(tx: Transaction) -> Answer:
        tx.set_clock(tx.now + 1)  # a change the store could keep ...
        return Answer(200, {"now": 10**5000})  # ... and an answer JSON cannot hold

    async def scenario() -> int | None:
        await sandbox.see(MERCHANT)
        before = store.clock(MERCHANT)
        with pytest.raises(ValueError):
            await sandbox.write(MERCHANT, unwritable)
        assert store.clock(MERCHANT) == before
        return before

    try:
        before = asyncio.run(scenario())
    finally:
        store.close()
    if kind == "sqlite":  # and nothing of it reached the file either
        reopened = SQLiteStore(str(tmp_path / "s.sqlite3"))
        try:
            assert reopened.clock(MERCHANT) == before
        finally:
            reopened.close()
