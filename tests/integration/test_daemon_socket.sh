#!/usr/bin/env bash
# jobsd's control socket: a real daemon on a temporary folder and socket, driven by the real
# jobsctl and by raw clients speaking the protocol (python3). The socket's mode and group, the
# hello, who may do what (readers, admins, an admin group) and the audit of every mutating
# command, malformed and oversized requests, a half-sent request, many clients at once, a client
# that does not read; afterwards the daemon is still the same process with its jobs scheduled.
# Then a second jobsd on the same state folder, and jobsctl with no daemon.
#
#   test_daemon_socket.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
work=$(mktemp -d /tmp/jobs-socket-XXXXXX)
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/daemon.sh"
cd "$work" || exit 1
# mktemp makes 0700: nobody must reach the sockets in run/ (the state folders stay 0750).
chmod 755 "$work"
mkdir -m 755 jobs run
export JOBS_STATE_DIR="$work/state" JOBS_SOCKET="$work/run/jobsd.sock"
sock=$JOBS_SOCKET
group=""       # a throwaway group with the user nobody in it, deleted by cleanup
http_port="" # with it, start_daemon also serves the HTTP API on this loopback port
timeout_pid="" # the client that waits for the 10 s timeout of a half-sent request

cleanup() {
  for state in "$work"/*state; do
    [ -d "$state" ] && stop_daemon "$state"
  done
  [ -n "$timeout_pid" ] && kill "$timeout_pid" 2>/dev/null
  if [ -n "$group" ]; then
    groupdel "$group" 2>/dev/null
    group=""
  fi
  cd /
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# start_daemon STATE SOCKET [ACCESS_LINE...]: writes STATE.yaml and starts a jobsd on the jobs
# folder (it detaches once it is ready: no waiting afterwards); returns jobsd's exit status.
start_daemon() {
  local state=$1 socket=$2
  shift 2
  {
    echo "socket: $socket"
    echo "default_timezone: UTC"
    echo "grace_period: 2s"
    [ -n "$http_port" ] && printf 'http:\n  listen: 127.0.0.1:%s\n' "$http_port"
    echo "access:"
    printf '  %s\n' "$@"
  } > "$state.yaml"
  # The socket is the configuration's: JOBS_SOCKET, which the jobsctl calls use, would win.
  env -u JOBS_SOCKET "$jobsd" --config "$work/$state.yaml" --jobs-dir "$work/jobs" --state-dir "$work/$state"
}

# raw SOCKET [ARG...] <<'PY': runs the python code on stdin after the helpers below; `path` is
# the socket, `args` the other arguments. Every read times out after 5 s instead of hanging.
helpers='
import json, socket, sys, threading, time
path, args = sys.argv[1], sys.argv[2:]

def connect(timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    f = s.makefile("rb")
    return s, f, json.loads(f.readline())

def ask(s, f, line):
    try:
        s.sendall(line + b"\n")
    except OSError as e:
        return {"closed": type(e).__name__}
    return read(f)

def read(f):
    try:
        line = f.readline()
    except TimeoutError:
        return {"timeout": True}
    except OSError as e:
        return {"closed": type(e).__name__}
    return json.loads(line) if line else {"closed": "eof"}

def request(id, cmd, **args):
    message = {"v": 1, "id": id, "cmd": cmd, "args": args}
    return json.dumps(message, separators=(",", ":")).encode()

def shown(r):
    if "closed" in r:
        return "closed"
    if "timeout" in r:
        return "no reply in time"
    if "error" in r:
        return "%s %s %s" % (json.dumps(r["id"]), r["error"]["code"], r["error"]["message"])
    return "%s ok" % json.dumps(r["id"])
'
raw() {
  python3 - "$@" <<<"$helpers$(cat)"
}

sql() {
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
for row in db.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
}

# audit_row STATE COLUMNS: the newest row of the audit table of the jobsd of STATE.
audit_row() {
  sql "$1/history.db" "select $2 from audit order by rowid desc limit 1"
}

# The last line of an audit.log without its time and the client's pid.
last_audit() {
  tail -1 "$1/logs/audit.log" | sed -E 's/^[^ ]+ //; s/ pid=[0-9]+ / pid=P /'
}

# survives NAME: after request NAME, the daemon still takes a new client and answers it. When it
# does not, it is started again (once the dying one is gone) so that the other checks can run.
survives() {
  local answer
  answer=$(raw "$sock" <<'PY'
try:
    s, f, h = connect()
    r = ask(s, f, request(1, "version"))
    print("answers" if "result" in r else shown(r))
except OSError as e:
    print(type(e).__name__)
PY
)
  expect "the daemon survives it ($1)" "answers" "$answer"
  if [ "$answer" != answers ]; then
    echo "note: jobsd died; starting it again so that the other checks can run"
    stop_daemon state
    start_daemon state "$sock" "socket_group: nogroup" "readers: all"
  fi
}

cat > jobs/nightly.yaml <<'YAML'
schedule: "0 3 * * *"
command: "true"
YAML
cat > jobs/sleeper.yaml <<'YAML'
schedule: "0 4 * * *"
command: "sleep 300"
YAML

# The first daemon also serves the HTTP API (on a free loopback port), whose requests must take
# none of the socket's slots.
http_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_daemon state "$sock" "socket_group: nogroup" "readers: all"
api=http://127.0.0.1:$http_port
http_port=""
expect "jobsd starts and detaches once ready" "0" "$?"
pid=$(cat state/jobsd.lock)

# 1. The socket: mode 0660, the daemon's user, the configured group.
expect "socket mode, owner and group" "660 $(id -un) nogroup" "$(stat -c '%a %U %G' "$sock")"

# 2. The hello, before any request.
expect "hello" "jobsd 1 $(id -un) admin=True read=True pid=$pid missing=" "$(raw "$sock" <<'PY'
s, f, h = connect()
wanted = ["status", "list", "show", "history", "logs", "version", "trigger", "cancel", "reload",
          "enable", "disable", "schedule", "follow"]
missing = [c for c in wanted if c not in h.get("capabilities", [])]
print(h["hello"], h["v"], h["user"], "admin=%s read=%s" % (h["admin"], h["read"]),
      "pid=%s" % h["pid"], "missing=" + ",".join(missing))
PY
)"

# An admin's mutating commands: done, and audited as ok.
out=$("$jobsctl" trigger sleeper)
expect "an admin triggers a job" "0 triggered sleeper" "$? $(cut -d: -f1 <<<"$out")"
sleeper=$(sed -E 's/.*execution ([^ ]+) .*/\1/' <<<"$out")
expect "the admin's trigger is audited" "$(id -un)|$(id -u)|trigger|sleeper|ok" \
  "$(audit_row state "user_name, uid, action, target, outcome")"

# 3. Who may do what. CI runs as root; nobody is the non-admin.
as_nobody=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
elif [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
  as_nobody=(runuser -u nobody -g nogroup --)
fi
if [ ${#as_nobody[@]} -eq 0 ]; then
  echo "skip the checks as another user (they need root and setpriv or runuser)"
else
  out=$("${as_nobody[@]}" "$jobsctl" status 2>&1)
  expect "nobody may read (readers: all)" "0 jobsd" "$? $(head -1 <<<"$out" | cut -d' ' -f1)"
  out=$("${as_nobody[@]}" "$jobsctl" trigger nightly 2>&1)
  expect "nobody may not trigger: exit 77" "77" "$?"
  expect "nobody may not trigger: the message" \
    "jobsctl: user nobody may not use mutating commands (trigger): admins only" "$out"
  expect "the refusal is in the audit table" \
    "nobody|65534|trigger|nightly|denied: user nobody may not use mutating commands (trigger): admins only" \
    "$(audit_row state "user_name, uid, action, target, outcome")"
  expect "the refusal is in audit.log" \
    'user=nobody uid=65534 pid=P action=trigger target="nightly" outcome=denied: user nobody may not use mutating commands (trigger): admins only args={"job":"nightly","wait":false,"follow":false}' \
    "$(last_audit state)"
  out=$("${as_nobody[@]}" "$jobsctl" cancel "$sleeper" 2>&1)
  expect "nobody may not cancel" \
    "77 jobsctl: user nobody may not use mutating commands (cancel): admins only" "$? $out"
  expect "nobody's cancel is audited" "nobody|cancel|$sleeper|denied" \
    "$(audit_row state "user_name, action, target, substr(outcome, 1, 6)")"

  # A raw client as nobody: its hello says what it may do.
  nobody_python=""
  for p in python3 /usr/bin/python3; do
    if "${as_nobody[@]}" "$p" -c '' 2>/dev/null; then
      nobody_python=$p
      break
    fi
  done
  if [ -z "$nobody_python" ]; then
    echo "skip nobody's raw client (no python3 that nobody may run)"
  else
    expect "nobody's hello" "nobody admin=False read=True" \
      "$("${as_nobody[@]}" "$nobody_python" - "$sock" <<<"$helpers"'
s, f, h = connect()
print(h["user"], "admin=%s read=%s" % (h["admin"], h["read"]))')"
    # A refused command with an argument of the wrong type: refused, audited, and the daemon
    # goes on (any user of the socket could otherwise stop it).
    expect "nobody's trigger with a number for the job: refused" \
      "7 denied user nobody may not use mutating commands (trigger): admins only | 8 ok" \
      "$("${as_nobody[@]}" "$nobody_python" - "$sock" <<<"$helpers"'
s, f, h = connect()
first = shown(ask(s, f, request(7, "trigger", job=5)))
print(first, "|", shown(ask(s, f, request(8, "version"))))')"
    expect "nobody's wrong-typed trigger is audited" 'nobody|trigger|{"job":5}|denied' \
      "$(audit_row state "user_name, action, detail, substr(outcome, 1, 6)")"
    survives "nobody's wrong-typed refused trigger"
  fi

  # readers: admins: nobody may not even read.
  start_daemon admins-state "$work/run/admins.sock" "socket_group: nogroup" "readers: admins"
  out=$(JOBS_SOCKET="$work/run/admins.sock" "${as_nobody[@]}" "$jobsctl" status 2>&1)
  expect "readers: admins: nobody's status is denied" "77 jobsctl: user nobody may not use jobsd" \
    "$? $out"
  expect "readers: admins: root still reads" "0" \
    "$(JOBS_SOCKET="$work/run/admins.sock" "$jobsctl" status >/dev/null; echo $?)"
  stop_daemon admins-state

  # access.admin_group: a throwaway group with nobody in it, deleted by cleanup. Its members reach
  # the socket through that group too (socket_group), so nobody runs with its groups here.
  if command -v groupadd >/dev/null && command -v gpasswd >/dev/null; then
    group=jobs-test-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
    if groupadd "$group" && gpasswd -a nobody "$group" >/dev/null; then
      start_daemon group-state "$work/run/group.sock" "socket_group: $group" "admin_group: $group" \
        "readers: admins"
      expect "the socket has the configured group" "660 $group" \
        "$(stat -c '%a %G' "$work/run/group.sock")"
      as_member=(setpriv --reuid=nobody --regid=nogroup --init-groups)
      [ "${as_nobody[0]}" = runuser ] && as_member=(runuser -u nobody --)
      out=$(JOBS_SOCKET="$work/run/group.sock" "${as_member[@]}" "$jobsctl" trigger nightly 2>&1)
      expect "a member of admin_group may trigger" "0 triggered nightly" "$? $(cut -d: -f1 <<<"$out")"
      expect "and it is audited as theirs" "nobody|65534|trigger|nightly|ok" \
        "$(audit_row group-state "user_name, uid, action, target, outcome")"
      expect "a member of admin_group may read (readers: admins)" "0" \
        "$(JOBS_SOCKET="$work/run/group.sock" "${as_member[@]}" "$jobsctl" status >/dev/null 2>&1; echo $?)"
      out=$(JOBS_SOCKET="$work/run/group.sock" "${as_nobody[@]}" "$jobsctl" status 2>&1)
      expect "without the group, nobody cannot reach that socket" \
        "3 jobsctl: cannot connect to jobsd at $work/run/group.sock: Permission denied" "$? $out"
      stop_daemon group-state
    else
      echo "skip the admin_group checks (cannot make the group $group)"
    fi
  else
    echo "skip the admin_group checks (no groupadd or gpasswd)"
  fi
fi

# 4. Malformed requests on one connection: each answered with its error, and the connection
# goes on.
expect "malformed requests" "null bad_request the request is not JSON
1 ok
null bad_request a request is a JSON object {\"v\":1,\"id\":N,\"cmd\":...,\"args\":{...}}
null bad_request \"id\" must be an integer
null bad_request \"id\" must be an integer
4 bad_request \"cmd\" must be a command name
5 bad_request \"args\" must be an object
6 bad_request protocol version 2 is not supported (this daemon speaks 1)
7 unknown_command unknown command \"statsu\"; did you mean \"status\"?
8 invalid \"limit\" must be an integer
9 not_found no job \"nightlly\" in $work/jobs; did you mean \"nightly\"?
10 ok" "$(raw "$sock" <<'PY'
s, f, h = connect()
for line in [b"nonsense", b'{"v":1,"id":1,"cmd":"version"}', b"[1,2]", b'{"v":1,"cmd":"status"}',
             b'{"v":1,"id":"2","cmd":"status"}', b'{"v":1,"id":4}',
             b'{"v":1,"id":5,"cmd":"status","args":[1]}', b'{"v":2,"id":6,"cmd":"status"}',
             request(7, "statsu"), request(8, "history", limit="x"), request(9, "show", job="nightlly"),
             request(10, "status")]:
    print(shown(ask(s, f, line)))
PY
)"

# Arguments of the wrong type: invalid, audited when the command mutates, and the daemon goes on.
# wrong_type NAME REQUEST EXPECTED_REPLY
wrong_type() {
  expect "$1" "$3 | 99 ok" "$(raw "$sock" "$2" <<'PY'
s, f, h = connect()
first = shown(ask(s, f, args[0].encode()))
print(first, "|", shown(ask(s, f, request(99, "version"))))
PY
)"
  survives "$1"
}
wrong_type "show with a number for the job" '{"v":1,"id":3,"cmd":"show","args":{"job":5}}' \
  '3 invalid "job" must be a string'
wrong_type "trigger with wait: \"yes\"" \
  '{"v":1,"id":3,"cmd":"trigger","args":{"job":"nightly","wait":"yes"}}' \
  '3 invalid "wait" must be true or false'
wrong_type "trigger with a number for the job" '{"v":1,"id":3,"cmd":"trigger","args":{"job":5}}' \
  '3 invalid "job" must be a string'
expect "the invalid trigger is audited" 'trigger|{"job":5}|invalid: "job" must be a string' \
  "$(audit_row state "action, detail, outcome")"
wrong_type "trigger with a null job" '{"v":1,"id":3,"cmd":"trigger","args":{"job":null}}' \
  '3 invalid "job" is required'
wrong_type "cancel with a number for the execution" \
  '{"v":1,"id":3,"cmd":"cancel","args":{"execution":5}}' '3 invalid "execution" must be a string'
wrong_type "disable with a list for the job" '{"v":1,"id":3,"cmd":"disable","args":{"job":["a"]}}' \
  '3 invalid "job" must be a string'

# The 10 s limit of a request line: a client that sends half a request and waits is told and
# closed. It runs in the background while the other checks go on (a flood of requests among
# them, which can make jobsd's check of slow clients late: up to 25 s); collected below.
raw "$sock" > timeout.out <<'PY' &
s, f, h = connect(timeout=40)
s.sendall(b'{"v":1,"id":1,"cmd":"sta')
start = time.monotonic()
r = read(f)
elapsed = time.monotonic() - start
print(shown(r), "|", shown(read(f)), "|", "9-25 s" if 9 <= elapsed <= 25 else "%.1f s" % elapsed)
PY
timeout_pid=$!

# Oversized requests: over 64 KiB without a newline is refused and closed; so is a complete line.
expect "a request over 64 KiB without its newline" \
  "null too_large request longer than 65536 bytes; closing | closed" "$(raw "$sock" <<'PY'
s, f, h = connect()
try:
    s.sendall(b"x" * (70 * 1024))
except OSError:
    pass # closed before it took all
print(shown(read(f)), "|", shown(read(f)))
PY
)"
expect "a complete request line over 64 KiB" \
  "null too_large request of 70047 bytes; the limit is 65536 | closed" "$(raw "$sock" <<'PY'
s, f, h = connect()
line = request(1, "status", pad="x" * 70000)
print(shown(ask(s, f, line)), "|", shown(ask(s, f, request(2, "version"))))
PY
)"
expect "a request of exactly 64 KiB is answered" "65536 1 ok" "$(raw "$sock" <<'PY'
s, f, h = connect()
pad = 65536 - len(request(1, "version", pad=""))
line = request(1, "version", pad="x" * pad)
print(len(line), shown(ask(s, f, line)))
PY
)"

# A half-sent request holds up no one: another client is answered at once, and the first is
# answered when it completes its line.
expect "a half-sent request blocks no other client" "answered within 2 s | 1 ok" \
  "$(raw "$sock" <<'PY'
a, fa, _ = connect()
a.sendall(b'{"v":1,"id":1,"cmd":"sta')
b, fb, _ = connect()
start = time.monotonic()
r = ask(b, fb, request(2, "status"))
took = time.monotonic() - start
prompt = r.get("id") == 2 and "result" in r and took < 2
print("answered within 2 s" if prompt else "%s in %.1f s" % (shown(r), took), "|",
      shown(ask(a, fa, b'tus"}')))
PY
)"

# 5. 100 clients at once: all connected, then all asking together; each gets its own reply.
expect "100 clients at once" "100 answered" "$(raw "$sock" <<'PY'
n = 100
ready = threading.Barrier(n)
answered = []
def client(i):
    try:
        s, f, h = connect()
        ready.wait(timeout=10)
        r = ask(s, f, request(i, "status" if i % 2 else "list"))
        if r.get("id") == i and "result" in r:
            answered.append(i)
        s.close()
    except Exception as e:
        print("client %d: %r" % (i, e))
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(answered), "answered")
PY
)"
expect "then jobsctl status" "0" "$("$jobsctl" status >/dev/null; echo $?)"

# A client that sends many requests and reads none of the replies: dropped once more than 16 MiB
# waits for it (about 25000 replies to status; it sends 40000 requests), and the daemon says so
# in its log. The client learns of the drop by a failed send or a hang-up, never by reading.
expect "a client that does not read is dropped" "dropped" "$(raw "$sock" <<'PY'
import select
s, f, h = connect(timeout=30)
chunk = b"".join(request(i, "status") + b"\n" for i in range(1000))
outcome = None
try:
    for _ in range(40):
        s.sendall(chunk)
except TimeoutError:
    outcome = "the daemon stopped reading"
except OSError:
    outcome = "dropped"
if outcome is None:
    hangup = select.poll()
    hangup.register(s, select.POLLRDHUP)
    outcome = "dropped" if hangup.poll(30000) else "not dropped within 30 s"
print(outcome)
PY
)"
expect "its log says so" "1" "$(grep -c 'reads too slowly' state/logs/jobsd.log)"

# The half-sent request of the background client: told, then closed, after 10 s.
wait "$timeout_pid"
timeout_pid=""
expect "a request not completed within 10 s" \
  "null bad_request request not completed within 10s; closing | closed | 9-25 s" "$(cat timeout.out)"

# At most 1024 clients: the next one is told so and closed; once they leave, clients come back.
# No other client of the socket is connected now; 8 HTTP log streams (of the sleeper, which
# prints nothing) are, and take none of the 1024 slots.
viewer=$("$jobsctl" token create socket-viewer --role viewer 2> /dev/null)
sockets() { find "/proc/$pid/fd" -lname 'socket:*' | wc -l; }
before=$(sockets)
streams=()
for _ in $(seq 8); do
  curl -s -N --max-time 60 -H "Authorization: Bearer $viewer" -H "Accept: text/event-stream" \
    "$api/api/v2/executions/$sleeper/log" > /dev/null &
  streams+=($!)
done
# Each stream is a connection and a bridge (a socket pair): 3 sockets.
wait_for 10 eval '[ "$(sockets)" -ge $((before + 24)) ]'
expect "8 HTTP log streams are open" "0" "$?"
out=$(raw "$sock" <<'PY'
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < 1100:
    print("skip at most 1024 clients (this test may open only %d files)" % hard)
    sys.exit()
resource.setrlimit(resource.RLIMIT_NOFILE, (4096 if hard == resource.RLIM_INFINITY else hard, hard))
clients, refused = [], None
for i in range(1025):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    f = s.makefile("rb")
    m = read(f)
    if "hello" not in m:
        refused = m
        break
    clients.append((s, f))
print(len(clients), "|", shown(refused) if refused else "none refused")
PY
)
if [[ $out == skip* ]]; then
  echo "$out"
else
  expect "at most 1024 clients" "1024 | null denied too many clients (1024); try again" "$out"
  # The daemon sees the 1024 leave in its own time: poll until it takes a client again.
  wait_for 10 "$jobsctl" status
  expect "after the 1024 left, jobsctl status" "0" "$("$jobsctl" status >/dev/null; echo $?)"
fi
kill "${streams[@]}" 2> /dev/null
wait "${streams[@]}" 2> /dev/null

# 6. After all of that: the same daemon, its jobs scheduled, the triggered job still running,
# and no internal error in its log.
# The jobs fire at 03:00 and 04:00 UTC: the next is 04:00 during the hour between them.
next=T03:00:00Z
[ "$(date -u +%H)" = 03 ] && next=T04:00:00Z
expect "the same daemon, its jobs scheduled, the sleeper running" \
  "pid=$pid jobs=2 enabled=2 scheduled=2 next=$next running=sleeper:$sleeper" \
  "$("$jobsctl" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
j = s["jobs"]
print("pid=%s" % s["pid"], "jobs=%s enabled=%s scheduled=%s" % (j["total"], j["enabled"], j["scheduled"]),
      "next=" + (s["next_fire"] or "-")[10:],
      "running=" + ",".join(r["job_id"] + ":" + r["execution_id"] for r in s["running"]))')"
expect "no internal error in jobsd.log" "0" "$(grep -c 'internal error' state/logs/jobsd.log)"
expect "no error at all in jobsd.log" "" "$(grep -E '^[^ ]+ error ' state/logs/jobsd.log 2>&1)"
out=$("$jobsctl" cancel "$sleeper")
expect "an admin cancels the sleeper" \
  "0 cancelling execution $sleeper of job sleeper (SIGTERM to its processes, then SIGKILL)" "$? $out"

# 8. A second jobsd on the same state folder refuses; so does one on another daemon's socket.
out=$("$jobsd" --config "$work/state.yaml" --jobs-dir "$work/jobs" --state-dir "$work/state" 2>&1)
expect "a second jobsd on the same state folder: exit 1" "1" "$?"
expect "a second jobsd on the same state folder: the message" \
  "jobsd: error: another jobsd (pid $(cat state/jobsd.lock)) uses the state folder $work/state" "$out"
out=$("$jobsd" --config "$work/state.yaml" --jobs-dir "$work/jobs" --state-dir "$work/other-state" 2>&1)
expect "a jobsd on another daemon's socket" "1 jobsd: error: another jobsd listens on $sock" "$? $out"
expect "its jobsd.log says why it did not start, not only standard error" \
  "error cannot start: another jobsd listens on $sock" \
  "$(tail -n 1 other-state/logs/jobsd.log | cut -d' ' -f2-)"

# 7. No daemon: jobsctl says so and exits 3; the stopped daemon removed its socket.
stop_daemon state
expect "jobsd stops on SIGTERM" "gone" "$(alive "$(cat state/jobsd.lock)" && echo running || echo gone)"
expect "its socket is removed" "no socket" "$([ -e "$sock" ] && echo socket || echo no socket)"
out=$("$jobsctl" status 2>&1)
expect "jobsctl status with no daemon" "3 jobsctl: jobsd is not running (no socket at $sock)" "$? $out"
out=$(env -u JOBS_SOCKET "$jobsctl" status 2>&1)
expect "jobsctl status with no daemon, the state folder's socket" \
  "3 jobsctl: jobsd is not running (no socket at $work/state/jobsd.sock)" "$? $out"

if finish; then
  cleanup
  rm -rf "$work"
else
  echo "kept $work"
  exit 1
fi
