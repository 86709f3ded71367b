#!/usr/bin/env bash
# Runs one libFuzzer target the way the `fuzz` suite and `./dev.sh fuzz` do:
#   run_fuzz.sh TARGET_EXE CORPUS_DIR [REGRESSIONS_DIR]
# 1. replays every file of REGRESSIONS_DIR (crashes found before, kept as tests) and of
#    CORPUS_DIR once; 2. fuzzes for SB_FUZZ_SECONDS (default 20; 0 skips this) starting from
#    CORPUS_DIR, writing new inputs to a temporary directory so the committed corpus is not
#    modified. A crash is saved under SB_FUZZ_ARTIFACTS (default ./fuzz-artifacts)/<target>/;
#    add it to tests/fuzz/regressions/<target>/ once fixed. With SB_FUZZ_SUMMARY set, appends
#    "<target> execs=N cov=N ft=N corpus=N seconds=N" to that file.
set -euo pipefail
exe=$1
corpus=$2
regressions=${3:-}
seconds=${SB_FUZZ_SECONDS:-20}
name=$(basename "$exe")
name=${name%_fuzz}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
artifacts=${SB_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}/$name
mkdir -p "$artifacts"
common=(-rss_limit_mb=2048 -timeout=30 -artifact_prefix="$artifacts/")

replay=()
[ -n "$regressions" ] && [ -d "$regressions" ] && replay+=("$regressions"/*)
[ -d "$corpus" ] && replay+=("$corpus"/*)
if [ ${#replay[@]} -gt 0 ]; then
  echo "== $name: replaying ${#replay[@]} files"
  log=$(mktemp)
  if ! "$exe" "${common[@]}" "${replay[@]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    rm -f "$log"
    echo "== $name: replay FAILED"
    exit 1
  fi
  rm -f "$log"
fi

[ "$seconds" -gt 0 ] || exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== $name: fuzzing for ${seconds}s"
rc=0
"$exe" "${common[@]}" -max_total_time="$seconds" -print_final_stats=1 \
  "$work" "$corpus" >"$work.log" 2>&1 || rc=$?
tail -n 60 "$work.log"
if [ -n "${SB_FUZZ_SUMMARY:-}" ]; then
  last=$(grep -E '^#[0-9]+' "$work.log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  echo "$name execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} seconds=$seconds rc=$rc" \
    >>"$SB_FUZZ_SUMMARY"
fi
rm -f "$work.log"
exit $rc
