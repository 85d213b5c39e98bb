#!/usr/bin/env bash
# The README's setup: installs the Debian packages fnet-tui needs and builds
# ./fnet-tui. apt-get runs directly as root (a fresh Debian's root shell has
# no sudo) and through sudo otherwise; packages already installed are not
# asked for again, so nothing needs root once they are there.
#
#   ./scripts/setup.sh            libopenblas-dev, then go build -o fnet-tui ./cmd/fnet-tui
#   ./scripts/setup.sh --test     also tmux and python3-sentencepiece (the dashboard's
#                                 end-to-end test, the official-tokenizer comparison)
#   ./scripts/setup.sh --no-build install only
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs="libopenblas-dev"
build=1
for arg in "$@"; do
	case $arg in
	--test) pkgs="$pkgs tmux python3-sentencepiece" ;;
	--no-build) build=0 ;;
	-h | --help)
		sed -n '2,10s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "setup.sh: unknown argument $arg (want --test, --no-build)" >&2
		exit 2
		;;
	esac
done
if ! dpkg -s $pkgs >/dev/null 2>&1; then
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "setup.sh: installing $pkgs needs root: run this as root, or install sudo" >&2
			exit 1
		fi
		sudo="sudo"
	fi
	echo "setup.sh: installing $pkgs${sudo:+ (with sudo)}"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
		echo "setup.sh: apt-get update failed; trying the install with the package lists there are" >&2
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs
fi
if [ "$build" = 1 ]; then
	if ! command -v go >/dev/null 2>&1; then
		echo "setup.sh: no go on PATH: install Go 1.26 or newer first" >&2
		exit 1
	fi
	go build -o fnet-tui ./cmd/fnet-tui
	echo "setup.sh: built ./fnet-tui"
fi
