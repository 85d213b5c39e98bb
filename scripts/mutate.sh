#!/usr/bin/env bash
# Mutation testing of the spots in tools/mutate/spots.txt: every mutant,
# whether the tests killed it, and the kill rate (tools/mutate/main.go).
#
#   scripts/mutate.sh                      the working tree (never written: overlays)
#   scripts/mutate.sh --head [FLAGS]       a snapshot of the last commit, so edits
#                                          others make meanwhile cannot disturb the run
#   scripts/mutate.sh -spot loop,adamw     some spots only; -list to list the mutants;
#   scripts/mutate.sh -json out.json       machine-readable results; -strict to fail
#                                          on a survivor without a written reason
#   scripts/mutate.sh -from out.json       report that run again with REASONS.md as it
#                                          is now (after writing reasons; runs nothing)
#
# Needs what the tests need (libopenblas-dev). A whole run takes about 15-20
# minutes on two cores: each mutant is one build of its package's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--head" ]; then
	shift
	snap=$(mktemp -d)
	trap 'rm -rf "$snap"' EXIT
	mkdir -p "$snap/main"
	git archive HEAD | tar -x -C "$snap/main"
	# the tests find shared data at ../shared
	[ -e ../shared ] && ln -s "$(cd ../shared && pwd)" "$snap/shared"
	# relative output paths stay relative to where the script was started
	args=()
	while [ $# -gt 0 ]; do
		case "$1" in
		-json | -o | -from)
			p="$2"
			[ "$p" != "-" ] && [ "${p#/}" = "$p" ] && p="$PWD/$p"
			args+=("$1" "$p")
			shift 2
			;;
		*)
			args+=("$1")
			shift
			;;
		esac
	done
	cd "$snap/main"
	go run ./tools/mutate "${args[@]}"
	exit
fi
exec go run ./tools/mutate "$@"
