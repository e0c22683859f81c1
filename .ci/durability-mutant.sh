#!/usr/bin/env bash
# The durability test must be able to fail: built with the test-only `durability-mutant`
# feature (SQLite with synchronous=OFF, crates/adieu-store/Cargo.toml), the server answers
# a logout before its revocation is synced, and
# durability::a_logout_answers_only_after_sqlite_has_synced_the_revocation must fail, for
# that reason and no other. This script passes only then.
#
# Why a cargo feature and not a flag or an environment variable: the mutant must not be a
# setting that a served binary could be started with. A feature exists only in a build
# made for it. It shares the target directory (only adieu-store and the crates above it are
# rebuilt, a few minutes less than a directory of its own), so it runs last in .ci/run, and
# it rebuilds the real binary at the end, so that target/debug/adieu is never left as the
# mutant.
#
# Usage: .ci/durability-mutant.sh   (needs strace; ADIEU_TEST_STRACE names it, default: PATH)
#   ADIEU_MUTANT_RESTORE=0   skip that last rebuild, in a checkout about to be thrown away (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

ADIEU_TEST_STRACE="${ADIEU_TEST_STRACE:-$(command -v strace)}"
export ADIEU_TEST_STRACE
test_name=durability::a_logout_answers_only_after_sqlite_has_synced_the_revocation
reason="was not synced before the 200"
out="$(mktemp)"
restore='cargo build --quiet --bin adieu'
if [ "${ADIEU_MUTANT_RESTORE:-1}" = 0 ]; then restore=true; fi
trap 'rm -f "$out"; '"$restore" EXIT

if cargo test --features durability-mutant --test cluster -- --exact "$test_name" \
  --include-ignored >"$out" 2>&1; then
  cat "$out"
  echo "FAIL: the durability test passed on a server that never syncs: it proves nothing" >&2
  exit 1
fi
if ! grep -q "test $test_name ... FAILED" "$out" || ! grep -q "$reason" "$out"; then
  cat "$out"
  echo "FAIL: the mutant run failed, but not with the durability test failing because \"$reason\"" >&2
  exit 1
fi
grep -E "^test $test_name|$reason" "$out"
# The failed test kept its directory for its trace; this failure was the expected one.
kept="$(sed -n 's/.*strace log kept: \(.*\)\/strace\.log.*/\1/p' "$out")"
if [ -n "$kept" ]; then rm -rf "$kept"; fi
echo "ok: on the synchronous=OFF mutant the durability test fails, because the revocation $reason"
