# Sourced by every device script, from the repository root. The device
# call takes at most 64 MiB of working tree, carried folders included, so
# scripts/gpu/build.sh carries the static binaries gzipped (NAME.gz) and
# the reference fixtures as fixtures.tgz; this unpacks each one whose
# unpacked copy is missing or older, in place. (On the build machine the
# unpacked copies count against the limit again: build.sh removes them.)
unpack_carry() {
	local dir=$1 z out
	for z in "$dir"/*.gz; do
		[ -e "$z" ] || continue
		case $z in *.tar.gz) continue ;; esac # data archives: their scripts unpack them
		out=${z%.gz}
		if [ ! -e "$out" ] || [ "$z" -nt "$out" ]; then
			gzip -dc "$z" >"$out.part" && chmod +x "$out.part" && mv "$out.part" "$out" ||
				{ echo "unpack: $z is damaged" >&2; rm -f "$out.part"; return 1; }
		fi
	done
	if [ -e "$dir/fixtures.tgz" ] && { [ ! -d "$dir/fixtures" ] || [ "$dir/fixtures.tgz" -nt "$dir/fixtures" ]; }; then
		rm -rf "$dir/fixtures" && mkdir -p "$dir/fixtures" && tar -xzf "$dir/fixtures.tgz" -C "$dir/fixtures" && touch "$dir/fixtures" ||
			{ echo "unpack: $dir/fixtures.tgz is damaged" >&2; return 1; }
	fi
	return 0
}
unpack_carry "${FNET_CARRY_DIR:-.device-carry}" || exit 1
