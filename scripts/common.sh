#!/usr/bin/env bash
# Shared helpers for the test and demo commands: package installation, build,
# and a throwaway PostgreSQL cluster run as the "postgres" OS user on a unix
# socket.  Sourced, not executed.

PG_MAJOR=${PG_MAJOR:-15}
PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-$PG_MAJOR-cron \
postgresql-$PG_MAJOR-pgtap libtap-parser-sourcehandler-pgtap-perl make gcc"

log() { printf '==> %s\n' "$*" >&2; }

# Install whatever of $PACKAGES is missing (Debian/Ubuntu, as root).
ensure_packages() {
	local missing=()
	local p
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

pg_bindir() { "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" --bindir; }

# Build and install the extension into the server found by pg_config.
build_and_install() {
	local pgc="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
	log "building costopt"
	make -s PG_CONFIG="$pgc" >/dev/null
	log "installing costopt"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo make -s PG_CONFIG="$pgc" install >/dev/null
}

# Run a command as the postgres OS user (or as ourselves if we are it).
as_postgres() {
	if [ "$(id -un)" = postgres ]; then
		"$@"
	elif [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		sudo -u postgres -- "$@"
	fi
}

# cluster_start DIR PORT CONFFILE: initdb in DIR/data, socket in DIR, start.
# Exports PGHOST, PGPORT, PGUSER for the clients that follow.
cluster_start() {
	local dir=$1 port=$2 conf=$3
	local bindir
	bindir=$(pg_bindir)
	mkdir -p "$dir"
	chown postgres: "$dir" 2>/dev/null || true
	chmod 0755 "$dir"
	log "initdb in $dir/data"
	as_postgres "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
		--locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
	{
		echo "# costopt throwaway cluster"
		echo "port = $port"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		cat "$conf"
	} | as_postgres tee -a "$dir/data/postgresql.conf" >/dev/null
	log "starting PostgreSQL on socket $dir, port $port"
	as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
		{ cat "$dir/server.log"; return 1; }
	export PGHOST=$dir PGPORT=$port PGUSER=postgres
}

# cluster_stop DIR: stop the cluster (fast) if it runs.
cluster_stop() {
	local dir=$1
	[ -f "$dir/data/postmaster.pid" ] || return 0
	as_postgres "$(pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# A free TCP port number for the socket name (nothing listens on TCP).
pick_port() {
	local p
	for p in $(seq 55432 55532); do
		[ -e "/tmp/.s.PGSQL.$p" ] || { echo "$p"; return; }
	done
	echo 55432
}

# Fingerprint of the installed extension (library and install scripts), so
# a benchmark can say whether it changed during the run.
costopt_build_id() {
	local pgc="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
	cat "$("$pgc" --pkglibdir)/costopt.so" "$("$pgc" --sharedir)"/extension/costopt--*.sql |
		md5sum | cut -c1-8
}

# bench_cluster NAME BENCH_DIR: a throwaway cluster for a benchmark, with
# test/costopt.conf plus BENCH_DIR/bench.conf, in WORK (exported); stopped
# and removed on exit unless KEEP_CLUSTER=1.  Sets BUILD_ID.
bench_cluster() {
	local name=$1 bench_dir=$2
	BUILD_ID=$(costopt_build_id)
	WORK=$(mktemp -d "/tmp/costopt-bench-$name.XXXXXX")
	export WORK
	trap bench_cluster_cleanup EXIT
	: >"$WORK/results"
	cat test/costopt.conf "$bench_dir/bench.conf" >"$WORK/bench.conf"
	cluster_start "$WORK" "$(pick_port)" "$WORK/bench.conf"
}

bench_cluster_cleanup() {
	cluster_stop "$WORK"
	if [ "${KEEP_CLUSTER:-0}" = 1 ]; then log "cluster kept in $WORK"; else rm -rf "$WORK"; fi
}
