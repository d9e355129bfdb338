#!/usr/bin/env bash
# What a root jobsd writes, its history store, its socket and its audit log, attacked by local
# users (issue 16), against the real jobsd and jobsctl:
#   1. Started under umask 000, every folder and file it makes has its documented mode (folders
#      0750, files 0640, history.db 0600) and none is writable by others (a step's files get the
#      umask jobsd was started with, as cron's do); a member of the
#      socket's group who is not a reader cannot read jobs.jsonl, jobsd.log, a zone log or an
#      execution's log directly.
#   2. A symbolic link planted in place of jobs.jsonl (while jobsd runs) or of a zone log (before
#      it opens it) makes jobsd append to nothing outside: the link's target is unchanged, and a
#      link found in the log folder at start is refused.
#   3. A refused request whose job name holds a newline, a forged audit line and ESC stays one
#      escaped line in audit.log; jobsd.log holds no raw ESC; refused reads are counted there.
#   4. One user holding many connections gets 64; another user and root still connect; users
#      filling every slot but the admins' reserve do not lock root out; refusals are logged with
#      a count; idle connections are closed after client_idle_timeout.
#   5. An empty or missing history.db where jobsd ran before is refused at start, naming the
#      recovery; --new-store accepts it and says so in jobsd.log.
#   6. Rotation (jobsd started under umask 000) keeps the modes: audit.log and jobsd.log are
#      made anew 0640, their rotated files stay 0640.
#
#   test_security_daemon.sh JOBSCTL JOBSD   (as root, else exit 77: skipped; JOBS_TEST_KEEP=1
#                                           keeps the temporary folder)
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
  echo "skipped: test_security_daemon.sh needs root and setpriv (other users, jobsd as root)"
  exit 77
fi
new_work secd
mkdir jobs
logs=$state/logs

# The socket's group, two of its members (neither an admin nor a reader).
tag=$$
group="jsd$tag"
member="jsdm$tag"
other="jsdo$tag"
groupadd "$group" && made_groups+=("$group") || exit 1
for u in "$member" "$other"; do
  useradd -M -N -g "$group" -d "/nonexistent-$u" -s /usr/sbin/nologin "$u" && made_users+=("$u") ||
    exit 1
done
gid=$(getent group "$group" | cut -d: -f3)
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$group" --init-groups "$@"; }

cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
grace_period: 2s
client_idle_timeout: 5s
access: { socket_group: $group, readers: admins }
YAML
cat > jobs/hello.yaml <<'YAML'
schedule: "0 0 1 1 *"
command: "echo hello-output; echo made > step-file"
working_directory: WORK
YAML
sed -i "s|WORK|$work|" jobs/hello.yaml

start_daemon() {
  "$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state" "$@"
}

# The mode of PATH in octal (0750).
mode() { stat -c %04a "$1"; }

# Python helpers on the socket, as root (they change their own uid):
#   request UID JSON      sends one request line as UID (group: the socket's); prints the reply,
#                         or the refusal that came instead of the hello
#   hold UID0 USERS N DIR  as USERS uids from UID0, opens N connections each; writes DIR/ready
#                          once all are made, keeps them busy (a request a second each) until
#                          DIR/done exists, then waits for jobsd to close them; prints one line
#                          per uid: "UID accepted A refused R closed C seconds S [message]"
cat > clients.py <<'PY'
import json, os, select, socket, sys, time, traceback

path, gid = sys.argv[1], int(sys.argv[2])

def become(uid):
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)

def first_line(s, limit=10):
    s.settimeout(limit)
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").split("\n")[0]

def hold(uid, n, folder):
    become(uid)
    held, refused, message = [], 0, ""
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        line = first_line(s)
        if '"hello"' in line:
            held.append(s)
        else:
            refused += 1
            message = json.loads(line)["error"]["message"] if line else "closed"
            s.close()
    open(f"{folder}/ready.{uid}", "w").close()
    # Busy: each sends a request a second, so none is idle while the others check.
    while not os.path.exists(f"{folder}/done"):
        for s in held:
            s.sendall(b'{"id":1,"cmd":"version"}\n')
        for s in held:
            first_line(s)
        time.sleep(1)
    # Idle now: jobsd closes each after client_idle_timeout (a bound of 60 s here).
    start, open_ = time.monotonic(), list(held)
    while open_ and time.monotonic() - start < 60:
        readable, _, _ = select.select(open_, [], [], 1)
        for s in readable:
            if not s.recv(65536):
                open_.remove(s)
    print(f"{uid} accepted {len(held)} refused {refused} closed {len(held) - len(open_)} "
          f"seconds {round(time.monotonic() - start)} {message}".rstrip(), flush=True)

if sys.argv[3] == "request":
    become(int(sys.argv[4]))
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    hello = first_line(s)
    if '"hello"' in hello:
        s.sendall(sys.argv[5].encode() + b"\n")
    print(hello if '"hello"' not in hello else first_line(s))
else:
    uid0, users, n, folder = map(str, sys.argv[4:8])
    children = []
    for uid in range(int(uid0), int(uid0) + int(users)):
        pid = os.fork()
        if pid == 0:
            try:
                hold(uid, int(n), folder)
                os._exit(0)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
PY
clients() { python3 "$work/clients.py" "$work/jobsd.sock" "$gid" "$@"; }

# ============================================================================================
# 1. Modes under umask 000, and what a member of the socket's group can read
(umask 000 && start_daemon)
expect "jobsd starts under umask 000" "0" "$?"
"$jobsctl" trigger hello --wait > /dev/null
expect "the job ran" "0" "$?"
wait_for 10 grep -q hello-output "$logs/jobs.jsonl"
zone_log=$(ls "$logs"/timezones/UTC/*.log 2>/dev/null | head -1)
exec_log=$(ls "$logs"/hello/*.log 2>/dev/null | head -1)
expect "the modes of what jobsd made" \
  "state 0750 logs 0750 timezones 0750 UTC 0750 hello 0750 history.db 0600 jobsd.lock 0640 boot 0640 jobsd.log 0640 audit.log 0640 jobs.jsonl 0640 zone 0640 execution 0640" \
  "state $(mode "$state") logs $(mode "$logs") timezones $(mode "$logs/timezones") UTC $(mode "$logs/timezones/UTC") hello $(mode "$logs/hello") history.db $(mode "$state/history.db") jobsd.lock $(mode "$state/jobsd.lock") boot $(mode "$state/boot") jobsd.log $(mode "$logs/jobsd.log") audit.log $(mode "$logs/audit.log") jobs.jsonl $(mode "$logs/jobs.jsonl") zone $(mode "$zone_log") execution $(mode "$exec_log")"
expect "a step gets the umask jobsd was started with, not jobsd's own" "0666" \
  "$(mode "$work/step-file")"
expect "nothing in the state folder is writable by others (the socket is elsewhere)" "" \
  "$(find "$state" -perm -o+w)"
for f in "$logs/jobs.jsonl" "$logs/jobsd.log" "$logs/audit.log" "$zone_log" "$exec_log"; do
  as "$member" cat "$f" > /dev/null 2>&1
  expect "a member of the socket's group cannot read ${f#"$state"/}" "1" "$?"
done
as "$member" ls "$logs" > /dev/null 2>&1
expect "nor list the log folder" "2" "$?"
out=$(as "$member" "$jobsctl" logs hello 2>&1)
expect "nor read the logs through the socket (readers: admins)" \
  "77 jobsctl: user $member may not use jobsd" "$? $out"
wait_for 10 grep -q "refused 1 read request of $member (uid $(id -u "$member")): user $member may not use jobsd (logs)" "$logs/jobsd.log"
expect "the refused read is in jobsd.log" "0" "$?"

# ============================================================================================
# 2. Planted links
echo "precious" > target
ln -sf "$work/target" "$logs/jobs.jsonl.new" && mv -f "$logs/jobs.jsonl.new" "$logs/jobs.jsonl"
"$jobsctl" trigger hello --wait > /dev/null
wait_for 10 grep -q "cannot write $logs/jobs.jsonl" "$logs/jobsd.log"
expect "jobs.jsonl as a link: its target is unchanged, and jobsd.log says why" \
  "precious 0" "$(cat target) $?"
stop_daemon "$state"
out=$(start_daemon 2>&1)
expect "a link in the log folder is refused at start" \
  "1 jobsd: error: $logs/jobs.jsonl is a symbolic link: jobsd writes its own files and none through a link; remove it" \
  "$? $out"
stop_daemon "$state"
rm "$logs/jobs.jsonl"
# Today's and tomorrow's zone logs (a test that crosses midnight UTC writes the second).
rm -f "$logs"/timezones/UTC/*.log
for day in "$(date -u +%F)" "$(date -u -d tomorrow +%F)"; do
  echo "precious" > "target-$day"
  ln -s "$work/target-$day" "$logs/timezones/UTC/$day.log"
done
start_daemon
expect "jobsd starts again" "0" "$?"
"$jobsctl" trigger hello --wait > /dev/null
wait_for 10 grep -q "cannot write the zone log" "$logs/jobsd.log"
expect "a zone log as a link: its target is unchanged, and jobsd.log says why" \
  "precious precious 0" "$(echo $(cat target-*)) $?"
rm -f "$logs"/timezones/UTC/*.log

# ============================================================================================
# 3. A forged audit line
before=$(wc -l < "$logs/audit.log")
forged=$'x\n2026-12-07T00:00:00.000Z user=root uid=0 pid=1 action=trigger target=x outcome=ok\e[2J'
request=$(python3 -c 'import json, sys; print(json.dumps({"id": 1, "cmd": "trigger", "args": {"job": sys.argv[1]}}))' "$forged")
reply=$(clients request "$(id -u "$member")" "$request")
expect "the trigger is refused" "denied" \
  "$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["error"]["code"])' "$reply")"
expect "it is one more line in audit.log" "$((before + 1))" "$(wc -l < "$logs/audit.log")"
expect "that line escapes the newline and ESC, the target quoted" \
  'target="x\n2026-12-07T00:00:00.000Z user=root uid=0 pid=1 action=trigger target=x outcome=ok\x1b[2J" outcome=denied' \
  "$(tail -1 "$logs/audit.log" | grep -o 'target=.* outcome=denied')"
expect "no raw ESC in audit.log or jobsd.log" "0 0" \
  "$(grep -c $'\e' "$logs/audit.log") $(grep -c $'\e' "$logs/jobsd.log")"

# ============================================================================================
# 4. Socket fairness
mkdir -m 1777 hold1 hold2 # the holders, other users, write their ready files there
clients hold "$(id -u "$other")" 1 80 "$work/hold1" > hold1/out &
holder=$!
wait_for 60 test -e "hold1/ready.$(id -u "$other")"
expect "the holder made its connections" "0" "$?"
out=$(clients request "$(id -u "$member")" '{"id":1,"cmd":"version"}')
expect "while one user holds its 64, another user is served" "denied" \
  "$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["error"]["code"])' "$out")"
expect "... with the answer to its request, not a refusal of its connection" \
  "user $member may not use jobsd" \
  "$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["error"]["message"])' "$out")"
"$jobsctl" status > /dev/null
expect "and root is served" "0" "$?"
touch hold1/done
wait "$holder"
expect "one user gets 64 connections; the other 16 are refused; jobsd closes the 64 once idle" \
  "$(id -u "$other") accepted 64 refused 16 closed 64 user $other has 64 connections already, the most a user who is not an admin may have; try again" \
  "$(sed -E 's/ seconds [0-9]+//' hold1/out)"
seconds=$(grep -o 'seconds [0-9]*' hold1/out | cut -d' ' -f2)
expect "they are closed after the idle timeout (5 s), not much later" "yes" \
  "$([ "${seconds:-99}" -ge 3 ] && [ "${seconds:-99}" -le 15 ] && echo yes)"
grep -q "refused 1 connection of $other (uid $(id -u "$other")): user $other has 64" "$logs/jobsd.log"
expect "the first refused connection is in jobsd.log" "0" "$?"
expect "and no more than that for the next minute (a count follows)" "1" \
  "$(grep -c "connections\? of $other" "$logs/jobsd.log")"

# 15 users asking 70 each (1050, more than the 1024 slots) fill every slot but the admins' 64.
clients hold 70000 15 70 "$work/hold2" > hold2/out &
holder=$!
all_ready() { [ "$(ls hold2 | grep -c '^ready\.')" -eq 15 ]; }
wait_for 120 all_ready
expect "the 15 holders made their connections" "0" "$?"
out=$(clients request "$(id -u "$member")" '{"id":1,"cmd":"version"}')
expect "with 960 held, a user who is not an admin is refused" \
  "too many clients: the last 64 of 1024 connections are for admins; try again" \
  "$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["error"]["message"])' "$out")"
"$jobsctl" status > /dev/null
expect "root is served from the admins' reserve" "0" "$?"
touch hold2/done
wait "$holder"
expect "each of the 15 users got 64" "960" \
  "$(awk '{ n += $3 } END { print n }' hold2/out)"
expect "and all were closed once idle" "960" "$(awk '{ n += $7 } END { print n }' hold2/out)"

# ============================================================================================
# 5. An empty or missing history.db
stop_daemon "$state"
grep -q "refused 15 more connections of $other (uid $(id -u "$other")): user $other has 64" \
  "$logs/jobsd.log"
expect "the refusals counted since are told once the minute passed, or at the latest at stop" \
  "0" "$?"
: > "$state/history.db"
rm -f "$state/history.db-wal" "$state/history.db-shm"
out=$(start_daemon 2>&1)
expect "an empty history.db where jobsd ran before is refused (exit 1)" \
  "1 jobsd: error: the history store $state/history.db is missing or empty, yet jobsd has run with the state folder $state before (its jobsd.lock and boot files say so): restore history.db from a backup, or start jobsd once with --new-store to begin a new history" \
  "$? $out"
grep -q "error cannot start: the history store $state/history.db is missing or empty" "$logs/jobsd.log"
expect "the refusal is in jobsd.log" "0" "$?"
rm "$state/history.db"
out=$(start_daemon 2>&1)
expect "so is a missing one" "1 yes" "$? $(grep -q -- "is missing or empty" <<<"$out" && echo yes)"
start_daemon --new-store
expect "--new-store accepts it" "0" "$?"
grep -q "warning --new-store: $state/history.db was missing or empty; a new history begins" "$logs/jobsd.log"
expect "and jobsd.log says a new history began" "0" "$?"
stop_daemon "$state"
start_daemon
expect "the new store is a store: the next start takes it" "0" "$?"

# ============================================================================================
# 6. Rotated logs keep their modes
stop_daemon "$state"
echo "logs: { max_size: 4K, max_files: 2 }" >> jobsd.yaml
(umask 000 && start_daemon)
for i in $(seq 40); do
  "$jobsctl" trigger "no-such-job-$i" > /dev/null 2>&1
done
expect "40 triggers of no job rotate audit.log and jobsd.log" "yes yes" \
  "$([ -e "$logs/audit.1.log" ] && echo yes) $([ -e "$logs/jobsd.1.log" ] && echo yes)"
expect "the modes after rotation" "audit.log 0640 audit.1.log 0640 jobsd.log 0640 jobsd.1.log 0640" \
  "audit.log $(mode "$logs/audit.log") audit.1.log $(mode "$logs/audit.1.log") jobsd.log $(mode "$logs/jobsd.log") jobsd.1.log $(mode "$logs/jobsd.1.log")"

finish
