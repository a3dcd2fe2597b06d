"""The one rule that splits a run into shares: which batches share k of N runs.

A run is a list of batches, each a seeded Hypothesis run of its own: the sequential examples in
batches of :data:`BATCH`, the concurrent phase's test cases in batches of :data:`RACE_BATCH`.
Batch ``b`` (counted separately for each phase) belongs to share ``k`` of ``N`` when
``b % N == k``, and a batch's seed depends only on the run's seed and ``b``. So the shares of one
seed together run exactly the batches of the whole run, whatever ``N`` is, and a share of a
share is a share: ``run --workers W`` (W processes on one machine), ``run --shard i/N`` (N CI
jobs) and the pytest plugin's shard items all split by this rule, and compose (shard ``i/N`` run
with ``W`` workers: worker ``j`` runs share ``(i - 1) + N * j`` of ``N * W``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from cxpay_conformance.errors import UsageError

#: Examples per Hypothesis run of the sequential phase.
BATCH = 10
#: Test cases per Hypothesis run of the concurrent phase.
RACE_BATCH = 10


@dataclass(frozen=True)
class Batch:
    """One seeded Hypothesis run: its index among the phase's batches, its seed, its size."""

    index: int
    seed: int
    size: int


def batch_seed(seed: int, index: int, phase: str = "sequential") -> int:
    """The seed of batch ``index`` of a run seeded ``seed``; the first batch has the run's seed,
    so that ``--seed S --max-examples 10`` replays it."""
    if index == 0:
        return seed
    salt = "" if phase == "sequential" else "races:"
    return random.Random(f"{seed}:{salt}{index}").randrange(2**32)


def batches(seed: int, total: int, size: int, phase: str = "sequential") -> list[Batch]:
    """Every batch of a phase of ``total`` examples, in order."""
    return [Batch(i, batch_seed(seed, i, phase), min(size, total - start))
            for i, start in enumerate(range(0, total, size))]


@dataclass(frozen=True)
class Share:
    """Share ``index`` (from 0) of ``count``; ``Share()`` is the whole run."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"no share {self.index + 1} of {self.count}")

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"

    @property
    def whole(self) -> bool:
        return self.count == 1

    def takes(self, batch: Batch) -> bool:
        return batch.index % self.count == self.index

    def sequential(self, seed: int, total: int) -> list[Batch]:
        """The sequential batches this share runs, of a run of ``total`` examples."""
        return [b for b in batches(seed, total, BATCH) if self.takes(b)]

    def races(self, seed: int, total: int) -> list[Batch]:
        """The concurrent phase's batches this share runs, of a run of ``total`` test cases."""
        return [b for b in batches(seed, total, RACE_BATCH, "concurrent") if self.takes(b)]

    def split(self, workers: int) -> list[Share]:
        """This share run by ``workers`` workers: each worker's share (together exactly this one)."""
        return [Share(self.index + self.count * j, self.count * workers) for j in range(workers)]

    @classmethod
    def parse(cls, text: str, option: str = "--shard") -> Share:
        """``"i/N"`` (1 <= i <= N) as a share, or a usage error saying what to give."""
        found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not found:
            raise UsageError(f"{option} {text!r}: give i/N, this job's number i from 1 to N jobs (e.g. 1/4)")
        index, count = int(found.group(1)), int(found.group(2))
        if count < 1 or not 1 <= index <= count:
            raise UsageError(f"{option} {text}: i must be from 1 to N (here 1 to {count}) and N at least 1; "
                             f"the jobs of a matrix of N are 1/N, 2/N, ... N/N")
        return cls(index - 1, count)


def useful_workers(total: int, races: int) -> int:
    """The most workers (or shards) that each get a batch: more would sit idle."""
    return max(1, len(batches(0, total, BATCH)), len(batches(0, races, RACE_BATCH)))


#: The whole run: the one share of one.
WHOLE = Share()
