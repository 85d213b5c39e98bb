#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time each (FUZZTIME,
# default 10s; -fuzzminimizetime 3s), one after another (go test fuzzes one
# target per invocation), failing on the first failure, and prints each
# target's execution count. CI runs it from scripts/test.sh; a longer run:
#   FUZZTIME=10m scripts/fuzz.sh
# FUZZPARALLEL sets the fuzzing workers per target (go test -parallel;
# default GOMAXPROCS), e.g. 1 to leave a core free during a long run.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-10s}
par=()
if [ -n "${FUZZPARALLEL:-}" ]; then par=(-parallel "$FUZZPARALLEL"); fi
# Several targets write files per input (t.TempDir, fsync): on a tmpfs that
# costs nothing, on a busy disk it stalls the workers for seconds.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=$(mktemp -d /dev/shm/fnet-fuzz.XXXXXX)
	export TMPDIR
	trap 'rm -rf "$TMPDIR"' EXIT
fi
total=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		log=$(mktemp)
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" -fuzzminimizetime 3s "${par[@]}" "$pkg" >"$log" 2>&1 &&
			# Go 1.26's coordinator can fail a target with a bare "context
			# deadline exceeded" as -fuzztime ends (go.dev/issue/75804, fixed
			# in 1.27): no input failed, none was written; that is no finding.
			! { grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written' "$log"; }; then
			cat "$log" >&2
			echo "fuzz: $target ($pkg) FAILED; the failing input is under ${dir#$PWD/}/testdata/fuzz/$target/" >&2
			rm -f "$log"
			exit 1
		fi
		if grep -q '^    context deadline exceeded$' "$log"; then
			echo "fuzz: $target: the end-of-run deadline race of Go's fuzzing (go.dev/issue/75804), no finding"
		fi
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
		total=$((total + execs))
		printf 'fuzz: %-22s %-48s %10s execs in %s\n' "$target" "${pkg#github.com/fnet-tui/fnet-tui/}" "$execs" "$t"
		rm -f "$log"
	done
done
echo "fuzz: all targets passed, $total executions"
