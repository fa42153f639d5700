#!/usr/bin/env bash
# Installs and configures a container engine on a fresh Debian machine, idempotently:
# Debian's podman, podman-compose, runc (the OCI runtime), debootstrap (the JRE tools
# image's root filesystem is built from Debian's packages: no image is ever pulled),
# and ca-certificates (copied into the broker image), and the CNI dnsname plugin: Debian
# bookworm's podman 4.3 uses CNI networks, which resolve service names (kafka1, kafka2, ...
# in the compose files) only with that plugin; without it a container asks the host's
# resolver for its peers and gets "no such host".
#
# /etc/containers/containers.conf gets runtime="runc" and cgroup_manager="cgroupfs"
# (there is no systemd as PID 1 here, and crun's cgroup handling fails in this
# sandbox), and default_ulimits no higher than this machine's hard limits: a
# container asking for more than `ulimit -Hn`/`ulimit -Hu` fails to start.
# Storage uses the vfs driver when overlay cannot be mounted.
#
# Run as root. A second run changes nothing and takes about a second.
set -euo pipefail
say() { printf '== install-podman: %s\n' "$*"; }
die() { echo "install-podman FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (apt-get and /etc/containers need it)"

pkgs=(podman podman-compose runc debootstrap ca-certificates uidmap golang-github-containernetworking-plugin-dnsname)
need=()
for p in "${pkgs[@]}"; do dpkg -s "$p" > /dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
	say "installing Debian packages: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update"
	apt-get install -y -qq --no-install-recommends "${need[@]}" > /dev/null || die "apt-get install ${need[*]}"
fi

# cap VALUE HARD: VALUE, or HARD when the hard limit is lower ("unlimited" never is).
cap() { if [ "$2" = unlimited ] || [ "$1" -le "$2" ]; then echo "$1"; else echo "$2"; fi; }
nofile=$(cap 65536 "$(ulimit -Hn)")
nproc=$(cap 4096 "$(ulimit -Hu)")

conf=/etc/containers/containers.conf
want=$(
	cat << EOF
# Written by scripts/install-podman.sh (Spool). Hard limits here: nofile $(ulimit -Hn), nproc $(ulimit -Hu).
[containers]
default_ulimits = [
  "nofile=${nofile}:${nofile}",
  "nproc=${nproc}:${nproc}",
]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
)
mkdir -p /etc/containers
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
	[ -f "$conf" ] && ! grep -q 'install-podman.sh' "$conf" && cp "$conf" "$conf.orig"
	printf '%s\n' "$want" > "$conf"
	say "wrote $conf (nofile=$nofile nproc=$nproc)"
fi

# Storage: overlay where the kernel lets us mount it, vfs otherwise. Chosen once; changing
# the driver later would orphan existing images, so an existing storage.conf is kept.
sconf=/etc/containers/storage.conf
if [ ! -f "$sconf" ] || ! grep -q 'install-podman.sh' "$sconf"; then
	driver=vfs
	t=$(mktemp -d)
	mkdir -p "$t/l" "$t/u" "$t/w" "$t/m"
	if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2> /dev/null; then
		umount "$t/m"
		driver=overlay
	fi
	rm -rf "$t"
	cat > "$sconf" << EOF
# Written by scripts/install-podman.sh (Spool): $driver was the driver this kernel mounts.
[storage]
driver = "$driver"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF
	say "wrote $sconf (driver=$driver)"
fi

# Images are built locally and never pulled: no registry search list is needed, and a
# short name such as "spool" resolves to localhost/spool.
rconf=/etc/containers/registries.conf.d/50-spool.conf
if [ ! -f "$rconf" ]; then
	mkdir -p "$(dirname "$rconf")"
	echo 'unqualified-search-registries = []' > "$rconf"
fi

podman --version > /dev/null || die "podman does not run"
podman-compose --version > /dev/null 2>&1 || die "podman-compose does not run"
# Service names resolve on a new network (a network made before dnsname was installed keeps
# dns_enabled false: remove it; the compose tests remove theirs before `up`).
if [ "$(podman info --format '{{.Host.NetworkBackend}}' 2> /dev/null)" = cni ]; then
	net=spool-install-dnscheck
	podman network rm -f $net > /dev/null 2>&1 || true
	podman network create $net > /dev/null || die "podman network create"
	dns=$(podman network inspect --format '{{.DNSEnabled}}' $net 2> /dev/null || echo error)
	podman network rm -f $net > /dev/null 2>&1 || true
	[ "$dns" = true ] || die "a new podman network has dns_enabled=$dns: containers could not resolve each other (CNI dnsname plugin)"
fi
got=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}}' 2> /dev/null) || die "podman info failed"
[ "$got" = "runc cgroupfs" ] || die "podman uses '$got', want 'runc cgroupfs' (check $conf)"
say "ok: $(podman --version), $(podman-compose --version 2> /dev/null | grep -m1 -o "podman-compose[r]* version.*"), runtime runc, cgroupfs, nofile=$nofile nproc=$nproc"
