"""The reproduction script of a failing concurrent history: it races the branches again.

:func:`race_repro_script` writes a standalone httpx script that sends the requests before the race
again, then each branch's requests from a thread of its own on its own connection, released by a
barrier, then reads the objects back, a few times, and says whether the failing history's
answers and read-back happen again. A race reproduces only sometimes, and the script says so.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.repro_text import find, own_key, said, templated
from cxpay_conformance.suite.runner import SuiteResult

#: How many times the script races the branches (each on a payment of its own) before it says
#: the failure does not reproduce.
ATTEMPTS = 5

_ID = re.compile(r"\b([a-z]{2,4})_[A-Za-z0-9]{8,}\b")


def race_repro_script(result: SuiteResult, exchanges: list[Exchange], ids: dict[str, str]) -> str:
    """A Python script (httpx) that races the failing history's branches again.

    Each attempt (up to :data:`ATTEMPTS`) sends the prefix's requests in order on a payment of its
    own (its own Idempotency-Keys; ids bound from the answers), then each branch's requests from a
    thread of its own, on its own connection, all released by a ``threading.Barrier``, then reads
    the objects back. It exits 1 as soon as an attempt gets the failing history's answers to the
    requests sent at once (status and error code or object status; identical requests in any
    order) and its read-back (each object's status) again, 0 when no attempt does, and 2 when no
    attempt could race because the prefix was answered otherwise than the suite expected.
    """
    failure = result.failure
    first = min(result.branches)
    last = max(result.branches)
    prefix = list(range(first))
    branch_of = {index: result.branches[index][0] for index in sorted(result.branches)}
    reads = _final_reads(exchanges, last, result.branches)
    names = {real: model for model, real in ids.items()}
    names.update(_other_ids(exchanges, names))
    predictions = {i: p for i, p in result.predictions.items() if i < first}
    # Script numbers: the prefix's exchanges, then the requests sent at once, then the reads.
    numbers = {index: number for number, index in enumerate([*prefix, *branch_of, *reads.values()], 1)}
    base_url = result.config.base_url or "http://127.0.0.1:8000"
    headline = str(failure).splitlines()[0][:300] if failure else ""
    # The same request sent twice at once may get its two answers either way round.
    groups: dict[str, list[int]] = {}
    for index in branch_of:
        exchange = exchanges[index]
        signature = f"{exchange.method} {exchange.path} {json.dumps(exchange.body, sort_keys=True)}"
        groups.setdefault(f"{signature} {exchange.key_label}", []).append(numbers[index])
    same = {number: (f"request {group[0]}" if len(group) == 1 else
                     f"requests {', '.join(map(str, group[:-1]))} and {group[-1]} (the same request)")
            for group in groups.values() for number in group}
    failing_at_once = {numbers[i]: said(exchanges[i]) for i in branch_of}
    failing_reads = {numbers[i]: said(exchanges[i]) for i in reads.values()}
    settle = max(0.5, result.config.settle_timeout)
    lines = [
        "#!/usr/bin/env python3",
        '"""Reproduces a cxpay-conformance failure in a concurrent history: sends the requests before the',
        "race in order, then the requests that went at once, each branch from a thread of its own on its own",
        "connection, released together by a barrier, then reads the objects back; and compares the answers",
        "and the read-back with those of the failing history.",
        "",
        "A race reproduces only sometimes: the threads must meet in the implementation's gap again. So the",
        f"script tries up to {ATTEMPTS} times, each on a payment of its own (the requests before the race again),",
        "and stops at the first attempt that gets the failing history's answers and read-back again.",
        "",
        "Run: CXPAY_API_KEY=... CXPAY_SECOND_API_KEY=... CXPAY_BASE_URL=URL python repro.py",
        "Exit code: 1 the failure reproduces (an attempt got the failing history's answers to the requests",
        "sent at once, and its read-back, again), 0 no attempt did, 2 cannot tell (the implementation did",
        "not answer, or no attempt could race: the requests before the race were answered otherwise than",
        "the suite expected).",
        "",
        f"Failure: [{failure.check if failure else '-'}] {headline}",
        '"""',
        "import json",
        "import os",
        "import sys",
        "import threading",
        "import time",
        "import uuid",
        "from collections import Counter",
        "",
        "import httpx",
        "",
        f'BASE_URL = os.environ.get("CXPAY_BASE_URL", {base_url!r})',
        'KEYS = {"default": os.environ["CXPAY_API_KEY"],',
        '        "second merchant": os.environ.get("CXPAY_SECOND_API_KEY", ""),',
        '        "invalid": "sk_test_not_a_merchant"}',
        f"CHECK = {failure.check if failure else '-'!r}",
        f"ATTEMPTS = {ATTEMPTS}",
        f"SETTLE = {settle!r}  # seconds to let the implementation settle before the read-back is final",
        "# The failing history: the answer to each request sent at once (number -> answer), which of them",
        "# were the same request (their answers may come in either order), and the objects read back after.",
        f"FAILING_AT_ONCE = {failing_at_once!r}",
        f"SAME_REQUEST = {same!r}",
        f"FAILING_READ_BACK = {failing_reads!r}",
        "client = httpx.Client(base_url=BASE_URL, timeout=10)",
        "ids = {}  # this attempt's ids",
        "RUN = uuid.uuid4().hex  # this attempt's share of every Idempotency-Key",
        "got = {}  # number -> this attempt's answer in words",
        "sent_at_once = []  # (sent, line) of each request sent at once",
        "read_paths = {}  # number -> the object read back",
        "",
        "",
        "class Diverged(Exception):",
        "    \"\"\"The requests before the race were answered otherwise than the suite expected.\"\"\"",
        "",
        "",
        "def summary(status, answer):",
        "    error = answer.get(\"error\") if isinstance(answer, dict) else None",
        "    detail = error.get(\"code\") if isinstance(error, dict) else (",
        "        answer.get(\"status\") if isinstance(answer, dict) else None)",
        "    return f\"{status} {detail}\" if isinstance(detail, str) else str(status)",
        "",
        "",
        "def request(http, method, path, body=None, key=\"default\", idempotency_key=None):",
        "    headers = {}",
        "    if key != \"none\":",
        "        headers[\"Authorization\"] = f\"Bearer {KEYS[key]}\"",
        "    if idempotency_key is not None:",
        "        headers[\"Idempotency-Key\"] = idempotency_key",
        "    response = http.request(method, path, json=body, headers=headers)",
        "    try:",
        "        answer = response.json()",
        "    except ValueError:",
        "        answer = None",
        "    return response, answer",
        "",
        "",
        "def send(number, method, path, body=None, key=\"default\", idempotency_key=None, expect=None):",
        "    \"\"\"A request before the race, held to what the suite expected of it.\"\"\"",
        "    response, answer = request(client, method, path, body, key, idempotency_key)",
        "    words = summary(response.status_code, answer)",
        "    print(f\"  {number:>3}. {method} {path} -> {words}\")",
        "    if expect is not None:",
        "        status, code, object_status = expect",
        "        error = answer.get(\"error\") if isinstance(answer, dict) else None",
        "        got_code = error.get(\"code\") if isinstance(error, dict) else None",
        "        got_status = answer.get(\"status\") if isinstance(answer, dict) else None",
        "        if (response.status_code != status or (code is not None and got_code != code)",
        "                or (object_status is not None and got_status != object_status)):",
        "            wanted = \" \".join(str(part) for part in expect if part is not None)",
        "            raise Diverged(f\"{number}. {method} {path}: the suite expected {wanted}, got {words}\")",
        "    return answer",
        "",
        "",
        "def at_once(http, origin, number, method, path, body=None, key=\"default\", idempotency_key=None):",
        "    \"\"\"A request sent at once with the others (in a branch's thread).\"\"\"",
        "    sent = time.monotonic() - origin",
        "    response, answer = request(http, method, path(), body() if body else None, key, idempotency_key)",
        "    answered = time.monotonic() - origin",
        "    got[number] = summary(response.status_code, answer)",
        "    # Printed once every branch is done, in the order sent (threads printing would interleave).",
        "    sent_at_once.append((sent, f\"  {number:>3}. [{sent * 1000:4.0f}-{answered * 1000:4.0f} ms] {method} \"",
        "                               f\"{path()} -> {got[number]}\"))",
        "    return answer",
        "",
        "",
        "def bind(name, answer, *path, required=True):",
        "    value = answer",
        "    try:",
        "        for step in path:",
        "            value = value[step]",
        "    except (KeyError, IndexError, TypeError):",
        "        if required:",
        "            raise Diverged(f\"the answer has no id for {name} where the suite's run had it\") from None",
        "        return",
        "    ids[name] = value",
        "",
        "",
        "def read(number, method, path):",
        "    \"\"\"Read an object back after the race (an object whose id this attempt never saw: absent).\"\"\"",
        "    try:",
        "        where = path()",
        "    except KeyError:",
        "        got[number] = \"absent\"",
        "        return None",
        "    read_paths[number] = where",
        "    response, answer = request(client, method, where)",
        "    got[number] = summary(response.status_code, answer)",
        "    return answer",
        "",
        "",
        "def same_answers():",
        "    \"\"\"What differs between this attempt's answers to the requests sent at once and the failing",
        "    history's (the same request's answers in any order).\"\"\"",
        "    wanted, have = Counter(), Counter()",
        "    for number, answer in FAILING_AT_ONCE.items():",
        "        wanted[SAME_REQUEST[number], answer] += 1",
        "        have[SAME_REQUEST[number], got.get(number, \"no answer\")] += 1",
        "    return [f\"{request} answered {answer}\" + (f\" ({count} times)\" if count > 1 else \"\")",
        "            for (request, answer), count in (wanted - have).items()]",
        "",
        "",
        "def same_read_back():",
        "    \"\"\"What differs between this attempt's read-back and the failing history's: each object's",
        "    status, and how many objects there were (each read was of another object there).\"\"\"",
        "    differ = [f\"{number}. was read back {answer} (this time {got.get(number)})\"",
        "              for number, answer in FAILING_READ_BACK.items() if got.get(number) != answer]",
        "    objects = {}",
        "    for number, path in read_paths.items():",
        "        objects.setdefault(path, []).append(number)",
        "    differ += [f\"reads {', '.join(map(str, numbers))} were of {len(numbers)} objects \"",
        "               f\"(this time of one, {path})\"",
        "               for path, numbers in objects.items() if len(numbers) > 1]",
        "    return differ",
        "",
        "",
    ]
    bound: set[str] = set()
    lines += _prefix_function(exchanges, prefix, predictions, names, numbers, bound)
    # An id first seen after the prefix is bound from a branch's answer, and again from the
    # read-back (which this attempt's race may have answered otherwise: the read-back has it then).
    lines += _branch_functions(exchanges, branch_of, names, numbers, set(bound))
    lines += _read_function(exchanges, reads, names, numbers, set(bound))
    lines += [
        "def race():",
        "    \"\"\"Each branch from a thread of its own, on its own connection, released by a barrier.\"\"\"",
        "    barrier = threading.Barrier(len(BRANCHES))",
        "    clients = [httpx.Client(base_url=BASE_URL, timeout=10) for _ in BRANCHES]",
        "    errors = []",
        "    origin = time.monotonic()",
        "",
        "    def run(branch, http):",
        "        try:",
        "            barrier.wait(timeout=10)",
        "            branch(http, origin)",
        "        except Exception as exc:  # noqa: BLE001 - said in the main thread",
        "            errors.append(exc)",
        "            barrier.abort()",
        "",
        "    threads = [threading.Thread(target=run, args=pair) for pair in zip(BRANCHES, clients)]",
        "    for thread in threads:",
        "        thread.start()",
        "    for thread in threads:",
        "        thread.join()",
        "    for http in clients:",
        "        http.close()",
        "    for _sent, line in sorted(sent_at_once):",
        "        print(line)",
        "    for error in errors:",
        "        print(f\"  a branch stopped: {error!r}\")",
        "",
        "",
        "def attempt(number):",
        "    global RUN",
        "    RUN = uuid.uuid4().hex",
        "    ids.clear()",
        "    got.clear()",
        "    sent_at_once.clear()",
        "    read_paths.clear()",
        "    print(f\"Attempt {number} of {ATTEMPTS}: the requests before the race\")",
        "    prefix()",
        "    print(\"  the requests sent at once:\")",
        "    race()",
        "    answers = same_answers()",
        "    deadline = time.monotonic() + SETTLE",
        "    while True:",
        "        read_back()",
        "        reads = same_read_back()",
        "        # Poll only while the race went as it did in the failing history: the read-back may",
        "        # still be settling. Otherwise this attempt has already shown it did not reproduce.",
        "        if not reads or answers or time.monotonic() >= deadline:",
        "            break",
        "        time.sleep(0.1)",
        "    print(\"  read back: \" + \", \".join(f\"{n}. {got.get(n)}\" for n in FAILING_READ_BACK))",
        "    return answers + reads",
        "",
        "",
        "def main():",
        "    diverged = []",
        "    for number in range(1, ATTEMPTS + 1):",
        "        try:",
        "            differences = attempt(number)",
        "        except httpx.HTTPError as exc:  # not an answer: say so rather than exit 1 as if reproduced",
        "            print(f\"\\nCannot tell [{CHECK}]: the implementation at {BASE_URL} did not answer: {exc!r}\")",
        "            sys.exit(2)",
        "        except Diverged as why:",
        "            print(f\"  the requests before the race went otherwise: {why}\")",
        "            diverged.append(str(why))",
        "            continue",
        "        if not differences:",
        "            print(f\"\\nREPRODUCED [{CHECK}] in attempt {number}: the requests sent at once got the \"",
        "                  \"failing history's answers, and the objects read back its statuses, again.\")",
        "            sys.exit(1)",
        "        print(\"  not this time: in the failing history \" + \"; \".join(differences))",
        "    if len(diverged) == ATTEMPTS:",
        "        print(f\"\\nCannot tell [{CHECK}]: no attempt could race, the requests before the race were \"",
        "              f\"answered otherwise than the suite expected ({diverged[0]}).\")",
        "        sys.exit(2)",
        "    print(f\"\\nNot reproduced [{CHECK}]: no attempt of {ATTEMPTS} got the failing history's answers and \"",
        "          \"read-back again (a race reproduces only sometimes: run the script again to be surer).\")",
        "    sys.exit(0)",
        "",
        "",
        "main()",
    ]
    return "\n".join(lines) + "\n"


def _final_reads(exchanges: list[Exchange], last: int, branches: dict[int, Any]) -> dict[str, int]:
    """The reads after the race: request (method and path) -> the index of its last time, in the
    order they were first read (the suite may have read the objects back several times, while it
    waited for them to settle; the last reading is the one it judged)."""
    reads: dict[str, int] = {}
    for index in range(last + 1, len(exchanges)):
        if index in branches:
            continue
        exchange = exchanges[index]
        reads[f"{exchange.method} {exchange.path}"] = index
    return reads


def _other_ids(exchanges: list[Exchange], names: dict[str, str]) -> dict[str, str]:
    """Ids the requests name that the story never bound (an object made by the race itself):
    named ``<prefix>_race_<n>``."""
    found: dict[str, str] = {}
    count: dict[str, int] = {}
    for exchange in exchanges:
        for match in _ID.finditer(f"{exchange.path} {json.dumps(exchange.body)}"):
            real = match.group(0)
            if real not in names and real not in found:
                count[match.group(1)] = count.get(match.group(1), 0) + 1
                found[real] = f"{match.group(1)}_race_{count[match.group(1)]}"
    return found


def _call_args(exchange: Exchange, names: dict[str, str], *, lazy: bool) -> list[str]:
    path = templated(exchange.path, names)
    body = f"json.loads({templated(json.dumps(exchange.body), names)})" if exchange.body is not None else None
    args = [repr(exchange.method), f"lambda: {path}" if lazy else path]
    if body is not None:
        args.append(f"lambda: {body}" if lazy else body)
    if exchange.key_label != "default":
        args.append(f"key={exchange.key_label!r}")
    key = exchange.headers.get("Idempotency-Key")
    if key is not None:
        args.append(f"idempotency_key={own_key(key)}")
    return args


def _binds(exchange: Exchange, names: dict[str, str], bound: set[str], indent: str, *, required: bool) -> list[str]:
    lines = []
    for real, model in names.items():
        if real in bound:
            continue
        where = find(exchange.answer, real)
        if where is not None:
            optional = "" if required else ", required=False"
            lines.append(f"{indent}bind({model!r}, answer{''.join(', ' + repr(x) for x in where)}{optional})")
            bound.add(real)
    return lines


def _prefix_function(exchanges: list[Exchange], prefix: list[int], predictions: dict[int, Any],
                     names: dict[str, str], numbers: dict[int, int], bound: set[str]) -> list[str]:
    lines = ["def prefix():",
             "    \"\"\"The requests before the race, in order, on a payment of this attempt's own.\"\"\""]
    for index in prefix:
        exchange = exchanges[index]
        args = [str(numbers[index]), *_call_args(exchange, names, lazy=False)]
        prediction = predictions.get(index)
        if prediction is not None:
            args.append(f"expect={(prediction.status, prediction.code, prediction.object_status)!r}")
        expected = f"the suite expected {said(prediction)}; " if prediction is not None else ""
        lines.append(f"    # {numbers[index]}: {expected}the implementation answered {said(exchange)}")
        lines.append(f"    answer = send({', '.join(args)})")
        lines += _binds(exchange, names, bound, "    ", required=True)
    return [*lines, "", ""]


def _branch_functions(exchanges: list[Exchange], branch_of: dict[int, int], names: dict[str, str],
                      numbers: dict[int, int], bound: set[str]) -> list[str]:
    """One function per branch, its requests in order; ids first seen in their answers are bound
    when this attempt's answer has them too (it may not: the race may go another way)."""
    lines: list[str] = []
    functions = []
    for branch in sorted(set(branch_of.values())):
        name = f"branch_{branch + 1}"
        functions.append(name)
        lines += [f"def {name}(http, origin):"]
        for index in (i for i, b in branch_of.items() if b == branch):
            exchange = exchanges[index]
            args = ["http", "origin", str(numbers[index]), *_call_args(exchange, names, lazy=True)]
            lines.append(f"    # {numbers[index]}: the failing history's answer: {said(exchange)}")
            lines.append(f"    answer = at_once({', '.join(args)})")
            lines += _binds(exchange, names, bound, "    ", required=False)
        lines += ["", ""]
    return [*lines, f"BRANCHES = [{', '.join(functions)}]", "", ""]


def _read_function(exchanges: list[Exchange], reads: dict[str, int], names: dict[str, str],
                   numbers: dict[int, int], bound: set[str]) -> list[str]:
    lines = ["def read_back():",
             "    \"\"\"The objects read back after the race, as the suite read them last.\"\"\""]
    for index in reads.values():
        exchange = exchanges[index]
        path = templated(exchange.path, names)
        lines.append(f"    # {numbers[index]}: the failing history read {said(exchange)}")
        lines.append(f"    answer = read({numbers[index]}, {exchange.method!r}, lambda: {path})")
        lines += _binds(exchange, names, bound, "    ", required=False)
    return [*lines, "", ""]
