#!/usr/bin/env bash
# What a root jobsd trusts in its jobs folder, attacked with the real jobsd and jobsctl
# (jobsd(8), SECURITY, "Job files" and "Links, special files and sizes"):
#   1. a group-writable jobs folder: a member of the group drops a job; a file writable by
#      others; a user's file naming another user in run_as; a root-owned file in a user's
#      folder; run_as naming no account;
#   2. links: to /etc/shadow (nothing of it quoted anywhere), to a folder above (a loop), to /;
#   3. a FIFO and a device with a job file's name, in the folder and named to validate;
#   4. a 200 MB job file, max_job_file_size, the time a 1 MiB file takes to load;
#   5. the configuration and secrets files: owner and mode.
#
#   test_security_files.sh JOBSCTL JOBSD   (as root, else exit 77: skipped; JOBS_TEST_KEEP=1
#                                           keeps the temporary folder)
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: test_security_files.sh needs root (jobsd as root, users of its own)"
  exit 77
fi
new_work secfiles
mkdir -m 755 jobs

# A user of this test's own, in a group of its own.
tag=$$
user="jtru$tag"
group="jtrg$tag"
if groupadd "$group"; then
  made_groups+=("$group")
  if useradd -M -N -g "$group" -d "/nonexistent-$user" -s /usr/sbin/nologin "$user"; then
    made_users+=("$user")
  fi
fi
if [ "${#made_users[@]}" -ne 1 ]; then
  echo "useradd/groupadd failed: cannot run the attacks of a user"
  exit 1
fi
as_user() { setpriv --reuid "$user" --regid "$group" --clear-groups "$@"; }

cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
grace_period: 2s
YAML
chmod 644 jobsd.yaml
start_daemon() { "$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state"; }

# The jobs jobsd has loaded, one id a line.
loaded() { "$jobsctl" list --json 2>/dev/null | python3 -c '
import json, sys
for j in json.load(sys.stdin):
    print(j["id"])' | sort | xargs; }
# Whether `jobsctl status` shows TEXT.
status_shows() { "$jobsctl" status 2>&1 | grep -F -- "$1" >/dev/null; }
status_lacks() { ! "$jobsctl" status 2>&1 | grep -F -- "$1" >/dev/null; }

cat > jobs/good.yaml <<'YAML'
command: "true"
YAML
start_daemon
expect "jobsd starts on a folder of root's" "0" "$?"
expect "the good job loads" "good" "$(loaded)"

# ============================================================================================
# 1. Trust of job files
# The review's attack: the folder writable by a group, a member drops a job without run_as.
chgrp "$group" jobs
chmod 775 jobs
as_user sh -c "printf 'command: id > $work/pwned.txt\n' > $work/jobs/evil.yaml"
wait_for 10 status_shows "$work/jobs: error: refused: the folder is writable by group \"$group\""
expect "a group-writable jobs folder is refused, said by status" \
  "refused: the folder is writable by group \"$group\" (mode 0775), so others could make root run anything; chmod go-w $work/jobs" \
  "$("$jobsctl" status 2>&1 | sed -n "s|^$work/jobs: error: ||p")"
expect "nothing of the refused folder is loaded, not even the last good version" "" "$(loaded)"
"$jobsctl" trigger evil --wait >/dev/null 2>&1
expect "the dropped job cannot be triggered" "1" "$([ -e pwned.txt ] && echo 0 || echo 1)"
validated=$("$jobsctl" validate "$work/jobs" 2>&1)
expect "validate (as root) says so too" "1" \
  "$(grep -c "^$work/jobs: error: refused: the folder is writable by group" <<<"$validated")"
chmod 755 jobs
chgrp root jobs
rm jobs/evil.yaml
wait_for 10 status_lacks "refused: the folder"
expect "the folder fixed, its jobs load again" "good" "$(loaded)"

# A job file writable by others than its owner.
cp jobs/good.yaml jobs/open.yaml
chmod 666 jobs/open.yaml
wait_for 10 status_shows "$work/jobs/open.yaml: error: refused: the file is writable by group"
expect "a job file writable by everyone is refused" "good" "$(loaded)"
rm jobs/open.yaml

# A user's file runs as that user; naming root is refused; naming nobody is refused.
printf 'command: id -un > %s/as-owner.txt\n' "$work" > jobs/mine.yaml
chown "$user" jobs/mine.yaml
: > as-owner.txt
chown "$user" as-owner.txt
wait_for 10 sh -c "$jobsctl list 2>/dev/null | grep '^mine ' >/dev/null"
"$jobsctl" trigger mine --wait >/dev/null 2>&1
expect "a user's file without run_as runs as its owner" "$user" "$(cat as-owner.txt)"
printf 'run_as: root\ncommand: id > %s/pwned.txt\n' "$work" > jobs/mine.yaml
wait_for 10 status_shows "\"run_as\": refused: a file owned by $user runs as $user only"
expect "a user's file naming root is refused, with no last good version" "good" "$(loaded)"
"$jobsctl" trigger mine --wait >/dev/null 2>&1
expect "the refused job does not run as root" "1" "$([ -e pwned.txt ] && echo 0 || echo 1)"
expect "validate reports the same" "1" \
  "$("$jobsctl" validate jobs/mine.yaml 2>&1 | grep -c "refused: a file owned by $user runs as $user only")"
rm jobs/mine.yaml

# A root-owned file in a folder of the user's: the user could have linked it there.
mkdir -m 755 jobs/theirs
chown "$user" jobs/theirs
printf 'command: id > %s/pwned.txt\n' "$work" > jobs/theirs/planted.yaml
wait_for 10 status_shows "$work/jobs/theirs/planted.yaml: error: refused: the file is owned by root inside a folder owned by $user"
expect "a root-owned file in a user's folder is refused" "good" "$(loaded)"
rm -r jobs/theirs

# run_as naming no account.
printf 'run_as: nosuchuser%s\ncommand: "true"\n' "$tag" > jobs/ghost.yaml
wait_for 10 status_shows "there is no account \"nosuchuser$tag\" on this system"
expect "run_as naming no account: jobsd refuses the job" "good" "$(loaded)"
expect "run_as naming no account: validate reports it" "1" \
  "$("$jobsctl" validate jobs/ghost.yaml 2>&1 | grep -c "1:9: error: \"run_as\": there is no account")"
rm jobs/ghost.yaml

# ============================================================================================
# 2. Links
# Nothing of /etc/shadow is quoted: each of its lines is looked for in status, log and validate.
ln -s /etc/shadow jobs/shadow.yaml
wait_for 10 status_shows "$work/jobs/shadow.yaml: error: is a symbolic link, which jobsd does not follow"
expect "a link to /etc/shadow is refused, said by status" "1" \
  "$("$jobsctl" status 2>&1 | grep -c "shadow.yaml: error: is a symbolic link")"
grep -v '^$' /etc/shadow | cut -d: -f1,2 > shadow-lines
leaks() { grep -cF -f "$work/shadow-lines" "$@"; }
expect "nothing of /etc/shadow in status" "0" "$("$jobsctl" status 2>&1 | leaks)"
expect "nothing of /etc/shadow in validate" "0" "$("$jobsctl" validate "$work/jobs" 2>&1 | leaks)"
expect "nothing of /etc/shadow in validate of the link" "0" \
  "$("$jobsctl" validate jobs/shadow.yaml 2>&1 | leaks)"
expect "nothing of /etc/shadow in jobsd.log" "0" "$(leaks "$state/logs/jobsd.log")"
rm jobs/shadow.yaml

# A loop: not walked; the job loads once (no duplicate of itself), also after a restart.
mkdir -m 755 jobs/sub
ln -s .. jobs/sub/up
wait_for 10 status_shows "$work/jobs/sub/up: error: is a symbolic link to a folder"
expect "a link to the folder above is reported" "1" \
  "$("$jobsctl" status 2>&1 | grep -c "^$work/jobs/sub/up: error: is a symbolic link to a folder")"
expect "... and the job is not loaded again through it" "0" \
  "$("$jobsctl" status 2>&1 | grep -c "duplicate job id")"
stop_daemon "$state"
start_daemon
expect "after a restart the job still loads" "good" "$(loaded)"
rm -r jobs/sub
# A link to /: not walked.
ln -s / jobs/root
wait_for 10 status_shows "$work/jobs/root: error: is a symbolic link to a folder"
expect "a link to / is reported, not walked" "1|good" \
  "$("$jobsctl" status 2>&1 | grep -c "^$work/jobs/root: error: is a symbolic link to a folder")|$(loaded)"
rm jobs/root

# ============================================================================================
# 3. FIFOs and devices
mkfifo jobs/fifo.yaml
mknod jobs/zero.yaml c 1 5
wait_for 10 status_shows "$work/jobs/zero.yaml: error: is a character device, not a regular file"
expect "a FIFO in the folder is reported" "1" \
  "$("$jobsctl" status 2>&1 | grep -c "^$work/jobs/fifo.yaml: error: is a FIFO, not a regular file")"
expect "the jobs load beside them" "good" "$(loaded)"
out=$(timeout 10 "$jobsctl" validate jobs/fifo.yaml 2>&1)
expect "validate of a FIFO: an error at once, not a wait" "2|jobs/fifo.yaml: error: is a FIFO, not a regular file: not read" \
  "$?|$(head -1 <<<"$out")"
out=$(timeout 10 "$jobsctl" validate /dev/zero 2>&1)
expect "validate of /dev/zero: an error at once, not a read without end" \
  "2|/dev/zero: error: is a character device, not a regular file: not read" "$?|$(head -1 <<<"$out")"
rm jobs/fifo.yaml jobs/zero.yaml

# ============================================================================================
# 4. Sizes
# A sparse 200 MB file: refused unread (validate's memory stays small).
truncate -s 200M jobs/huge.yaml
wait_for 10 status_shows "$work/jobs/huge.yaml: error: is 209715200 bytes"
expect "a 200 MB job file is refused unread by jobsd" "1|good" \
  "$("$jobsctl" status 2>&1 | grep -c "^$work/jobs/huge.yaml: error: is 209715200 bytes, over max_job_file_size (1M): not read")|$(loaded)"
# peak_kib FILE: the peak memory (KiB) of `jobsctl validate FILE`.
peak_kib() {
  python3 - "$jobsctl" "$1" <<'PY'
import resource, subprocess, sys
subprocess.run([sys.argv[1], "validate", sys.argv[2]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
# Against validate of a small file, not a fixed figure: a sanitizer build's own memory differs.
small=$(peak_kib "$work/jobs/good.yaml")
huge=$(peak_kib "$work/jobs/huge.yaml")
expect "validate does not read the 200 MB file (peak memory within 32 MiB of a small file's)" \
  "small" "$([ $((huge - small)) -lt $((32 * 1024)) ] && echo small || echo "large: $huge KiB against $small KiB")"
rm jobs/huge.yaml
printf 'max_job_file_size: 2K\n' > small.yaml
python3 -c 'print("command: \"true\"\ndescription: " + "x" * 3000)' > three-k.yaml
expect "max_job_file_size is read by validate" \
  "three-k.yaml: error: is 3030 bytes, over max_job_file_size (2K): not read" \
  "$("$jobsctl" validate --config small.yaml three-k.yaml 2>&1 | head -1)"

# The time one 1 MiB job file takes to load, from jobsd's own figure.
python3 -c '
lines = ["command: \"true\"", "env:"]
i = 0
while sum(len(l) + 1 for l in lines) < (1 << 20) - 200:
    lines.append("  VAR_%06d: \"%s\"" % (i, "v" * 80))
    i += 1
print("\n".join(lines))' > jobs/big.yaml
wait_for 10 sh -c "$jobsctl list 2>/dev/null | grep '^big ' >/dev/null"
seconds=$(grep -o 'reloaded: 2 jobs from 2 files (1 read.* in [0-9.]*s' "$state/logs/jobsd.log" | tail -1 |
  sed 's/.* in //; s/s$//')
echo "note: a 1 MiB job file ($(stat -c %s jobs/big.yaml) bytes) reloaded in ${seconds}s"
expect "a 1 MiB job file loads in under 2 s (a bound, not the figure)" "1" \
  "$(python3 -c "print(1 if 0 < float('${seconds:-0}') < 2 else 0)")"
# The loop answers while 16 such files load: status never waits for the whole reload.
mkdir -m 755 staging
for i in $(seq 10 25); do cp jobs/big.yaml "staging/big$i.yaml"; done
rm jobs/big.yaml
wait_for 10 sh -c "! $jobsctl list 2>/dev/null | grep '^big ' >/dev/null"
slowest=$(python3 - "$jobsctl" "$work" <<'PY'
import os, subprocess, sys, time
jobsctl, work = sys.argv[1], sys.argv[2]
os.rename(work + "/staging", work + "/jobs/big") # one change: one reload reads all 16
slowest = 0.0
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    t = time.monotonic()
    out = subprocess.run([jobsctl, "list"], capture_output=True, text=True).stdout
    slowest = max(slowest, time.monotonic() - t)
    if sum(line.startswith("big") for line in out.splitlines()) >= 16:
        break
print("%.3f" % slowest)
PY
)
seconds=$(grep -o 'reloaded: 17 jobs from 17 files (16 read.* in [0-9.]*s' "$state/logs/jobsd.log" |
  tail -1 | sed 's/.* in //; s/s$//')
echo "note: 16 MiB in 16 files reloaded in ${seconds}s; the slowest jobsctl list meanwhile took ${slowest}s"
expect "the loop answers while the files load (slowest list under a third of the reload)" "1" \
  "$(python3 -c "print(1 if 0 < ${slowest:-0} < float('${seconds:-0}') / 3 else 0)")"
rm -r jobs/big

# ============================================================================================
# 5. The configuration and secrets files
stop_daemon "$state"
chmod 666 jobsd.yaml
out=$("$jobsd" --check-config --config jobsd.yaml 2>&1)
expect "a configuration writable by everyone is refused" \
  "2|jobsd: refused: jobsd.yaml is writable by group \"root\" and by everyone (mode 0666), so others could make root run anything through it; chown root jobsd.yaml && chmod 644 jobsd.yaml" \
  "$?|$out"
chmod 644 jobsd.yaml
chown "$user" jobsd.yaml
out=$("$jobsd" --check-config --config jobsd.yaml 2>&1)
expect "a configuration owned by a user is refused" "2" "$?"
expect "... naming the owner and the fix" "1" "$(grep -c "owned by $user, .*chown root jobsd.yaml" <<<"$out")"
chown root jobsd.yaml
printf 'TOKEN=x\n' > secrets
chmod 644 secrets
printf 'secrets_file: %s/secrets\n' "$work" >> jobsd.yaml
out=$("$jobsd" --check-config --config jobsd.yaml 2>&1)
expect "a secrets file readable by others is refused" \
  "2|jobsd: refused: $work/secrets is readable by others than root (mode 0644), and it holds secrets; chown root $work/secrets && chmod 600 $work/secrets" \
  "$?|$out"
chmod 600 secrets
out=$("$jobsd" --check-config --config jobsd.yaml 2>&1)
expect "files of root's, mode 600 and 644, are taken" "0" "$?"

finish
