#!/usr/bin/env bash
# jobsctl validate PATH...: the files named are checked against the jobs folder they live in (or
# --jobs-dir), so `after` and duplicate ids resolve across files, and only the files named are
# reported, as a pre-commit hook validating the changed files needs. Runs on a temporary copy of
# the example folder (removed on success, kept and named on failure).
set -uo pipefail
jobsctl=$1
source_jobs=$2
work=$(mktemp -d /tmp/jobs-validate-paths-XXXXXX)
source "$(dirname "$0")/expect.sh"

cp -r "$source_jobs" "$work/jobs"
cd "$work"
unset JOBS_DIR

# report-digest runs after nightly-report, defined beside it.
out=$("$jobsctl" validate jobs/report-digest.yaml)
expect "after resolves in the folder of the file" "0 1 job, 0 errors, 0 warnings" "$? $out"
out=$("$jobsctl" validate jobs/report-digest.yaml jobs/daily-cleanup.json)
expect "two files of one folder" "0 2 jobs, 0 errors, 0 warnings" "$? $out"

# Only the files named are reported: another file's error does not fail them.
printf 'schedule: 0 24 * * *\ncommand: ls\n' >jobs/broken.yaml
out=$("$jobsctl" validate jobs/report-digest.yaml)
expect "an unnamed file's error is not reported" "0 1 job, 0 errors, 0 warnings" "$? $out"
rm jobs/broken.yaml

# A new file reusing an id: the duplicate is reported on the file named, not on the other one.
printf 'id: nightly-report\nschedule: "0 1 * * *"\ncommand: "true"\n' >jobs/copy.yaml
out=$("$jobsctl" validate jobs/copy.yaml)
expect "exit code of a duplicate id" "2" "$?"
expect "a duplicate id is reported on the named file" \
  'jobs/copy.yaml:1:5: error: duplicate job id "nightly-report" (also in jobs/nightly-report.yaml)' \
  "$(head -1 <<<"$out")"
expect "only the named file is reported" "0 jobs, 1 error, 0 warnings" "$(tail -1 <<<"$out")"
rm jobs/copy.yaml

# A configured jobs folder is searched as jobsd searches it, subfolders included, and the same
# file named by another spelling is loaded once (no duplicate of itself).
mkdir jobs/team
printf 'schedule: "0 6 * * *"\nafter: [heartbeat]\ncommand: "true"\n' >jobs/team/chained.yaml
out=$(JOBS_DIR=jobs "$jobsctl" validate jobs/team/chained.yaml)
expect "after resolves across the configured folder" "0 1 job, 0 errors, 0 warnings" "$? $out"
out=$("$jobsctl" validate --jobs-dir "$work/jobs" jobs/team/chained.yaml)
expect "--jobs-dir by another spelling" "0 1 job, 0 errors, 0 warnings" "$? $out"

# A draft outside the folder, checked against it with --jobs-dir.
mkdir draft
printf 'schedule: "0 6 * * *"\nafter: [nightly-report]\ncommand: "true"\n' >draft/next.yaml
out=$("$jobsctl" validate --jobs-dir jobs draft/next.yaml)
expect "--jobs-dir resolves a file outside it" "0 1 job, 0 errors, 0 warnings" "$? $out"

# A pre-commit hook: `git diff --name-only | xargs jobsctl validate` names a deleted file, a new
# one and files of two folders, each checked with its own folder.
mkdir other
printf 'schedule: "0 5 * * *"\ncommand: "true"\n' >other/first.yaml
printf 'schedule: "0 6 * * *"\nafter: [first]\ncommand: "true"\n' >other/second.yaml
out=$(printf '%s\n' jobs/gone.yaml jobs/report-digest.yaml other/second.yaml |
  xargs "$jobsctl" validate)
expect "a hook's files: exit code" "0" "$?"
expect "a hook's files: the deleted file is a warning" \
  "jobs/gone.yaml: warning: no such file (deleted?): nothing to check
2 jobs, 0 errors, 1 warning" "$out"
"$jobsctl" validate --strict jobs/gone.yaml other/second.yaml >/dev/null
expect "--strict fails on a deleted file" "2" "$?"

# A lone file outside any jobs folder is checked on its own, as before.
mkdir lone
cp draft/next.yaml lone/next.yaml
out=$("$jobsctl" validate lone/next.yaml)
expect "a lone file: exit code" "2" "$?"
expect "a lone file's after names no job" \
  'lone/next.yaml:2:9: error: "after": no job has the id "nightly-report"' "$(head -1 <<<"$out")"

if finish; then
  rm -rf "$work"
else
  echo "kept $work"
  exit 1
fi
