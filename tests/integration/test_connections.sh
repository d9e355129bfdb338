#!/usr/bin/env bash
# jobsctl connections list and test, and validate's check of the steps' connections, through the
# real jobsctl against real databases: SQLite, the PostgreSQL test cluster (its password from a
# secret of the secrets file, from password_env, and a wrong one), an unreachable port, a server
# that never answers, ODBC through unixODBC's SQLite3 and PostgreSQL Unicode drivers.
#   test_connections.sh JOBSCTL   with JOBS_TEST_POSTGRES: the folder of tests/support/postgres.sh
# The work folder is removed on success, kept and named on failure.
set -uo pipefail
jobsctl=$1
pg=${JOBS_TEST_POSTGRES:?JOBS_TEST_POSTGRES names the folder of tests/support/postgres.sh}
work=$(mktemp -d /tmp/jobs-connections-XXXXXX)
source "$(dirname "$0")/expect.sh"
cd "$work"
unset JOBS_CONFIG
export JOBS_DIR=jobs

conninfo=$(cat "$pg/conninfo")
password=$(cat "$pg/password")
port=$(cat "$pg/port")
free_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A server that accepts connections and never says a word: only the timeout ends a connect.
coproc silent { exec python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(600)'; }
silent_pid=$silent_PID
read -r silent_port <&"${silent[0]}"
trap 'kill $silent_pid 2>/dev/null' EXIT

python3 -c '
import sqlite3
db = sqlite3.connect("app.db")
db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
db.commit()'
printf '# the secrets file of the config\nPG_PASSWORD=%s\n' "$password" > secrets.env
printf '%s\n' "$password" > pg.pass
cat > jobsd.yaml <<YAML
secrets_file: secrets.env
connections:
  app:
    type: sqlite
    path: app.db
  warehouse:
    type: postgresql
    conninfo: "$conninfo"
    password: \${secret.PG_PASSWORD}
  pg_env:
    type: postgresql
    url: postgresql://jobs_test@127.0.0.1:$port/jobs_test
    password_env: JOBS_TEST_PG_PASSWORD
  pg_wrong:
    type: postgresql
    conninfo: "$conninfo"
    password_env: JOBS_TEST_WRONG_PASSWORD
  pg_down:
    type: postgresql
    conninfo: host=127.0.0.1 port=$free_port dbname=jobs_test user=jobs_test
  pg_silent:
    type: postgresql
    conninfo: host=127.0.0.1 port=$silent_port dbname=jobs_test user=jobs_test
  odbc_sqlite:
    type: odbc
    connection_string: "Driver=SQLite3;Database=$work/app.db"
  odbc_pg:
    type: odbc
    connection_string: "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=$port;Database=jobs_test;Uid=jobs_test"
    password_file: pg.pass
YAML
export JOBS_TEST_PG_PASSWORD=$password JOBS_TEST_WRONG_PASSWORD=not-the-password-42
ctl() { "$jobsctl" connections "$@" --config jobsd.yaml; }

# list: where each password comes from, never the password.
out=$(ctl list)
expect "list exits 0" "0" "$?"
expect "list: name, driver, target, password source" \
  "$(printf 'app\tsqlite\t%s\tnone' "$work/app.db")" "$(grep '^app' <<<"$out")"
expect "list: a secret" \
  "$(printf 'warehouse\tpostgresql\t%s\tsecret PG_PASSWORD' "$conninfo")" "$(grep '^warehouse' <<<"$out")"
expect "list: an environment variable" "env JOBS_TEST_PG_PASSWORD" \
  "$(awk -F'\t' '$1 == "pg_env" {print $4}' <<<"$out")"
expect "list: a file" "file $work/pg.pass" "$(awk -F'\t' '$1 == "odbc_pg" {print $4}' <<<"$out")"
expect "list never shows the password" "0" "$(grep -c -- "$password" <<<"$out")"
expect "list --json" "app:sqlite:none:None odbc_pg:odbc:file:$work/pg.pass warehouse:postgresql:secret:PG_PASSWORD" \
  "$(ctl list --json | python3 -c '
import json, sys
print(" ".join("%s:%s:%s:%s" % (c["name"], c["driver"], c["password_source"], c["password_name"])
               for c in json.load(sys.stdin) if c["name"] in ("app", "odbc_pg", "warehouse")))')"

# test: SQLite, PostgreSQL with the password from the secrets file and from the environment.
out=$(ctl test app)
expect "sqlite: exit 0" "0" "$?"
expect "sqlite: ok with its version" "1" \
  "$(grep -cE '^app: ok, SQLite 3\.[0-9]+\.[0-9]+ \(sqlite, [0-9]+ ms\)$' <<<"$out")"
out=$(ctl test warehouse 2>&1)
expect "postgresql, \${secret.PG_PASSWORD} from secrets_file: exit 0" "0" "$?"
expect "postgresql: ok with the server's version" "1" \
  "$(grep -cE '^warehouse: ok, PostgreSQL [0-9]+\.[0-9]+ \(postgresql, [0-9]+ ms\)$' <<<"$out")"
out=$(ctl test pg_env 2>&1)
expect "postgresql, password_env: exit 0" "0" "$?"
expect "postgresql, password_env: ok" "1" "$(grep -c '^pg_env: ok, PostgreSQL ' <<<"$out")"
expect "test --json" "warehouse postgresql True PostgreSQL None True" \
  "$(ctl test warehouse --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["name"], r["driver"], r["ok"], r["server_version"].split()[0], r["error"],
      isinstance(r["milliseconds"], int))')"
out=$(env -u JOBS_TEST_PG_PASSWORD "$jobsctl" connections test pg_env --config jobsd.yaml 2>&1)
expect "an unset password variable: exit 1" "1" "$?"
expect "an unset password variable: says which" \
  'jobsctl: connection "pg_env": the environment variable JOBS_TEST_PG_PASSWORD is not set' "$out"

# Failures: libpq's own message, exit 1, and never the password.
out=$(ctl test pg_wrong 2>&1)
expect "a wrong password: exit 1" "1" "$?"
expect "a wrong password: libpq's message" \
  "jobsctl: connection \"pg_wrong\": connection to server at \"127.0.0.1\", port $port failed: FATAL:  password authentication failed for user \"jobs_test\"" \
  "$out"
expect "a wrong password is not printed" "0" "$(grep -c -- "$JOBS_TEST_WRONG_PASSWORD" <<<"$out")"
out=$(ctl test pg_wrong --json)
expect "a wrong password, --json" "False None True" \
  "$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print(r["ok"], r["server_version"], "password authentication failed" in r["error"])' "$out")"
out=$(ctl test pg_down 2>&1)
expect "an unreachable port: exit 1" "1" "$?"
expect "an unreachable port: connection refused" "1" \
  "$(grep -c "^jobsctl: connection \"pg_down\": connection to server at \"127.0.0.1\", port $free_port failed: Connection refused" <<<"$out")"
# libpq waits at least 2s whatever the timeout; the bound is generous.
start=$(date +%s)
out=$(ctl test pg_silent --timeout 1s 2>&1)
code=$?
elapsed=$(($(date +%s) - start))
expect "a server that never answers: exit 1" "1" "$code"
expect "a server that never answers: the timeout" \
  "jobsctl: connection \"pg_silent\": connection to server at \"127.0.0.1\", port $silent_port failed: timeout expired" \
  "$out"
expect "a server that never answers: --timeout applies" "yes" "$([ "$elapsed" -lt 10 ] && echo yes || echo "no (${elapsed}s)")"

# An unknown name: exit 2, the known names and the nearest one.
out=$(ctl test warehous 2>&1)
expect "an unknown name: exit 2" "2" "$?"
expect "an unknown name: did you mean" \
  'jobsctl: unknown connection "warehous"; did you mean "warehouse"? (connections of jobsd.yaml: app, odbc_pg, odbc_sqlite, pg_down, pg_env, pg_silent, pg_wrong, warehouse)' \
  "$out"

# ODBC through unixODBC: the SQLite3 driver, and PostgreSQL Unicode with the password file.
out=$(ctl test odbc_sqlite 2>&1)
expect "odbc, SQLite3 driver: exit 0" "0" "$?"
expect "odbc, SQLite3 driver: ok" "1" "$(grep -cE '^odbc_sqlite: ok, SQLite 3\.[0-9.]+ \(odbc, [0-9]+ ms\)$' <<<"$out")"
out=$(ctl test odbc_pg 2>&1)
expect "odbc, PostgreSQL Unicode driver: exit 0" "0" "$?"
expect "odbc, PostgreSQL Unicode driver: ok" "1" "$(grep -cE '^odbc_pg: ok, PostgreSQL [0-9.]+ \(odbc, [0-9]+ ms\)$' <<<"$out")"

# All of them: one line each, exit 1 as some fail, the password nowhere.
out=$(ctl test --timeout 2s 2>&1)
expect "test without a name tests all: exit 1" "1" "$?"
expect "test without a name: 5 ok" "5" "$(grep -c ': ok, ' <<<"$out")"
expect "test without a name: 3 failed" "3" "$(grep -c '^jobsctl: connection ' <<<"$out")"
expect "the password is in no output" "0" "$(grep -c -- "$password" <<<"$out")"
expect "test --json without a name: a list" "8" \
  "$(ctl test --timeout 2s --json 2>/dev/null | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"

# A missing SQLite file is a failure, not a new empty database.
cat > missing.yaml <<'YAML'
connections:
  gone:
    type: sqlite
    path: data/none.db
YAML
out=$("$jobsctl" connections test gone --config missing.yaml 2>&1)
expect "a missing sqlite file: exit 1" "1" "$?"
expect "a missing sqlite file: says so" \
  "jobsctl: connection \"gone\": no such file: $work/data/none.db (opening it would create an empty database)" "$out"
expect "and creates nothing" "no" "$([ -e data/none.db ] && echo yes || echo no)"

# validate: with the config, a step's unknown connection is an error at its place; without a
# config, a warning only, so that CI without the daemon's config passes.
mkdir jobs
cat > jobs/nightly.yaml <<'YAML'
schedule: "0 3 * * *"
steps:
  - id: extract
    type: sql
    connection: warehous
    query: SELECT 1
  - id: export
    type: data_export
    connection: warehouse
    query: SELECT 1 AS one
    output: /tmp/x.csv
YAML
out=$("$jobsctl" validate --config jobsd.yaml)
expect "validate with the config: exit 2" "2" "$?"
expect "validate: the unknown connection at its line:col" \
  'jobs/nightly.yaml:5:17: error: unknown connection "warehous"; did you mean "warehouse"? (connections of jobsd.yaml: app, odbc_pg, odbc_sqlite, pg_down, pg_env, pg_silent, pg_wrong, warehouse)' \
  "$(head -1 <<<"$out")"
expect "validate: the caret under the name" "                  ^~~~~~~~" "$(sed -n 3p <<<"$out")"
expect "validate: summary" "1 job, 1 error, 0 warnings" "$(tail -1 <<<"$out")"
expect "validate --format json: the same finding" "error 5 17" \
  "$("$jobsctl" validate --config jobsd.yaml --format json | python3 -c '
import json, sys
f = json.loads(sys.stdin.readline())
print(f["severity"], f["line"], f["column"])')"
expect "JOBS_CONFIG names the config too" "2" \
  "$(JOBS_CONFIG=jobsd.yaml "$jobsctl" validate >/dev/null; echo $?)"
if [ -e /etc/jobs/jobsd.yaml ]; then
  echo "skip validate without a config: /etc/jobs/jobsd.yaml exists"
else
  out=$("$jobsctl" validate)
  expect "validate without a config: exit 0" "0" "$?"
  expect "validate without a config: a warning per step" \
    'jobs/nightly.yaml:5:17: warning: connection "warehous" not checked: no daemon configuration (give --config FILE or set JOBS_CONFIG)' \
    "$(head -1 <<<"$out")"
  expect "validate without a config: summary" "1 job, 0 errors, 2 warnings" "$(tail -1 <<<"$out")"
  "$jobsctl" validate --strict >/dev/null
  expect "validate --strict without a config fails" "2" "$?"
fi
printf 'smtp: { host: 127.0.0.1 }\n' > no-connections.yaml
expect "a config without connections: warnings" \
  'jobs/nightly.yaml:5:17: warning: connection "warehous" not checked: no-connections.yaml has no connections' \
  "$("$jobsctl" validate --config no-connections.yaml | head -1)"
cat > jobs/tell.yaml <<'YAML'
steps:
  - type: email
    to: ops@example.com
    subject: done
YAML
expect "an email step and a config without smtp: a warning" \
  "jobs/tell.yaml:2:11: warning: jobsd.yaml has no smtp server: this step fails when it sends mail" \
  "$("$jobsctl" validate --config jobsd.yaml jobs/tell.yaml | head -1)"
printf 'connections:\n  w:\n    type: postgres\n    conninfo: host=x\n' > broken.yaml
out=$("$jobsctl" validate --config broken.yaml 2>&1)
expect "a config with errors: exit 2" "2" "$?"
expect "a config with errors: its place" \
  'broken.yaml:3:11: error: "connections.w.type": expected sqlite, postgresql or odbc, got "postgres"' \
  "$(head -1 <<<"$out")"

if finish; then
  cd /
  rm -rf "$work"
else
  echo "kept $work"
  exit 1
fi
