#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests.
#   postgres.sh start DIR   initdb in DIR, start it on a free loopback port, create the role
#                           and database jobs_test; writes DIR/conninfo, DIR/password, DIR/port
#   postgres.sh stop DIR    stop it and remove DIR
# Both are idempotent. As root the server runs as the postgres user.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
command=$1
dir=$2

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "$0: no PostgreSQL server in /usr/lib/postgresql/*/bin" >&2
  exit 1
fi

as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [ -f "$dir/data/PG_VERSION" ] && as_server "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

case $command in
start)
  if running && [ -f "$dir/conninfo" ]; then
    exit 0
  fi
  if [ -f "$dir/data/PG_VERSION" ]; then
    as_server "$bin/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
  fi
  cd "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  # Superuser over the Unix socket in DIR only (trust); every TCP login needs a password.
  as_server "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
password_encryption = 'scram-sha-256'
fsync = off
max_connections = 40
CONF
  as_server "$bin/pg_ctl" start -D "$dir/data" -w -t 60 -l "$dir/server.log" >/dev/null || {
    cat "$dir/server.log" >&2
    exit 1
  }
  psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres)
  as_server "${psql[@]}" -c "CREATE ROLE jobs_test LOGIN PASSWORD '$password'" \
    -c "CREATE DATABASE jobs_test OWNER jobs_test"
  echo "host=127.0.0.1 port=$port dbname=jobs_test user=jobs_test" >"$dir/conninfo"
  echo "$password" >"$dir/password"
  echo "$port" >"$dir/port"
  ;;
stop)
  if running; then
    as_server "$bin/pg_ctl" stop -D "$dir/data" -m fast -w >/dev/null
  fi
  rm -rf "$dir"
  ;;
*)
  usage
  ;;
esac
