#!/usr/bin/env bash
# jobsctl edit, end to end with a scripted editor and a real jobsd: a good edit is written with
# the file's mode and owner and jobsd reloads; no change writes nothing; an invalid edit is
# refused with path:line:col, offered again on a terminal and kept when there is none; a file
# changed meanwhile is not written over; a failing editor aborts; --new starts from new's
# template; unknown ids get a suggestion; `after` across files; links are refused; the private
# copy is removed after each run, also when jobsctl is interrupted.
#
#   test_edit.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work edit
export TZ=UTC
# The copies go here: a name with a space and a quote, which the editor must get as one argument.
export TMPDIR="$work/tmp dir's"
mkdir jobs "$TMPDIR"
export JOBS_DIR="$work/jobs" EDITS="$work"
unset VISUAL EDITOR
cat > jobs/nightly.yaml <<'YAML'
# the nightly job
schedule: "0 3 * * *"
command: "true"
YAML
cat > jobs/report.yaml <<'YAML'
description: runs after nightly
schedule: "0 4 * * *"
after: [nightly]
command: "true"
YAML
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
YAML
"$jobsd" --config "$work/jobsd.yaml" --state-dir "$state"
expect "jobsd starts" "0" "$?"

# The scripted editor, counting its calls in $EDITS/calls:
#   ed sub FROM TO FILE    replaces FROM by TO in FILE (sed)
#   ed seq FILE            gives FILE the text of $EDITS/edit.N at its Nth call
#   ed race FROM TO FILE   as sub, after changing jobs/nightly.yaml itself (another writer)
#   ed hang FILE           says it runs ($EDITS/editing holds its pid) and waits to be killed
cat > ed <<'SH'
#!/bin/sh
n=$(($(cat "$EDITS/calls" 2>/dev/null || echo 0) + 1))
echo "$n" > "$EDITS/calls"
case $1 in
sub) sed -i "s|$2|$3|" "$4" ;;
seq) cat "$EDITS/edit.$n" > "$2" ;;
race) echo "# changed meanwhile" >> "$EDITS/jobs/nightly.yaml" && sed -i "s|$2|$3|" "$4" ;;
hang) echo $$ > "$EDITS/editing.tmp" && mv "$EDITS/editing.tmp" "$EDITS/editing" && exec sleep 60 ;;
esac
SH
chmod +x ed
calls() { cat "$work/calls" 2>/dev/null || echo 0; }
# What the temporary folder holds: nothing once each run is over, unless a copy is kept.
left() { ls -A "$TMPDIR"; }
clean() { rm -rf "${TMPDIR:?}"/* "$work/calls"; }
attributes() { stat -c '%a %U %G %i %Y' jobs/nightly.yaml; }
schedule_of() {
  "$jobsctl" list --json | python3 -c '
import json, sys
print(" ".join(j["id"] + "=" + j["schedule"][0] for j in json.load(sys.stdin) if j["id"] == sys.argv[1]))' "$1"
}
wait_for 10 eval '[ "$(schedule_of nightly)" = "nightly=0 3 * * *" ]'
expect "jobsd has the jobs" "0" "$?"

# 1. A good edit: written, mode and owner kept, jobsd reloaded; the editor's value carries
#    arguments (through sh -c) and the copy's path (space, quote) reaches it whole.
# Another owner needs root; without it the file keeps the user's.
owner="$(id -un) $(id -gn)"
if [ "$(id -u)" = 0 ] && chown nobody:nogroup jobs/nightly.yaml; then
  owner="nobody nogroup"
fi
chmod 640 jobs/nightly.yaml
out=$(EDITOR="$work/ed sub '\"0 3 ' '\"30 4 '" "$jobsctl" edit nightly 2>&1)
expect "a good edit is written and jobsd reloads" "0 $work/jobs/nightly.yaml: written 1" \
  "$? $(head -1 <<<"$out") $(grep -c '^reloaded: 2 jobs from 2 files (' <<<"$out")"
expect "the file has the edit" 'schedule: "30 4 * * *"' "$(sed -n 2p jobs/nightly.yaml)"
expect "its mode and owner are kept" "640 $owner" "$(attributes | cut -d' ' -f1-3)"
expect "jobsd runs the edited job" "nightly=30 4 * * *" "$(schedule_of nightly)"
expect "the copy is removed" "" "$(left)"
out=$(VISUAL="$work/ed sub '\"30 4 ' '\"0 3 '" EDITOR=false "$jobsctl" edit nightly 2>&1)
expect "VISUAL comes before EDITOR" "0 1" "$? $(grep -c '^reloaded: ' <<<"$out")"
mkdir bin
printf '#!/bin/sh\nexec "$EDITS/ed" sub "# the" "# The" "$1"\n' > bin/editor
chmod +x bin/editor
out=$(PATH="$work/bin:$PATH" "$jobsctl" edit nightly 2>&1)
expect "without VISUAL and EDITOR, editor in PATH" "0 # The nightly job" "$? $(head -1 jobs/nightly.yaml)"
clean

# 2. No change: nothing written, nothing left.
before=$(attributes)
out=$(EDITOR="$work/ed sub nothing-here nothing" "$jobsctl" edit nightly 2>&1)
expect "an unchanged edit says so" "0 jobsctl: no changes; $work/jobs/nightly.yaml is unchanged" \
  "$? $out"
expect "and leaves the file alone" "$before" "$(attributes)"
expect "the copy is removed after no change" "" "$(left)"

# 3. An invalid edit without a terminal: the findings with the real path, the file untouched,
#    the edit kept where it says.
cp jobs/nightly.yaml saved
out=$(EDITOR="$work/ed sub schedule schedul" "$jobsctl" edit nightly 2>&1 </dev/null)
code=$?
expect "an invalid edit is refused (exit 2)" "2" "$code"
expect "its finding has the file's path, line and column" \
  "$work/jobs/nightly.yaml:2:1: error: unknown job key \"schedul\"; did you mean \"schedule\"?" \
  "$(head -1 <<<"$out")"
kept=$(sed -n 's/.*the edit is kept in //p' <<<"$out")
expect "it says the file is unchanged and where the edit is kept" \
  "jobsctl: the edit has 2 errors; $work/jobs/nightly.yaml is unchanged (no terminal to ask whether to edit again); the edit is kept in $kept" \
  "$(tail -1 <<<"$out")"
expect "the file is untouched" "" "$(cmp saved jobs/nightly.yaml)"
expect "the kept edit holds the change" 'schedul: "0 3 * * *"' "$(sed -n 2p "$kept" 2>&1)"
expect "the kept copy is private" "600" "$(stat -c %a "$kept")"
clean

# 4. On a terminal: "Edit again?" opens the editor again; a no keeps the old file.
#    script(1) gives jobsctl a terminal, fed with the answers.
if command -v script >/dev/null; then
  printf 'schedul: "0 3 * * *"\ncommand: "true"\n' > edit.1
  printf 'schedule: "0 6 * * *"\ncommand: "true"\n' > edit.2
  out=$(printf '\n' | EDITOR="$work/ed seq" script -qec "'$jobsctl' edit nightly" /dev/null 2>&1)
  code=$?
  expect "a rejected edit is offered again on a terminal" \
    "0 2 1" "$code $(calls) $(grep -c 'Edit again? \[Y/n\]' <<<"$out")"
  expect "and its second version is written" "schedule: \"0 6 * * *\"" "$(head -1 jobs/nightly.yaml)"
  expect "the copy is removed after edit again" "" "$(left)"
  clean
  cp jobs/nightly.yaml saved
  out=$(printf 'n\n' | EDITOR="$work/ed seq" script -qec "'$jobsctl' edit nightly" /dev/null 2>&1)
  code=$?
  expect "answered no, the old file stays (exit 2)" "2 1" "$code $(calls)"
  expect "no leaves the file untouched" "" "$(cmp saved jobs/nightly.yaml)"
  expect "no says so" "1" "$(tr -d '\r' <<<"$out" | grep -c "jobsctl: $work/jobs/nightly.yaml is unchanged$")"
  expect "the refused edit is discarded" "" "$(left)"
  clean
else
  echo "skip the terminal checks (no script(1))"
fi

# 5. The file changed on disk meanwhile: not written over, the edit kept.
out=$(EDITOR="$work/ed race '\"0 6 ' '\"0 7 '" "$jobsctl" edit nightly 2>&1)
code=$?
kept=$(sed -n 's/.*the edit is kept in //p' <<<"$out")
expect "a file changed meanwhile is refused (exit 1)" \
  "1 jobsctl: $work/jobs/nightly.yaml changed on disk while it was being edited: not written over; the edit is kept in $kept" \
  "$code $out"
expect "the other change stays" "# changed meanwhile" "$(tail -1 jobs/nightly.yaml)"
expect "ours is not written" "0" "$(grep -c '0 7' jobs/nightly.yaml)"
expect "ours is kept" 'schedule: "0 7 * * *"' "$(head -1 "$kept" 2>&1)"
clean

# 6. A failing editor aborts, writing nothing.
cp jobs/nightly.yaml saved
out=$(EDITOR=false "$jobsctl" edit nightly 2>&1)
expect "a failing editor aborts (exit 1)" \
  "1 jobsctl: the editor (false) exited with status 1; $work/jobs/nightly.yaml is unchanged" \
  "$? $out"
expect "after a failing editor the file is untouched" "" "$(cmp saved jobs/nightly.yaml)"
expect "the copy is removed after a failing editor" "" "$(left)"

# 7. --new: new's template, edited, created; unchanged, nothing is created.
out=$(EDITOR="$work/ed sub 'run: echo hello' 'run: echo fresh'" "$jobsctl" edit --new fresh 2>&1)
expect "edit --new creates the job" "0 $work/jobs/fresh.yaml: created" "$? $(head -1 <<<"$out")"
expect "from new's template" "# fresh: made by jobsctl new; every key is described in jobs(5).
1" "$(head -1 jobs/fresh.yaml; grep -c 'run: echo fresh' jobs/fresh.yaml)"
wait_for 10 eval '[ "$(schedule_of fresh)" = "fresh=0 2 * * *" ]'
expect "jobsd runs the new job" "0" "$?"
out=$(EDITOR=true "$jobsctl" edit --format json --new untouched 2>&1)
expect "edit --new with no change creates nothing" \
  "0 jobsctl: no changes; $work/jobs/untouched.json is not created" "$? $out"
expect "no file is left" "0" "$(ls jobs | grep -c untouched)"
out=$(EDITOR=true "$jobsctl" edit --new fresh 2>&1)
expect "edit --new of an existing id" \
  "2 jobsctl: a job \"fresh\" exists already: $work/jobs/fresh.yaml" "$? $out"
clean

# 8. An unknown job: did you mean.
out=$(EDITOR=true "$jobsctl" edit nightlly 2>&1)
expect "an unknown job is suggested the nearest" \
  "2 jobsctl: no job \"nightlly\" in $work/jobs; did you mean \"nightly\"?" "$? $out"

# 9. `after` across files: report's edit validates against nightly in its own file; renaming
#    nightly, which report runs after, is refused at report's line and column.
out=$(EDITOR="$work/ed sub 'runs after' 'runs once after'" "$jobsctl" edit report 2>&1)
expect "an edit of a job that names another file's job is written" \
  "0 $work/jobs/report.yaml: written" "$? $(head -1 <<<"$out")"
cp jobs/nightly.yaml saved
out=$(EDITOR="$work/ed sub 'schedule:' 'id: nightly2\nschedule:'" "$jobsctl" edit nightly 2>&1 </dev/null)
expect "renaming a job another file runs after is refused" \
  "2 $work/jobs/report.yaml:3:9: error: \"after\": no job has the id \"nightly\"; did you mean \"nightly2\"?" \
  "$? $(head -1 <<<"$out")"
expect "and the file is untouched" "" "$(cmp saved jobs/nightly.yaml)"
clean

# 10. Interrupted while the editor runs: the copy is removed.
EDITOR="$work/ed hang" "$jobsctl" edit nightly </dev/null >/dev/null 2>&1 &
pid=$!
wait_for 10 test -s "$work/editing"
expect "the editor runs" "0" "$?"
kill -TERM "$pid"
wait "$pid"
code=$?
kill "$(cat "$work/editing")" 2>/dev/null
expect "SIGTERM ends jobsctl edit" "143" "$code"
expect "the copy is removed after SIGTERM" "" "$(left)"
expect "the interrupted edit leaves the file untouched" "" "$(cmp saved jobs/nightly.yaml)"

# 11. A link or a FIFO with a job file's name is not edited (jobsd does not follow links).
ln -s nightly.yaml jobs/link.yaml
out=$(EDITOR=true "$jobsctl" edit link 2>&1)
expect "a link is refused" \
  "2 jobsctl: $work/jobs/link.yaml is a symbolic link, which jobsd does not follow in the jobs folder: not edited; move the file it points to here instead" \
  "$? $out"
rm jobs/link.yaml
mkfifo jobs/pipe.yaml
out=$(EDITOR=true "$jobsctl" edit pipe 2>&1)
expect "a FIFO is refused" \
  "2 jobsctl: $work/jobs/pipe.yaml is a FIFO, not a regular file: not edited" "$? $out"
rm jobs/pipe.yaml

# 12. Without jobsd: written, and a note that it was not told.
stop_daemon "$state"
out=$(EDITOR="$work/ed sub '\"0 6 ' '\"0 8 '" "$jobsctl" edit nightly 2>&1)
expect "without jobsd the edit is written, with a note" \
  "0 $work/jobs/nightly.yaml: written
jobsctl: note: jobsd is not running (no socket at $work/jobsd.sock); not told to reload" "$? $out"

finish
