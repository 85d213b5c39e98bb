#!/usr/bin/env bash
# Records docs/img/demo.gif, the README's look at the dashboard: the real
# binary's --demo (a mini pretraining on the Go standard library's doc
# comments) in tmux at 100x30, a frame captured every few seconds (with its
# colours: capture-pane -e), each rendered by charm's freeze as
# scripts/screenshots.sh does, joined by tools/gif. About two minutes.
# vhs would be the tool for this, but it needs ttyd, which Debian 12 does
# not package.
set -euo pipefail
cd "$(dirname "$0")/.."
freeze=${FREEZE:-$PWD/.cache/bin/freeze}
[ -x "$freeze" ] || GOBIN=$PWD/.cache/bin go install github.com/charmbracelet/freeze@v0.2.2
command -v tmux >/dev/null || { echo "demo-gif: needs tmux" >&2; exit 1; }
work=$(mktemp -d)
sock="fnet-demo-$$"
cleanup() {
	tmux -L "$sock" kill-server 2>/dev/null || true
	for st in "$work"/runs/*/status.json; do # the demo trainer is detached: end it
		[ -f "$st" ] && kill "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$st")" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/fnet-tui" ./cmd/fnet-tui
cp -r configs "$work/configs"
cd "$work"
tmux -L "$sock" new-session -d -s demo -x 100 -y 30 "./fnet-tui --demo --runs runs --configs configs"
frame=0
shot() {
	frame=$((frame + 1))
	tmux -L "$sock" capture-pane -e -p -t demo >"frame-$(printf %03d $frame).ansi"
}
keys() { tmux -L "$sock" send-keys -t demo "$@"; }
# The run appears, curves start to move.
for _ in $(seq 1 14); do sleep 4; shot; done
keys m; sleep 1; shot; sleep 3; shot # the next metric
keys m; sleep 1; shot
keys g; sleep 2; shot; sleep 3; shot # every metric
keys g Escape; sleep 2; shot          # back to Runs
for f in frame-*.ansi; do
	# tmux writes "default colour" as SGR 39/49, which freeze 0.2.2 ignores
	# (the previous colour runs on): spell them as the default's colour.
	sed -i 's/\x1b\[39m/\x1b[38;5;252m/g; s/\x1b\[49m//g' "$f"
	"$freeze" --language ansi --window=false --padding 10 --margin 0 --shadow.blur 0 \
		--background "#1c1c1c" --font.family Unifont --font.size 8 --line-height 1.0 \
		-o "${f%.ansi}.png" "$f" >/dev/null
done
cd - >/dev/null
go run ./tools/gif -o docs/img/demo.gif -delay 120 -last 400 "$work"/frame-*.png
echo "docs/img/demo.gif ($frame frames)"
