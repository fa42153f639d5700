#!/usr/bin/env bash
# Builds the base image for the Spool tools image (deploy/Containerfile, target
# "tools"): Debian bookworm with openjdk-17-jre-headless, made here with debootstrap
# from Debian's packages and imported with `podman import`, since no image registry can
# be reached. Idempotent: the image is rebuilt only when it is missing or this script
# changed (its hash is in the image's label).
#
#   scripts/build-jre-base.sh [IMAGE]     (default localhost/spool-jre-base:bookworm)
#
# The mirror is the one this machine's apt uses (/etc/apt/sources.list.d/*.sources or
# /etc/apt/sources.list), overridable with DEBIAN_MIRROR. The root filesystem is cached
# in ~/.cache/spool/rootfs; the image is ~200 MB uncompressed, docs, man pages and
# locales stripped.
set -euo pipefail
image=${1:-localhost/spool-jre-base:bookworm}
engine=${ENGINE:-podman}
cache=${ROOTFS_CACHE:-$HOME/.cache/spool/rootfs}
say() { printf '== jre-base: %s\n' "$*"; }
die() { echo "build-jre-base FAILED: $*" >&2; exit 1; }

self_hash=$(sha256sum "$0" | cut -c1-16)
if [ "$($engine image inspect --format '{{index .Labels "spool.jre-base.hash"}}' "$image" 2> /dev/null)" = "$self_hash" ]; then
	say "$image is current ($self_hash)"
	exit 0
fi
command -v debootstrap > /dev/null || die "debootstrap missing: run scripts/install-podman.sh"

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	# First "URIs:" of a deb822 source whose suites include bookworm, else a one-line source.
	mirror=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {print u; exit}' /etc/apt/sources.list.d/*.sources 2> /dev/null || true)
	[ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2> /dev/null || true)
fi
[ -n "$mirror" ] || die "no Debian mirror found in apt's sources; set DEBIAN_MIRROR"

root=$cache/bookworm-jre
if [ ! -f "$root/.done" ]; then
	if [ ! -f "$root/.debootstrapped" ]; then
		rm -rf "$root"
		mkdir -p "$root"
		say "debootstrap bookworm (minbase + openjdk-17-jre-headless) into $root (~3 min, mostly downloads)"
		t0=$SECONDS
		debootstrap --variant=minbase --include=openjdk-17-jre-headless,ca-certificates \
			bookworm "$root" "$mirror" > "$cache/debootstrap.log" 2>&1 ||
			{ tail -n 30 "$cache/debootstrap.log" >&2; die "debootstrap (log $cache/debootstrap.log)"; }
		say "debootstrap done in $((SECONDS - t0))s"
		touch "$root/.debootstrapped"
	fi
	# The java launcher finds libjli.so through $ORIGIN, which needs /proc
	# (absent in a bare chroot; a container has it): point the loader at it.
	jre=/usr/lib/jvm/java-17-openjdk-amd64
	chroot "$root" env LD_LIBRARY_PATH=$jre/lib $jre/bin/java -version 2>&1 | head -n 1 | sed 's/^/  /'
	[ "${PIPESTATUS[0]}" = 0 ] || die "java does not run in $root"
	# Trim what a JRE-only image never reads.
	rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
		"$root"/usr/share/locale/* "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
		"$root"/var/log/* "$root"/var/cache/debconf/*-old
	say "root filesystem ready ($(du -sh "$root" | cut -f1))"
	echo "$self_hash" > "$root/.done"
fi

say "importing $root as $image"
tar -C "$root" --exclude=./.done --exclude=./.debootstrapped --numeric-owner -c . |
	$engine import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change "LABEL spool.jre-base.hash=$self_hash" \
		--change 'CMD ["/bin/bash"]' \
		- "$image" > /dev/null
say "built $image"
