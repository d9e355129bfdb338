#!/usr/bin/env bash
# The packaged files agree with each other and with jobsd(8): jobsd accepts the packaged
# configuration, the unit lines and configuration keys that jobsd(8) quotes under SYSTEMD are in
# packaging/jobsd.service and packaging/jobsd.yaml word for word, and packaging/changelog's
# first entry is the project's version.
#   test_packaging.sh JOBSD SOURCE_DIR VERSION
set -uo pipefail
jobsd=$1
src=$2
version=$3
failures=0
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

out=$("$jobsd" --check-config --config "$src/packaging/jobsd.yaml" 2>&1) ||
  fail "jobsd --check-config on packaging/jobsd.yaml: $out"

systemd=$(sed -n '/^\.Sh SYSTEMD/,/^\.Sh /p' "$src/man/jobsd.8")
while IFS= read -r line; do
  grep -qFx -- "$line" "$src/packaging/jobsd.service" ||
    fail "jobsd.8 quotes \"$line\", not in packaging/jobsd.service"
done < <(grep -E '^[A-Z][A-Za-z]+=' <<<"$systemd")
while IFS= read -r line; do
  grep -qFx -- "$line" "$src/packaging/jobsd.yaml" ||
    fail "jobsd.8 quotes \"$line\", not in packaging/jobsd.yaml"
done < <(grep -E '^(jobs_dir|state_dir|log_dir|socket): ' <<<"$systemd")
[ "$(grep -cE '^[A-Z][A-Za-z]+=' <<<"$systemd")" -ge 10 ] || fail "jobsd.8 quotes no unit lines"

head -1 "$src/packaging/changelog" | grep -qF "jobs ($version) " ||
  fail "packaging/changelog's first entry is not version $version"

[ "$failures" -eq 0 ] && echo "ok: packaging" || exit 1
