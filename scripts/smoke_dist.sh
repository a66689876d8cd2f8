#!/usr/bin/env bash
# Smoke test of the single-file build, as a person would use it: copy the one file into an
# empty folder (no venv, no install, no source tree) and run the commands a newcomer runs.
#   bash scripts/smoke_dist.sh [dist/evsh]
# Prints each check with its time and ends with "dist-smoke: N passed, N failed".
set -uo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
FILE="$(cd "$(dirname "${1:-$SRC/dist/evsh}")" && pwd)/$(basename "${1:-$SRC/dist/evsh}")"
[ -x "$FILE" ] || { echo "dist-smoke: $FILE is missing or not executable: run 'make dist' first" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/evsh-dist-smoke.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/empty" "$WORK/cache"
cp "$FILE" "$WORK/evsh"
cd "$WORK/empty"
# Nothing of the developer's environment: no venv on PATH, no evsh settings, a fresh pex cache
# (so the first run, which unpacks the dependencies, is tested too).
unset EVSH_DB EVSH_DOMAIN PYTHONPATH VIRTUAL_ENV
export PEX_ROOT="$WORK/cache"
E="$WORK/evsh"
PASSED=0 FAILED=0

check() {  # check NAME COMMAND...: run it, keep its output in $OUT, report time and result
    local name="$1"; shift
    local start=$EPOCHREALTIME end
    OUT="$("$@" 2>&1)"; local rc=$?
    end=$EPOCHREALTIME
    if [ $rc -eq 0 ]; then
        PASSED=$((PASSED + 1)); printf 'dist-smoke: ok   %-44s %6.2f s\n' "$name" "$(awk "BEGIN{print $end - $start}")"
        return 0
    fi
    FAILED=$((FAILED + 1)); printf 'dist-smoke: FAIL %-44s (exit %s)\n' "$name" "$rc"
    printf '%s\n' "$OUT" | tail -20 | sed 's/^/    /'
    return 1
}
expect_in() {  # expect_in NAME TEXT: the last check's output contains TEXT
    if ! grep -qF -- "$2" <<<"$OUT"; then
        FAILED=$((FAILED + 1)); PASSED=$((PASSED - 1))
        echo "dist-smoke: FAIL $1: output lacks '$2'"; printf '%s\n' "$OUT" | tail -10 | sed 's/^/    /'
    fi
}

VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/pyproject.toml" | head -1)"
check "--version (first run: unpacks)" "$E" --version && expect_in "--version" "evsh, version $VERSION"
check "--version (warm)" "$E" --version
check "demo (the shop story, bundled)" "$E" demo && expect_in "demo" "evsh-demo.db"
[ -f evsh-demo.db ] || { FAILED=$((FAILED + 1)); echo "dist-smoke: FAIL demo wrote no evsh-demo.db"; }
check "demo --list" "$E" demo --list
FIRST_DEMO="$(printf '%s\n' "$OUT" | awk 'NF {print $1; exit}')"
[ -n "$FIRST_DEMO" ] && check "demo $FIRST_DEMO (bundled, by name)" "$E" demo "$FIRST_DEMO"
check "read (the demo's store)" "$E" --db evsh-demo.db read '$all' --limit 5 --nl && expect_in "read" '"type"'

# `run` of a bundled demo script, copied here as a user would; a script of our own if none.
DEMO="$SRC/sample_data/demos/time_travel.evsh"
[ -f "$DEMO" ] || DEMO="$(ls "$SRC"/sample_data/demos/*.evsh 2>/dev/null | head -1)"
if [ -n "$DEMO" ] && [ -f "$DEMO" ]; then
    cp "$DEMO" script.evsh
else
    printf 'exec inventory p1 add-stock --quantity 3\nread inventory-p1\n' > script.evsh
fi
check "run $(basename "${DEMO:-own script}")" "$E" --domain shop --db run.db run script.evsh
printf 'append note-1 NoteAdded '"'"'{"text": "hi"}'"'"'\nread note-1\n' > own.evsh
check "run (a script of our own, from stdin)" "$E" --db own.db run - < own.evsh && expect_in "run -" "NoteAdded"

check "--domain shop exec (the bundled domain)" "$E" --domain shop --db shop.db exec inventory p1 add-stock --quantity 7
check "--domain shop state" "$E" --domain shop --db shop.db state inventory p1 --json && expect_in "state" '"on_hand":7'
check "verify: replay in a fresh process" "$E" --domain shop verify --property "fresh process" --examples 3 --steps 4 --seed 1
check "tui, shell: importable (--help)" sh -c "'$E' tui --help >/dev/null && '$E' shell --help >/dev/null"

# The same file on other Pythons, where this machine has them (the file targets several).
for v in 3.11 3.12 3.13; do
    py="$(command -v "python$v" 2>/dev/null)" || continue
    "$py" -c 'pass' 2>/dev/null || continue
    check "read with python$v" "$py" "$E" --db evsh-demo.db read '$all' --limit 1
done

echo "dist-smoke: file $(du -h "$FILE" | cut -f1)${DIST_BUILD_SECONDS:+, built in ${DIST_BUILD_SECONDS} s}, smoke test $((SECONDS)) s"
echo "dist-smoke: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
