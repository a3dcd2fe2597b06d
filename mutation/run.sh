#!/usr/bin/env bash
# Mutation testing of the reference server's domain code, with the conformance suite as the
# only test (see mutation/README.md). It never mutates this working tree: it copies the
# repository once per worker under the work folder and mutates only those copies.
#
#   mutation/run.sh [--work DIR] [--workers N] [--server-ref REV] [--sample N] [--sample-seed S]
#                   [--max-minutes M] [--resume] [--confirm "RUN_MUTANT ARGS" | --no-confirm]
#
# --server-ref takes cxpay_conformance/server/ from a git revision instead of the working tree
# (the rest, the suite included, is the working tree's).
# --confirm tests the survivors again with a deeper budget (default: 30 examples x 60 steps,
# seed 2), in a copy of the session (session-confirm.sqlite), except those verdicts.toml calls
# equivalent or unkillable; the report counts those kills apart.
# --max-minutes stops starting mutants after M minutes (the rest stays pending); --resume goes on
# with the pending mutants of the work folder's session, on the same copies.
#
# Needs: python3 with the project's dependencies (pip install -e .), and the network to the
# package index once, to install Cosmic Ray into a venv of its own under the work folder.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=/tmp/cxpay-mutation
WORKERS=2
SAMPLE=""
SAMPLE_SEED=1
RESUME=0
MAX_MINUTES=()
SERVER_REF=""
CONFIRM="--max-examples 30 --max-steps 60 --seed 2"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --work) WORK=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --sample) SAMPLE=$2; shift 2 ;;
        --sample-seed) SAMPLE_SEED=$2; shift 2 ;;
        --resume) RESUME=1; shift ;;
        --server-ref) SERVER_REF=$2; shift 2 ;;
        --confirm) CONFIRM=$2; shift 2 ;;
        --no-confirm) CONFIRM=""; shift ;;
        --max-minutes) MAX_MINUTES=(--max-minutes "$2"); shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
SESSION=$WORK/session.sqlite
CONFIG=mutation/cosmic-ray.toml   # relative to a copy's root
VENV=$WORK/venv

python3 -c "import hypothesis, starlette, uvicorn, httpx" 2>/dev/null || {
    echo "python3 lacks the project's dependencies: run pip install -e . first" >&2; exit 2; }
if [[ ! -x $VENV/bin/cosmic-ray ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r "$REPO/mutation/requirements.txt"
fi

copies=()
for i in $(seq 1 "$WORKERS"); do copies+=("$WORK/copy-$i"); done
if [[ $RESUME -eq 0 ]]; then
    rm -rf "$WORK"/copy-* "$SESSION" "$WORK/run-info.txt" "$WORK/exec.log"
    for copy in "${copies[@]}"; do
        mkdir -p "$copy"
        tar -C "$REPO" -cf - --exclude=.git --exclude=.venv --exclude=.hypothesis --exclude=__pycache__ \
            --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache --exclude=.benchmarks \
            --exclude=cxpay-report . | tar -C "$copy" -xf -
        if [[ -n $SERVER_REF ]]; then
            rm -rf "$copy/cxpay_conformance/server"
            git -C "$REPO" archive "$SERVER_REF" cxpay_conformance/server | tar -C "$copy" -xf -
        fi
    done
fi
main=${copies[0]}
modules=$(cd "$main" && python3 -c "import tomllib; print(' '.join(tomllib.load(open('$CONFIG', 'rb'))['cosmic-ray']['module-path']))")
test_command=$(cd "$main" && python3 -c "import tomllib; print(tomllib.load(open('$CONFIG', 'rb'))['cosmic-ray']['test-command'])")
(cd "$main" && sha256sum $modules) > "$WORK/modules.sha256"

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(python3 --version)"
    echo "cosmic-ray: $("$VENV/bin/cosmic-ray" --version)"
    echo "hypothesis: $(python3 -c 'import hypothesis; print(hypothesis.__version__)')"
    echo "repository: $(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo 'not a git checkout')" \
         "$(git -C "$REPO" status --porcelain -- cxpay_conformance spec 2>/dev/null | grep -q . && echo '(with uncommitted changes)')"
    echo "server: $([[ -n $SERVER_REF ]] && echo "cxpay_conformance/server/ at $(git -C "$REPO" rev-parse "$SERVER_REF")" || echo 'the working tree')"
    echo "test command: $test_command"
    echo "workers: $WORKERS"
} | tee -a "$WORK/run-info.txt"

echo "== baseline: the suite must pass on the unmutated copy"
(cd "$main" && $test_command) || { echo "the baseline fails: fix that before mutating" >&2; exit 1; }

if [[ $RESUME -eq 0 ]]; then
    echo "== init: $modules"
    (cd "$main" && "$VENV/bin/cosmic-ray" init "$CONFIG" "$SESSION")
    if [[ -n $SAMPLE ]]; then  # sample first: the sample is of every generated mutant
        "$VENV/bin/python" "$main/mutation/sample.py" "$SESSION" "$SAMPLE" --seed "$SAMPLE_SEED"
    fi
    (cd "$main" && "$VENV/bin/python" mutation/filter_annotations.py "$SESSION")
fi

echo "== exec on ${#copies[@]} copies"
started=$(date +%s)
"$VENV/bin/python" "$main/mutation/parallel_exec.py" "$main/$CONFIG" "$SESSION" "${copies[@]}" "${MAX_MINUTES[@]}" \
    | tee -a "$WORK/exec.log"
echo "exec wall time: $(( $(date +%s) - started )) s" | tee -a "$WORK/run-info.txt"

confirm_args=()
if [[ -n $CONFIRM ]]; then
    echo "== confirm: the survivors again, with: $CONFIRM" | tee -a "$WORK/run-info.txt"
    cp "$SESSION" "$WORK/session-confirm.sqlite"
    started=$(date +%s)
    "$VENV/bin/python" "$main/mutation/parallel_exec.py" "$main/$CONFIG" "$WORK/session-confirm.sqlite" \
        "${copies[@]}" --survivors --except-judged "$REPO/mutation/verdicts.toml" \
        --test-command "python3 mutation/run_mutant.py $CONFIRM" | tee -a "$WORK/exec.log"
    echo "confirm wall time: $(( $(date +%s) - started )) s" | tee -a "$WORK/run-info.txt"
    confirm_args=(--confirm "$WORK/session-confirm.sqlite")
fi

for copy in "${copies[@]}"; do  # every mutant must have been undone
    (cd "$copy" && sha256sum --quiet -c "$WORK/modules.sha256") || {
        echo "$copy was left mutated: do not trust this run" >&2; exit 1; }
done

python3 "$REPO/mutation/report.py" "$SESSION" --verdicts "$REPO/mutation/verdicts.toml" "${confirm_args[@]}" \
    > "$WORK/report.md"
echo "== report: $WORK/report.md"
cat "$WORK/report.md"
