#!/usr/bin/env bash
# The model of the revocation protocol (docs/model/): spin must verify the model with no
# error, and must find a counterexample in each mutant. Prints spin's figures.
# Usage: .ci/model.sh [--all]   (--all: the fourth mutant too, a few minutes more)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v spin >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq spin >/dev/null
fi
spin -V

model="$PWD/docs/model/revocation.pml"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
depth=1000000
failed=0

# verify NAME SEARCH [MACRO]: runs spin on the model (with -DMACRO for a mutant), with
# depth-first search (DFS) or breadth-first (BFS: the shortest counterexample, found
# soonest); prints the figures; the caller checks the outcome in $work/NAME.out.
verify() {
  local name=$1 search=$2 macro=${3:-} bfs=
  [ "$search" = BFS ] && bfs=-DBFS
  mkdir -p "$work/$name"
  (
    cd "$work/$name"
    spin ${macro:+-D$macro} -a "$model" >/dev/null
    gcc -O2 -w -DSAFETY -DNOBOUNDCHECK $bfs -o pan pan.c
    local start=$SECONDS
    timeout 600 ./pan -m$depth -w27 >"$work/$name.out" 2>&1 || true
    echo "$((SECONDS - start))" >"$work/$name.time"
  )
  local errors states depth_reached
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$work/$name.out" | tail -1)
  states=$(sed -n 's/^ *\([0-9e.+]*\) states, stored.*/\1/p' "$work/$name.out" | tail -1)
  depth_reached=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$work/$name.out" | tail -1)
  printf '%-26s %s  states stored %10s  depth reached %7s  errors %s  (%ss)\n' \
    "$name" "$search" "${states:-?}" "${depth_reached:-?}" "${errors:-?}" "$(cat "$work/$name.time")"
}

echo "== the model: must verify with no error"
verify model DFS
if ! grep -q 'errors: 0$' "$work/model.out" || grep -q 'max search depth too small' "$work/model.out" \
  || ! grep -q 'State-vector' "$work/model.out"; then
  echo "FAIL: the model did not verify clean:"
  cat "$work/model.out"
  failed=1
fi

echo "== the mutants: each must fail an assertion"
mutants="NO_ACK_WAIT LEASE_FROM_RECEIPT REFILL_WITHOUT_GENERATION"
# KEEP_CACHE_ON_LAPSE needs a long counterexample (about 3 minutes to find): --all only.
[ "${1:-}" = --all ] && mutants="$mutants KEEP_CACHE_ON_LAPSE"
for mutant in $mutants; do
  name=$(echo "$mutant" | tr 'A-Z' 'a-z')
  search=BFS
  [ "$mutant" = KEEP_CACHE_ON_LAPSE ] && search=DFS
  verify "$name" "$search" "MUTANT_$mutant"
  if ! grep -q 'assertion violated' "$work/$name.out" || grep -q 'errors: 0$' "$work/$name.out"; then
    echo "FAIL: mutant $name verified clean: the model does not catch it"
    failed=1
  fi
done

exit $failed
