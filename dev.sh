#!/usr/bin/env bash
# Switchboard developer entry point. On a fresh Debian 12 machine:
#   ./dev.sh build   install missing packages, configure, build
#   ./dev.sh test    ... then run every test, then the unit, property and fuzz suites again
#                    under AddressSanitizer + UndefinedBehaviorSanitizer (clang, build-san)
#   ./dev.sh test --sanitize   the whole suite in build-san only
#   ./dev.sh test --tsan       the broker and agents suites under ThreadSanitizer (build-tsan)
#   ./dev.sh fuzz [SECONDS]    every fuzz target for SECONDS (default 60) each, from its corpus
#   ./dev.sh nemesis [SECONDS] the nemesis fault test with SECONDS (default 600) of faults:
#                    kills, pauses, partitions and stalls under a workload; prints its report
#   ./dev.sh demo    install, configure, build the switchboard binary only, run the demo
# Environment: BUILD_DIR (default build), SAN_DIR (default build-san), TSAN_DIR (default
# build-tsan), RC_PARAMS (RapidCheck; default max_success=1000), SB_FUZZ_SECONDS (the fuzz
# suite's time-boxed run per target; default 20), SB_NEMESIS_SECONDS (the nemesis test's fault
# phase; default 60), SB_SKIP_APT=1 to skip the package check.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}

# DESIGN.md §2: every dependency comes from Debian's packages.
PACKAGES=(
  build-essential pkg-config meson ninja-build python3 curl
  libzmq3-dev cppzmq-dev libcapnp-dev capnproto librocksdb-dev libspdlog-dev
  libgtest-dev libgmock-dev libsodium-dev librapidcheck-dev libcli11-dev nlohmann-json3-dev
  libcpp-httplib-dev libtomlplusplus-dev libbenchmark-dev zlib1g-dev libzip-dev
  chromium
  clang libfuzzer-14-dev
  faketime
  python3-jsonschema
)
# python3-jsonschema: examples/data/generate.py --check and tests/hsds/validate.py check what
# Switchboard writes (the sample, exports, HSDS API answers) against the official schemas
# (../shared/hsds); the HSDS tests fail, naming it, without it.
# faketime: libfaketime, which the nemesis test preloads to start agents with skewed clocks, and
# the clock-skew test's agents hours off (tests/integration/clock_skew_process_test.cpp; both skip
# without it).
# The review console's browser test (tests/browser) runs Debian's chromium, driven by
# playwright-core from npm (installed there with `npm ci`). Node.js and npm: the machine's if
# it has them, else Debian's (nodejs 18 is enough for playwright-core).

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

setup() {
  [ "${SB_SKIP_APT:-0}" = 1 ] && return 0
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing missing packages: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# quiet_ninja DIR [TARGETS...]: build, showing only what is not a progress line. ninja's exit
# status is lost in the pipe, so a second, quiet run checks it (and fails the script).
quiet_ninja() {
  ninja -C "$@" | grep -v '^\[' || true
  ninja -C "$@" >/dev/null
}

# build [TARGETS...]: everything, or only TARGETS (the demo needs only the switchboard binary,
# not the test programs, and not the browser test's npm packages).
build() {
  setup
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    log "configuring $BUILD_DIR"
    meson setup "$BUILD_DIR" --buildtype=debugoptimized >/dev/null
  fi
  log "building${1:+ $*}"
  quiet_ninja "$BUILD_DIR" "$@"
  # The sample directory (fictional, ~1.5 MB) is generated, not committed.
  if [ ! -f examples/data/directory.json ]; then
    log "generating the sample directory (examples/data/directory.json)"
    python3 examples/data/generate.py --out examples/data/directory.json
  fi
  [ $# -eq 0 ] || return 0
  if [ ! -d tests/browser/node_modules/playwright-core ] ||
     [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
    log "installing the browser test's npm packages (tests/browser)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# A plain closing line that any CI reader understands, from a build directory's test log.
summarize() {
  python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): passed += 1
    elif r == "SKIP": skipped += 1
    else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
}

run_tests() {
  build
  export RC_PARAMS=${RC_PARAMS:-max_success=1000}
  log "running tests (RC_PARAMS=$RC_PARAMS)"
  local rc=0
  meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@" || rc=$?
  summarize "$BUILD_DIR"
  return $rc
}

# ---- Sanitizers and fuzzing (issue 10): clang, in their own build directories ----
SAN_DIR=${SAN_DIR:-build-san}
TSAN_DIR=${TSAN_DIR:-build-tsan}
# The suites of unit and property tests (no process or network tests): what CI runs under
# ASan + UBSan. agents_api and agents_agent_lifecycle run real agent processes: left out.
SAN_SUITES=(conflict base transport store broker agents fuzz)
SAN_EXCLUDE=(agents_api agents_agent_lifecycle)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# configure_clang DIR meson-options...: a clang build directory (with ccache when present).
configure_clang() {
  local dir=$1
  shift
  [ -f "$dir/build.ninja" ] && return 0
  local cc=clang cxx=clang++
  command -v ccache >/dev/null 2>&1 && cc="ccache clang" cxx="ccache clang++"
  log "configuring $dir (clang $*)"
  CC="$cc" CXX="$cxx" meson setup "$dir" --buildtype=debugoptimized -Db_lundef=false "$@" >/dev/null
}

configure_san() {
  # -O1, as AddressSanitizer's documentation advises: fast enough to run, quicker to build.
  # Line tables only (file:line in every report) instead of full debug information: a much
  # cheaper build, which CI's time budget needs.
  configure_clang "$SAN_DIR" -Db_sanitize=address,undefined -Dfuzz=true -Doptimization=1 \
    -Ddebug=false -Dc_args=-gline-tables-only -Dcpp_args=-gline-tables-only
}

# tests_of DIR SUITE...: the names of the tests in those suites (minus SAN_EXCLUDE), then a
# line "--", then the build targets they run (relative to DIR).
tests_of() {
  local dir=$1
  shift
  ninja -C "$dir" build.ninja >/dev/null  # reconfigures if a meson.build changed
  meson introspect "$dir" --tests | python3 -c '
import json, os, sys
dir = os.path.realpath(sys.argv[1])
suites = set(sys.argv[2].split())
exclude = set(sys.argv[3].split())
names, targets = [], set()
for t in json.load(sys.stdin):
    if t["name"] in exclude or not suites & {s.split(":")[-1] for s in t["suite"]}:
        continue
    names.append(t["name"])
    for arg in t["cmd"]:  # the test executable, or the fuzz target run_fuzz.sh runs
        path = os.path.realpath(os.path.join(dir, arg))  # arguments may be relative to dir
        if path.startswith(dir + os.sep):
            targets.add(os.path.relpath(path, dir))
print("\n".join(names)); print("--"); print("\n".join(sorted(targets)))
' "$dir" "$*" "${SAN_EXCLUDE[*]}"
}

# run_sanitized: the unit, property and fuzz suites under ASan + UBSan, building only what they
# run.
run_sanitized() {
  setup
  configure_san
  local list names=() targets=() seen=0
  list=$(tests_of "$SAN_DIR" "${SAN_SUITES[@]}")
  while IFS= read -r line; do
    if [ "$line" = "--" ]; then seen=1; continue; fi
    [ -z "$line" ] && continue
    if [ $seen = 0 ]; then names+=("$line"); else targets+=("$line"); fi
  done <<<"$list"
  log "building ${#targets[@]} test and fuzz targets in $SAN_DIR"
  quiet_ninja "$SAN_DIR" "${targets[@]}"
  export RC_PARAMS=${RC_PARAMS:-max_success=1000}
  log "running ${#names[@]} unit, property and fuzz tests under ASan+UBSan (SB_FUZZ_SECONDS=${SB_FUZZ_SECONDS:-20})"
  local rc=0
  meson test -C "$SAN_DIR" --no-rebuild --print-errorlogs --num-processes 2 "${names[@]}" || rc=$?
  summarize "$SAN_DIR"
  return $rc
}

# run_sanitized_all: everything in build-san, the whole suite (process tests included).
run_sanitized_all() {
  setup
  configure_san
  log "building $SAN_DIR"
  quiet_ninja "$SAN_DIR"
  if [ ! -f examples/data/directory.json ]; then
    python3 examples/data/generate.py --out examples/data/directory.json
  fi
  export RC_PARAMS=${RC_PARAMS:-max_success=1000}
  log "running every test under ASan+UBSan"
  local rc=0
  meson test -C "$SAN_DIR" --no-rebuild --print-errorlogs --num-processes 2 "$@" || rc=$?
  summarize "$SAN_DIR"
  return $rc
}

# run_tsan: the broker and agents suites under ThreadSanitizer.
run_tsan() {
  setup
  configure_clang "$TSAN_DIR" -Db_sanitize=thread
  log "building $TSAN_DIR"
  quiet_ninja "$TSAN_DIR"
  export RC_PARAMS=${RC_PARAMS:-max_success=100}
  # tests/tsan.supp: reports wholly inside uninstrumented libraries, each with its reason.
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp}
  local rc=0
  meson test -C "$TSAN_DIR" --no-rebuild --print-errorlogs --num-processes 2 \
    --suite broker --suite agents "$@" || rc=$?
  summarize "$TSAN_DIR"
  return $rc
}

# run_fuzz SECONDS: every fuzz target for SECONDS each (two at a time), then execs and coverage.
run_fuzz() {
  local seconds=${1:-60}
  setup
  configure_san
  local list targets=() seen=0
  list=$(tests_of "$SAN_DIR" fuzz)
  while IFS= read -r line; do
    if [ "$line" = "--" ]; then seen=1; continue; fi
    [ $seen = 1 ] && [ -n "$line" ] && targets+=("$line")
  done <<<"$list"
  log "building ${#targets[@]} fuzz targets in $SAN_DIR"
  quiet_ninja "$SAN_DIR" "${targets[@]}"
  local summary
  summary=$(realpath "$SAN_DIR")/fuzz-summary.txt
  : >"$summary"
  log "fuzzing each target for ${seconds}s (crashes go to $SAN_DIR/fuzz-artifacts/)"
  local rc=0
  SB_FUZZ_SECONDS=$seconds SB_FUZZ_SUMMARY=$summary SB_FUZZ_ARTIFACTS=$(realpath "$SAN_DIR")/fuzz-artifacts \
    meson test -C "$SAN_DIR" --no-rebuild --print-errorlogs --num-processes 2 \
    --timeout-multiplier 0 --suite fuzz || rc=$?
  log "per target: executions and coverage (cov: edges, ft: features)"
  sort "$summary"
  return $rc
}

# run_nemesis SECONDS: the nemesis test (tests/nemesis) with a fault phase of SECONDS, its
# output shown as it runs (the report at the end).
run_nemesis() {
  local seconds=${1:-600}
  build
  log "running the nemesis test with ${seconds}s of faults"
  SB_NEMESIS_SECONDS=$seconds meson test -C "$BUILD_DIR" --no-rebuild --verbose \
    --timeout-multiplier 0 nemesis
}

case "${1:-}" in
  build) build ;;
  test)
    shift
    case "${1:-}" in
      --sanitize) shift; run_sanitized_all "$@" ;;
      --tsan) shift; run_tsan "$@" ;;
      *)
        rc=0
        run_tests "$@" || rc=$?
        run_sanitized || rc=$?
        exit $rc ;;
    esac ;;
  fuzz) shift; run_fuzz "${1:-60}" ;;
  nemesis) shift; run_nemesis "${1:-600}" ;;
  demo) build cli/switchboard; log "running the demo"; "$BUILD_DIR/cli/switchboard" demo ;;
  *) echo "usage: ./dev.sh build|test [--sanitize|--tsan]|fuzz [SECONDS]|nemesis [SECONDS]|demo" >&2; exit 2 ;;
esac
