#!/bin/sh
# check.sh BUILD PREFIX SOURCE OUT [CFLAGS] - install the shmdb of BUILD into
# PREFIX, then build examples/first.c against it twice, into OUT: with
# pkg-config (OUT/first-pc) and with CMake's find_package (OUT/first-cmake).
# CFLAGS: the sanitizer flags the library was built with, if any. Exits
# non-zero, saying which step failed, on any failure.
set -eu
build=$1 prefix=$2 src=$3 out=$4 cflags=${5:-}
step() { echo "== $*"; }
step install
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/shmdbd bin/shmdb bin/shmdbd-checkpoint include/shmdb.h etc/shmdb/shmdbd.conf \
         lib/systemd/system/shmdbd.service share/man/man8/shmdbd.8 share/man/man1/shmdb.1 \
         share/man/man3/libshmdb.3; do
	[ -e "$prefix/$f" ] || { echo "missing: $f"; exit 1; }
done
pc=$(find "$prefix" -name shmdb.pc | head -1)
[ -n "$pc" ] || { echo "missing: shmdb.pc"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
step pkg-config
export PKG_CONFIG_PATH="$(dirname "$pc")"
# shellcheck disable=SC2046
cc $cflags -o "$out/first-pc" "$src/examples/first.c" $(pkg-config --cflags --libs shmdb) \
	-Wl,-rpath,"$libdir"
step find_package
cmake -S "$src/tests/install" -B "$out/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
	-DFIRST_SOURCE="$src/examples/first.c" -DCMAKE_C_FLAGS="$cflags" \
	-DCMAKE_EXE_LINKER_FLAGS="$cflags" >/dev/null
cmake --build "$out/consumer" >/dev/null
cp "$out/consumer/first" "$out/first-cmake"
step man
for page in man8/shmdbd.8 man1/shmdb.1 man3/libshmdb.3; do
	text=$(MANWIDTH=80 man -l "$prefix/share/man/$page" 2>&1)
	[ -n "$text" ] || { echo "empty: $page"; exit 1; }
	# Every groff warning fails it (what man -l would show garbled).
	warnings=$(groff -ww -man -z "$prefix/share/man/$page" 2>&1)
	[ -z "$warnings" ] || { echo "groff warns on $page:"; echo "$warnings"; exit 1; }
done
step unit
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify --man=no "$prefix/lib/systemd/system/shmdbd.service" 2>&1 |
		grep -v "Command .* is not executable" | grep -v "^$" && { echo "unit warnings"; exit 1; }
else
	echo "systemd-analyze not installed: the unit is not verified"
fi
step done
