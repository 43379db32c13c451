#!/bin/sh
# deb.sh SOURCE OUT - build shmdb's Debian package from SOURCE (prefix /usr,
# Release, no tests) in OUT, then check it: its control fields (the
# libraries it needs, the development packages building against it
# needs), every file where a Debian system expects it, the config as a
# conffile, and its maintainer scripts against a stand-in systemctl in a
# private mount namespace where /run/systemd/system exists (postinst
# enables and starts shmdbd.service, prerm stops it, postrm forgets it)
# and where it does not (they do nothing). Exits non-zero, saying which
# step failed, on any failure. Root only, where unshare -m is allowed
# (test_install checks both first).
set -eu
src=$1 out=$2
step() { echo "== $*"; }
fail() { echo "$*"; exit 1; }
step build
cmake -S "$src" -B "$out/build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=Release \
	-DSHMDB_TESTS=OFF >/dev/null
cmake --build "$out/build" -j"$(nproc)" >/dev/null
(cd "$out/build" && cpack -G DEB >/dev/null)
deb=$(ls "$out"/build/shmdb_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "cpack made no .deb"
step control
depends=$(dpkg-deb -f "$deb" Depends)
for p in libxxhash-dev pkg-config libnuma1 libhwloc libinih1 liburcu; do
	echo "$depends" | grep -q "$p" || fail "Depends lacks $p: $depends"
done
[ "$(dpkg-deb -f "$deb" Package)" = shmdb ] || fail "package name"
step files
files=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
lib=./usr/lib/$(gcc -print-multiarch) # GNUInstallDirs' libdir on Debian
for f in ./usr/bin/shmdbd ./usr/bin/shmdbd-checkpoint ./usr/bin/shmdb ./usr/include/shmdb.h \
	 ./etc/shmdb/shmdbd.conf ./usr/lib/systemd/system/shmdbd.service \
	 ./usr/share/man/man8/shmdbd.8 ./usr/share/man/man1/shmdb.1 \
	 ./usr/share/man/man3/libshmdb.3 "$lib/libshmdb.so.3.0.0" "$lib/libshmdb.a" \
	 "$lib/pkgconfig/shmdb.pc" "$lib/cmake/shmdb/shmdbConfig.cmake"; do
	echo "$files" | grep -qx "$f" || fail "not in the package: $f"
done
echo "$files" | grep -q "^./usr/local" && fail "files under /usr/local"
dpkg-deb -e "$deb" "$out/control"
grep -qx /etc/shmdb/shmdbd.conf "$out/control/conffiles" || fail "the config is no conffile"
root="$out/root"
dpkg-deb -x "$deb" "$root"
grep -q "^ExecStart=/usr/bin/shmdbd --config /etc/shmdb/shmdbd.conf$" \
	"$root/usr/lib/systemd/system/shmdbd.service" || fail "the unit's ExecStart"
step scripts
# A systemctl that writes down what it was asked.
mkdir -p "$out/fake"
printf '#!/bin/sh\necho "$*" >> %s/calls\n' "$out" > "$out/fake/systemctl"
chmod +x "$out/fake/systemctl"
run_scripts() { # $1: make /run/systemd/system or not
	rm -f "$out/calls"
	unshare -m sh -c "mount -t tmpfs tmpfs /run && { [ $1 = 0 ] || mkdir -p /run/systemd/system; } &&
		export PATH='$out/fake':\$PATH &&
		sh '$out/control/postinst' configure && sh '$out/control/prerm' remove &&
		sh '$out/control/postrm' remove" || fail "a maintainer script failed"
	touch "$out/calls"
}
run_scripts 1
want="daemon-reload
enable shmdbd.service
restart shmdbd.service
stop shmdbd.service
disable shmdbd.service
daemon-reload"
[ "$(cat "$out/calls")" = "$want" ] || { echo "systemctl calls:"; cat "$out/calls"; fail "want: $want"; }
run_scripts 0
[ ! -s "$out/calls" ] || { cat "$out/calls"; fail "systemctl called without systemd"; }
step done
