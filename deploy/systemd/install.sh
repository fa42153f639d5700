#!/usr/bin/env bash
# Installs one Spool node as a systemd service (docs/deploy.md walks through a 3-node cluster).
#
#   sudo deploy/systemd/install.sh --node-id 1 --advertised-host broker1.internal \
#     --voters 1@broker1.internal:9093,2@broker2.internal:9093,3@broker3.internal:9093 \
#     --cluster-id "$(spool format random-uuid)"   # the same id on every node
#     --log-dirs /data/kafka-1,/data/kafka-2 [--rack us-east-1a] [--binary bin/spool]
#
# Steps: a system user `spool`; the binary at /usr/local/bin/spool; /etc/spool/server.properties
# rendered from server.properties.template (kept if it exists, unless --force); /etc/spool/spool.env
# (kept if it exists); the unit at /etc/systemd/system/spool.service with a drop-in granting
# write access to the log dirs; the log dirs created and formatted (`spool format`) for the
# cluster id; then `systemctl daemon-reload` and `enable` (not `start`: start the nodes once
# all three are installed, see docs/deploy.md).
#
# --root DIR installs into DIR instead of / (for packaging and tests): no user is created,
# nothing is chowned, systemctl is not run; the log dirs are used as given.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "install.sh: $*" >&2; exit 1; }
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

node_id= host= voters= cluster_id= log_dirs= rack= binary= root= force=
while [ $# -gt 0 ]; do
	case $1 in
	--node-id) node_id=$2; shift 2 ;;
	--advertised-host) host=$2; shift 2 ;;
	--voters) voters=$2; shift 2 ;;
	--cluster-id) cluster_id=$2; shift 2 ;;
	--log-dirs) log_dirs=$2; shift 2 ;;
	--rack) rack=$2; shift 2 ;;
	--binary) binary=$2; shift 2 ;;
	--root) root=$2; shift 2 ;;
	--force) force=1; shift ;;
	-h | --help) usage ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done
[ -n "$node_id" ] && [ -n "$host" ] && [ -n "$voters" ] && [ -n "$cluster_id" ] && [ -n "$log_dirs" ] ||
	die "--node-id, --advertised-host, --voters, --cluster-id and --log-dirs are required (see --help)"
[[ $node_id =~ ^[0-9]+$ ]] || die "--node-id $node_id: want a number"
[[ $voters =~ ^[0-9]+@[^,:]+:[0-9]+(,[0-9]+@[^,:]+:[0-9]+)*$ ]] || die "--voters $voters: want id@host:port,..."
[[ ",$voters" == *",$node_id@"* ]] || die "--voters does not list node $node_id; every node of the quorum is a voter"
[[ $log_dirs == /* ]] || die "--log-dirs must be absolute paths"
if [ -z "$binary" ]; then
	binary=$(command -v spool || true)
	[ -x "$here/../../bin/spool" ] && binary=$here/../../bin/spool
fi
[ -x "$binary" ] || die "no spool binary: pass --binary PATH (make build writes bin/spool)"
if [ -z "$root" ]; then
	[ "$(id -u)" = 0 ] || die "run as root (or pass --root DIR to install into a directory)"
fi

etc=$root/etc/spool
unit_dir=$root/etc/systemd/system
mkdir -p "$root/usr/local/bin" "$etc" "$unit_dir/spool.service.d" "$root/usr/local/share/doc/spool"

if [ -z "$root" ] && ! id spool > /dev/null 2>&1; then
	useradd --system --home-dir /var/lib/spool --no-create-home --shell /usr/sbin/nologin spool
	echo "created user spool"
fi

install -m 0755 "$binary" "$root/usr/local/bin/spool.new"
mv "$root/usr/local/bin/spool.new" "$root/usr/local/bin/spool" # atomic: a running node keeps its inode
[ -f "$here/../../docs/deploy.md" ] && install -m 0644 "$here/../../docs/deploy.md" "$root/usr/local/share/doc/spool/deploy.md"

props=$etc/server.properties
if [ -f "$props" ] && [ -z "$force" ]; then
	echo "kept $props (pass --force to render it again)"
else
	sed -e "s|@NODE_ID@|$node_id|g" -e "s|@VOTERS@|$voters|g" -e "s|@ADVERTISED_HOST@|$host|g" \
		-e "s|@LOG_DIRS@|$log_dirs|g" -e "s|@RACK@|$rack|g" "$here/server.properties.template" > "$props.new"
	[ -n "$rack" ] || sed -i '/^broker.rack=$/d' "$props.new"
	mv "$props.new" "$props"
	echo "wrote $props"
fi
[ -f "$etc/spool.env" ] || install -m 0644 "$here/spool.env" "$etc/spool.env"
install -m 0644 "$here/spool.service" "$unit_dir/spool.service"

# The unit's ProtectSystem=strict makes everything read-only but what ReadWritePaths= names.
{
	echo "# Written by deploy/systemd/install.sh from log.dirs in /etc/spool/server.properties."
	echo "[Service]"
	IFS=, read -ra dirs <<< "$log_dirs"
	for d in "${dirs[@]}"; do echo "ReadWritePaths=$d"; done
} > "$unit_dir/spool.service.d/10-log-dirs.conf"

IFS=, read -ra dirs <<< "$log_dirs"
for d in "${dirs[@]}"; do
	mkdir -p "$d"
	[ -z "$root" ] && chown spool:spool "$d" && chmod 0750 "$d"
done
# env -i: KAFKA_* variables of the installing shell must not leak into the format.
fmt=(env -i PATH=/usr/bin:/bin "$root/usr/local/bin/spool" format --config "$props" --cluster-id "$cluster_id" --ignore-formatted)
if [ -z "$root" ]; then
	runuser -u spool -- "${fmt[@]}"
	systemctl daemon-reload
	systemctl enable spool.service
	echo "installed node $node_id; start it with: systemctl start spool (then: spool cluster health)"
else
	"${fmt[@]}"
	echo "installed node $node_id into $root"
fi
