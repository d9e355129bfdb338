# Sourced by the integration tests that trigger jobs of a running jobsd, in a working folder with
# a runs/ folder:
#   run JOB          triggers JOB, waits for its end, keeps its record in runs/JOB.json, prints
#                    its execution id
#   record JOB EXPR  a Python expression on the record `r` of JOB's last run (steps by id in `s`)

run() {
  "$jobsctl" trigger "$1" --wait --json > "runs/$1.json" 2> "runs/$1.err"
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["execution_id"])' \
    "runs/$1.json" 2>/dev/null
}

record() {
  python3 - "runs/$1.json" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = {step["step_id"]: step for step in r.get("steps") or []}
print(eval(sys.argv[2]))
PY
}
