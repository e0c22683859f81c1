#!/usr/bin/env bash
# Fuzzing: builds every cargo-fuzz target in fuzz/ once, runs each for a bounded time on a
# copy of its seed corpus (so the committed corpus stays as it is), prints the executions of
# each in a table, and fails if any target crashed, leaked, ran out of memory or hung.
#
#   ADIEU_FUZZ_SECONDS      time per target (default 20)
#   ADIEU_FUZZ_TARGET_DIR   cargo's target dir for the fuzz build. By default a cache outside
#                           the checkout, apart from the main build's target/ (the flags differ),
#                           that outlives CI's fresh clones: with the dependencies built, a run
#                           rebuilds only Adieu's crates, and the step stays near 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${ADIEU_FUZZ_SECONDS:-20}"
target_dir="${ADIEU_FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/adieu/fuzz-target}"

# Release with debug assertions and AddressSanitizer: cargo-fuzz's defaults.
started=$(date +%s)
cargo +nightly fuzz build --target-dir "$target_dir"
echo "built in $(($(date +%s) - started)) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
rows=()
for target in $(cargo +nightly fuzz list); do
  mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
  cp -R "corpus/$target/." "$work/$target/corpus/"
  echo "-- $target (${seconds} s)"
  status=ok
  # libFuzzer's flags after `--`: new inputs go to the temporary corpus, crashing ones to
  # artifacts/; -rss_limit_mb is the whole process, ASan's shadow memory included.
  if ! cargo +nightly fuzz run --target-dir "$target_dir" "$target" "$work/$target/corpus" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$work/$target/artifacts/" >"$work/$target/log" 2>&1; then
    status=FAILED
    failed=1
    tail -n 60 "$work/$target/log"
    for artifact in "$work/$target/artifacts"/*; do
      [ -e "$artifact" ] || continue
      mkdir -p artifacts/"$target"
      cp "$artifact" artifacts/"$target"/
      echo "   input kept in fuzz/artifacts/$target/$(basename "$artifact") (base64: $(base64 -w0 "$artifact" | head -c 400))"
    done
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target/log" | tail -n 1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$work/$target/log" | tail -n 1)
  corpus=$(find "$work/$target/corpus" -type f | wc -l)
  rows+=("$(printf '%-18s %12s %6s %8s  %s' "$target" "${runs:--}" "${took:--}" "$corpus" "$status")")
done

echo
printf '%-18s %12s %6s %8s  %s\n' target executions "s" corpus result
for row in "${rows[@]}"; do echo "$row"; done
echo "fuzzing took $(($(date +%s) - started)) s in all"
exit "$failed"
