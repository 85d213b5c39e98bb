#!/usr/bin/env bash
# Regenerates docs/img/*.png, the dashboard screenshots docs/TUI.md shows:
# every view at 80x24 and 160x48, rendered in colour from the test
# fixtures (tui.TestScreenshots writes the ANSI screens), then turned into
# PNG by charm's freeze (github.com/charmbracelet/freeze, installed into
# .cache/bin on first use; FREEZE=path uses another). freeze's PNG goes
# through rsvg-convert (librsvg2-bin); the font is GNU Unifont
# (fonts-unifont), a monospace font with every braille pattern, so the
# charts' columns line up as they do in a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v rsvg-convert >/dev/null || need+=(librsvg2-bin)
fc-list 2>/dev/null | grep -q 'Unifont:' || need+=(fonts-unifont)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	echo "screenshots: installing ${need[*]}" >&2
	$sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
freeze=${FREEZE:-}
if [ -z "$freeze" ]; then
	freeze=$PWD/.cache/bin/freeze
	if [ ! -x "$freeze" ]; then
		GOBIN=$PWD/.cache/bin go install github.com/charmbracelet/freeze@v0.2.2
	fi
fi
ansi=$(mktemp -d)
trap 'rm -rf "$ansi"' EXIT
FNET_SCREENSHOTS=$ansi go test ./tui -run '^TestScreenshots$' -count=1 >/dev/null
mkdir -p docs/img
for f in "$ansi"/*.ansi; do
	name=$(basename "$f" .ansi)
	# A terminal window: no shadow, the dashboard's own dark background.
	"$freeze" --language ansi --window=false --padding 10 --margin 0 --shadow.blur 0 \
		--background "#1c1c1c" --font.family Unifont --font.size 16 --line-height 1.0 \
		-o "docs/img/$name.png" "$f" >/dev/null
	echo "docs/img/$name.png"
done
