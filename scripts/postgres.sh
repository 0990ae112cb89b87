#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server on 127.0.0.1, for the storage suite:
#
#   scripts/postgres.sh cargo test --workspace
#
# The command sees TOLLGATE_TEST_POSTGRES_URL (trust auth, loopback only). PostgreSQL comes
# from an existing install, or else `apt-get install postgresql` (as root). The cluster
# lives in .tools/pg/ (initdb runs once per checkout and major version; later runs only
# start it, on a free port) and is stopped when the command ends, however it ends.
# Where PostgreSQL cannot be had, the command runs without the variable and this says so:
# the storage suite then runs against SQLite only and prints that it skipped PostgreSQL.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "postgres.sh: $*" >&2; }

# skip REASON COMMAND...: run the command without a server, saying why.
skip() {
    say "SKIPPED: the PostgreSQL half of the storage suite: $1"
    shift
    unset TOLLGATE_TEST_POSTGRES_URL
    exec "$@"
}

# The newest server binaries: on PATH, or Debian's versioned directories.
find_bindir() {
    local dir
    for dir in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")" \
        $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

install_postgres() {
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null || return 1
    say "installing PostgreSQL (apt-get install postgresql)"
    # Debian would also create and start a default cluster on port 5432; we need none.
    mkdir -p /etc/postgresql-common
    [[ -e /etc/postgresql-common/createcluster.conf ]] ||
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
        -o Dpkg::Options::=--force-confold postgresql)
    "${install[@]}" >/dev/null || { apt-get update -qq && "${install[@]}" >/dev/null; }
}

if [[ $# == 0 ]]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi
cmd=("$@")

bindir=$(find_bindir) || { install_postgres && bindir=$(find_bindir); } ||
    skip "no PostgreSQL server is installed and it could not be installed here" "${cmd[@]}"
version=$("$bindir/postgres" --version | awk '{print $3}')
major=${version%%.*}

# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
as_server=()
if [[ $(id -u) == 0 ]]; then
    id postgres >/dev/null 2>&1 ||
        skip "running as root and there is no 'postgres' user to run the server as" "${cmd[@]}"
    as_server=(runuser -u postgres --)
fi

# One cluster per checkout (two checkouts may test at once) and per major version; in
# .tools/pg/, or in the temporary directory when the server's user cannot reach .tools.
checkout=$(printf %s "$root" | cksum | cut -d' ' -f1)
data="$root/.tools/pg/$major-$checkout"
mkdir -p "$data"
[[ ${#as_server[@]} == 0 ]] || chown postgres: "$data"
if ! "${as_server[@]}" test -w "$data"; then
    data="${TMPDIR:-/tmp}/tollgate-pg/$major-$checkout"
    mkdir -p "$data"
    [[ ${#as_server[@]} == 0 ]] || chown postgres: "$data"
fi
chmod 700 "$data"
if [[ ! -f $data/PG_VERSION ]]; then
    find "$data" -mindepth 1 -delete
    say "initdb $data (once)"
    "${as_server[@]}" "$bindir/initdb" -D "$data" -U tollgate --auth=trust --no-sync \
        -E UTF8 --locale=C >/dev/null
    # A test server: loopback TCP only, durability traded for speed.
    cat >>"$data/postgresql.conf" <<'EOF'
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
fi

pg_ctl() { "${as_server[@]}" "$bindir/pg_ctl" -D "$data" "$@"; }
# A run that was killed before its trap ran leaves its server up: stop it first.
pg_ctl status >/dev/null 2>&1 && pg_ctl -m fast -w stop >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
trap 'pg_ctl -m fast -w stop >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM
started=$(date +%s%3N)
if ! pg_ctl -o "-p $port" -l "$data/server.log" -w -t 30 start >/dev/null; then
    say "PostgreSQL $version did not start; the end of $data/server.log:"
    tail -n 20 "$data/server.log" >&2 || true
    exit 1
fi
say "PostgreSQL $version on 127.0.0.1:$port (started in $(($(date +%s%3N) - started)) ms)"

export TOLLGATE_TEST_POSTGRES_URL="postgres://tollgate@127.0.0.1:$port/postgres"
"${cmd[@]}"
