"""The store that survives restarts: every unit of work is one SQLite transaction.

SQLite is the truth and a :class:`~.memory_store.MemoryStore` its read model: at start the file
is read into memory, and each commit writes the file first (``BEGIN IMMEDIATE`` ... ``COMMIT``,
WAL journal, ``synchronous=FULL`` so the commit is on disk before the answer leaves) and only
then makes the writes visible. An answer is sent only after its commit, so ``kill -9`` loses no
acknowledged write. The file is opened in exclusive locking mode: one sandbox per file. Records
are kept as JSON text, which holds integers of any size.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cxpay_conformance.server.events import Event
from cxpay_conformance.server.idempotency import IdempotencyRecord
from cxpay_conformance.server.memory_store import MemoryStore
from cxpay_conformance.server.objects import Charge, CheckoutSession, PaymentIntent
from cxpay_conformance.server.store import StoreError, UnitOfWork
from cxpay_conformance.server.webhook_endpoints import Delivery, DeliveryState, WebhookEndpoint

_APPLICATION = "cxpay-sandbox"
_SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clocks (merchant TEXT PRIMARY KEY, now TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_state ON deliveries (state);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    merchant TEXT NOT NULL,
    key TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (merchant, key)
);
"""

_UPSERT_OBJECT = (
    "INSERT INTO objects (id, kind, record) VALUES (?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET record = excluded.record"
)


def _dump(record: Any) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True)


class SQLiteStore(MemoryStore):
    """A :class:`~.store.Store` in a SQLite file, read into memory at start."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path
        self._lock = threading.Lock()
        try:
            # check_same_thread=False: commits run in a worker thread, one at a time (_lock).
            self._db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=0.5
            )
        except sqlite3.Error as exc:
            raise StoreError(self._explain(exc)) from exc
        try:
            self._db.execute("PRAGMA locking_mode = EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            with self._transaction() as db:
                self._check_application(db)
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES ('application', ?), "
                    "('schema_version', ?)",
                    (_APPLICATION, _SCHEMA_VERSION),
                )
            self.apply(self._load())
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(self._explain(exc)) from exc
        except StoreError:
            self._db.close()
            raise

    def _explain(self, exc: sqlite3.Error) -> str:
        text = str(exc)
        if "locked" in text:
            return (
                f"the sandbox database {self._path} is in use by another process "
                "(one sandbox per file); stop it or choose another --db file"
            )
        if "not a database" in text:
            return f"{self._path} is not a SQLite file; choose a new file name for --db"
        if "unable to open" in text or "readonly" in text:
            return (
                f"cannot open the sandbox database {self._path} ({text}); check that its folder "
                "exists and that you may write there"
            )
        return f"cannot use {self._path} as the sandbox database: {text}"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _check_application(self, db: sqlite3.Connection) -> None:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return
        row = None
        if "meta" in tables:
            row = db.execute("SELECT value FROM meta WHERE name = 'application'").fetchone()
        if row is None or row[0] != _APPLICATION:
            raise StoreError(
                f"{self._path} is a SQLite file of another application; choose a new file "
                "name for --db"
            )

    def _load(self) -> UnitOfWork:
        db = self._db
        work = UnitOfWork()
        for merchant, now in db.execute("SELECT merchant, now FROM clocks"):
            work.clocks[merchant] = json.loads(now)
        for kind, text in db.execute("SELECT kind, record FROM objects ORDER BY seq"):
            record = json.loads(text)
            if kind == "checkout_session":
                work.sessions[record["id"]] = CheckoutSession.from_record(record)
            elif kind == "payment_intent":
                work.intents[record["id"]] = PaymentIntent.from_record(record)
            else:
                work.charges[record["id"]] = Charge.from_record(record)
        for (text,) in db.execute("SELECT record FROM events ORDER BY seq"):
            work.events.append(Event.from_record(json.loads(text)))
        for (text,) in db.execute("SELECT record FROM webhook_endpoints ORDER BY seq"):
            endpoint = WebhookEndpoint.from_record(json.loads(text))
            work.endpoints[endpoint.id] = endpoint
        pending = db.execute(
            "SELECT record FROM deliveries WHERE state = ? ORDER BY seq",
            (DeliveryState.PENDING.value,),
        )
        for (text,) in pending:
            delivery = Delivery.from_record(json.loads(text))
            work.deliveries[delivery.id] = delivery
        for (text,) in db.execute("SELECT record FROM idempotency_keys"):
            remembered = IdempotencyRecord.from_record(json.loads(text))
            work.idempotency.append(remembered)
        return work

    async def commit(self, work: UnitOfWork) -> None:
        if work.is_empty():
            return
        # Durable first, in a worker thread so that the event loop serves others meanwhile;
        # visible second, so that no reader sees what a crash could still take back.
        await asyncio.to_thread(self._write, work)
        self.apply(work)

    def _write(self, work: UnitOfWork) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO clocks (merchant, now) VALUES (?, ?) "
                "ON CONFLICT (merchant) DO UPDATE SET now = excluded.now",
                [(merchant, _dump(now)) for merchant, now in work.clocks.items()],
            )
            objects: list[tuple[str, str, str]] = []
            objects += [
                (s.id, "checkout_session", _dump(s.to_record())) for s in work.sessions.values()
            ]
            objects += [
                (i.id, "payment_intent", _dump(i.to_record())) for i in work.intents.values()
            ]
            objects += [(c.id, "charge", _dump(c.to_record())) for c in work.charges.values()]
            db.executemany(_UPSERT_OBJECT, objects)
            db.executemany(
                "INSERT INTO events (id, merchant, record) VALUES (?, ?, ?)",
                [(e.id, e.merchant, _dump(e.to_record())) for e in work.events],
            )
            db.executemany(
                "INSERT INTO webhook_endpoints (id, record) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                [(e.id, _dump(e.to_record())) for e in work.endpoints.values()],
            )
            db.executemany(
                "INSERT INTO deliveries (id, state, record) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET state = excluded.state, record = excluded.record",
                [(d.id, d.state.value, _dump(d.to_record())) for d in work.deliveries.values()],
            )
            db.executemany(
                "INSERT INTO idempotency_keys (merchant, key, record) VALUES (?, ?, ?) "
                "ON CONFLICT (merchant, key) DO UPDATE SET record = excluded.record",
                [(r.merchant, r.key, _dump(r.to_record())) for r in work.idempotency],
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
