#!/usr/bin/env bash
# The main job. Until the daemon exists: the next fires of a few schedules in several zones,
# DST changes included, as `jobsctl next` prints them.
set -euo pipefail
cd "$(dirname "$0")/.."
jobsctl=${BUILD:-build}/apps/jobsctl/jobsctl

examples=(
  "30 2 * * *|--tz America/New_York --from 2025-03-08T12:00Z -n 2"
  "30 1 * * *|--tz America/New_York --from 2025-11-01T12:00Z -n 2"
  "0 * * * *|--tz America/New_York --from 2025-11-02T03:30Z -n 4"
  "15 2 * * *|--tz Australia/Lord_Howe --from 2025-10-04T00:00Z -n 2"
  "0 0 * * *|--tz America/Santiago --from 2024-09-06T12:00Z -n 3"
  "0 12 * * *|--tz Pacific/Apia --from 2011-12-28T00:00Z -n 4"
  "0 9 * * 1#2|--tz Europe/Berlin -n 3"
  "*/15 9-17 * * 1-5|--tz Asia/Kolkata -n 3"
  "0 0 29 2 *|--from 2096-03-01T00:00Z -n 2"
)
for example in "${examples[@]}"; do
  expr=${example%%|*}
  read -ra args <<<"${example#*|}"
  echo "\$ jobsctl next '$expr' ${args[*]}"
  "$jobsctl" next "$expr" "${args[@]}"
  echo
done
