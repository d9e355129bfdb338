#!/usr/bin/env bash
# Terminal escapes from jobs: a job whose name, description and step output hold OSC 0 (window
# title), OSC 52 (clipboard), ESC [ 2 J (clear screen), a CR that overwrites a line, bidi
# overrides, a C1 CSI, DEL and a byte that is not UTF-8, and a job file whose bad line holds ESC.
# Every jobsctl verb that shows them (run, list, show, validate, history, logs; through a real
# jobsd: trigger --follow, status, logs and history, as root and as a reader) writes none of
# those controls to standard output or standard error, but renders them visibly (`^[`); --raw
# into a file keeps the exact bytes, and is refused on a terminal.
#
#   test_security_terminal.sh JOBSCTL JOBSD   (the reader part needs root and setpriv or
#                                              runuser; without them it is skipped)
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work terminal
mkdir -m 755 jobs run out
# A reader (nobody) must reach the socket in run/.
export JOBS_DIR="$work/jobs" JOBS_SOCKET="$work/run/jobsd.sock"

# The job: every kind of control in its name, its description and its output. The step prints
# OUTPUT's bytes (octal escapes for printf); the name and description are JSON strings.
python3 - <<'PY'
import json
esc, bel = "\x1b", "\x07"
name = "N" + esc + "]52;c;cHduZWQ=" + bel + esc + "[2J"
description = esc + "]0;TITLE" + bel + " \u202eevil\u202c " + esc + "[2J"
output = (b"a\x1b]0;TITLE\x07b\x1b]52;c;cHduZWQ=\x07c\x1b[2Jd\rSPOOFED\n"
          b"\xe2\x80\xaeevil\n\xc2\x9b31m red\n\xffx\x7f\n")
printf = "".join(chr(c) if 0x20 <= c < 0x7f and chr(c) not in "\\%'" else "\\%03o" % c
                 for c in output)
open("expected-output", "wb").write(output)
open("jobs/evil.yaml", "w").write(
    "id: evil\nname: %s\ndescription: %s\nschedule: \"0 0 1 1 *\"\nsteps:\n"
    "  - id: s1\n    type: shell\n    run: %s\n"
    % (json.dumps(name), json.dumps(description), json.dumps("printf '%s'" % printf)))
# A finding quotes its source line: a raw ESC there, and a key with ESC in it.
open("jobs/bad.yaml", "w").write(
    "id: bad\nschedule: \"0 0 1 1 *\"\nsteps:\n  - id: s1\n    type: shell\n    run: echo\n"
    "    \x1b]0;BADTITLE\x07\x1b[2Jkey: 1\n")
open("jobs/badkey.json", "w").write(
    '{"id": "badkey", "schedule": "0 0 1 1 *", "\\u001b]0;KEYTITLE\\u0007": 1,\n'
    ' "steps": [{"id": "s1", "type": "shell", "run": "echo"}]}\n')
PY

# safe FILE...: "safe" when the files are UTF-8 with no control a terminal acts on (C0 but tab
# and newline, DEL, C1, bidi embeddings, overrides and isolates), else the first such one.
safe() {
  python3 - "$@" <<'PY'
import sys
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        sys.exit(print("%s: not UTF-8 at byte %d" % (path, e.start)))
    for i, c in enumerate(text):
        o = ord(c)
        if (o < 0x20 and c not in "\t\n") or 0x7f <= o <= 0x9f or 0x202a <= o <= 0x202e \
                or 0x2066 <= o <= 0x2069:
            sys.exit(print("%s: U+%04X at %d: %r" % (path, o, i, text[max(0, i - 20):i + 20])))
print("safe")
PY
}

# shows NAME TEXT FILE...: one check that the files are safe, one that they hold TEXT.
shows() {
  local name=$1 text=$2
  shift 2
  expect "$name: no control reaches the terminal" "safe" "$(safe "$@")"
  expect "$name: shows $text" "yes" "$(grep -F -- "$text" "$@" >/dev/null && echo yes || echo no)"
}

# has_bytes FILE: whether FILE holds each line of the step's output, byte for byte.
has_bytes() {
  python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
lines = open("expected-output", "rb").read().split(b"\n")[:-1]
missing = [l for l in lines if l not in data]
print("exact" if not missing else "missing %r" % missing)
PY
}

# on_terminal COMMAND...: runs COMMAND with its standard output and error on a pseudo-terminal;
# prints its exit status and what it wrote.
on_terminal() {
  python3 - "$@" <<'PY'
import os, pty, subprocess, sys
main, side = pty.openpty()
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=side, stderr=side)
os.close(side)
# Read as it comes (a full terminal would hold the writer) until the child's end closes it.
text = b""
while True:
    try:
        piece = os.read(main, 4096)
    except OSError:
        break
    if not piece:
        break
    text += piece
print(child.wait(), text.decode("utf-8", "replace").strip())
PY
}

# 1. Without a daemon: the files and the history store.
"$jobsctl" run evil > out/run 2> out/run.err
shows "run" "a^[]0;TITLE^Gb^[]52;c;cHduZWQ=^Gc^[[2Jd^MSPOOFED" out/run out/run.err
shows "run: a bidi override" "<U+202E>evil" out/run
shows "run: a C1 CSI" "M-^[31m red" out/run
shows "run: a byte not UTF-8, DEL" "\\xFFx^?" out/run
"$jobsctl" run evil --json > out/run-json 2> out/run-json.err
shows "run --json" '\u001b]0;TITLE\u0007' out/run-json out/run-json.err
"$jobsctl" run evil --raw > out/run-raw 2> out/run-raw.err
expect "run --raw into a file: the exact bytes" "exact" "$(has_bytes out/run-raw)"
expect "run --raw: standard error is still rendered" "safe" "$(safe out/run-raw.err)"
out=$(on_terminal "$jobsctl" run evil --raw)
expect "run --raw on a terminal: refused (exit 2), saying why" \
  "2 jobsctl: --raw writes control characters from jobs unchanged, and a terminal would act on them: it is for a file or a pipe (jobsctl logs JOB --raw > FILE)" \
  "$out"
# Without the pager: less writes escapes of its own (keypad mode); jobsctl's output is under test.
out=$(on_terminal "$jobsctl" logs evil --no-pager)
expect "logs on a terminal: no ESC reaches it" "0 no ESC" \
  "${out%% *} $(grep -q $'\e' <<<"$out" && echo ESC || echo no ESC)"

"$jobsctl" list > out/list 2> out/list.err
shows "list" "N^[]52;c;cHduZWQ=^G^[[2J" out/list out/list.err
"$jobsctl" show evil > out/show 2> out/show.err
shows "show" "<U+202E>evil<U+202C>" out/show out/show.err
"$jobsctl" validate jobs > out/validate 2> out/validate.err
shows "validate quotes the bad line" "^[]0;BADTITLE^G^[[2Jkey: 1" out/validate out/validate.err
shows "validate names the bad key" "KEYTITLE" out/validate out/validate.err
"$jobsctl" validate jobs --format github > out/validate-github 2>&1
shows "validate --format github" "KEYTITLE" out/validate-github
"$jobsctl" history > out/history 2> out/history.err
shows "history" "evil" out/history out/history.err
"$jobsctl" history --json > out/history-json 2> out/history-json.err
shows "history --json" '"N\u001b]52;c;cHduZWQ=\u0007\u001b[2J"' out/history-json \
  out/history-json.err
"$jobsctl" logs evil > out/logs 2> out/logs.err
shows "logs (the log file)" "[s1] out: a^[]0;TITLE^G" out/logs out/logs.err
shows "logs (the log file): the job's name" "(N^[]52;c;cHduZWQ=^G^[[2J)" out/logs
"$jobsctl" logs evil --raw > out/logs-raw 2> out/logs-raw.err
expect "logs --raw (the log file): the exact bytes" "exact" "$(has_bytes out/logs-raw)"

# 2. Through a real jobsd, as root and as a reader.
cat > jobsd.yaml <<EOF
socket: $JOBS_SOCKET
default_timezone: UTC
access:
  socket_group: nogroup
  readers: all
EOF
"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state"
expect "jobsd starts" "0" "$?"
"$jobsctl" trigger evil --follow > out/trigger 2> out/trigger.err
expect "trigger --follow: the job succeeds" "0" "$?"
shows "trigger --follow" "a^[]0;TITLE^Gb^[]52;c;cHduZWQ=^Gc^[[2Jd^MSPOOFED" out/trigger \
  out/trigger.err
"$jobsctl" status > out/status 2> out/status.err
shows "status quotes the bad line" "^[]0;BADTITLE^G^[[2Jkey: 1" out/status out/status.err
"$jobsctl" history > out/dhistory 2> out/dhistory.err
shows "history through jobsd" "evil" out/dhistory out/dhistory.err
"$jobsctl" logs evil > out/dlogs 2> out/dlogs.err
shows "logs through jobsd" "[s1] out: a^[]0;TITLE^G" out/dlogs out/dlogs.err
"$jobsctl" logs evil --raw > out/dlogs-raw 2> out/dlogs-raw.err
expect "logs --raw through jobsd: the exact bytes (but the one not UTF-8, which JSON cannot carry)" \
  "exact" "$(sed -i 's/\xef\xbf\xbd/\xff/' out/dlogs-raw && has_bytes out/dlogs-raw)"

as_reader=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  as_reader=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
elif [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
  as_reader=(runuser -u nobody -g nogroup --)
fi
if [ ${#as_reader[@]} -eq 0 ]; then
  echo "skipped: the checks as a reader need root and setpriv or runuser"
else
  "${as_reader[@]}" "$jobsctl" logs evil > out/rlogs 2> out/rlogs.err
  expect "a reader's logs: allowed" "0" "$?"
  shows "a reader's logs" "[s1] out: a^[]0;TITLE^G" out/rlogs out/rlogs.err
  "${as_reader[@]}" "$jobsctl" status > out/rstatus 2> out/rstatus.err
  shows "a reader's status" "^[]0;BADTITLE^G" out/rstatus out/rstatus.err
fi
stop_daemon "$state"
finish
