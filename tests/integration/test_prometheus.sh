#!/usr/bin/env bash
# A real Prometheus server (Debian's prometheus) scrapes jobsd's /metrics on loopback and finds
# jobs_executions_total for a job triggered through the socket; promtool checks the exposition.
#
#   test_prometheus.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work prometheus
prometheus=$(command -v prometheus) || {
  expect "prometheus is installed (scripts/deps.sh --test)" "found" "missing"
  exit 1
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
prom_port=$(free_port)
cleanup_more() { [ -n "${prom_pid:-}" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid"; }

mkdir jobs
cat > jobs/hello.yaml <<'YAML'
schedule: "0 3 * * *"
command: "echo hello"
YAML
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
http:
  listen: 127.0.0.1:$port
YAML
"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state"
expect "jobsd starts with the HTTP listener" "0" "$?"

"$jobsctl" trigger --wait hello >/dev/null
expect "the triggered job succeeds" "0" "$?"

curl -fsS "http://127.0.0.1:$port/metrics" -o metrics.txt
expect "GET /metrics answers without a token" "0" "$?"
promtool check metrics <metrics.txt >promtool.txt 2>&1
expect "promtool check metrics finds nothing to complain about" "0 " "$? $(cat promtool.txt)"
expect "the exposition counts the run" "1" \
  "$(grep -c '^jobs_executions_total{job_id="hello",status="success"} 1$' metrics.txt)"

cat > prometheus.yml <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: jobsd
    static_configs:
      - targets: ["127.0.0.1:$port"]
YAML
"$prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >prometheus.log 2>&1 &
prom_pid=$!

# The value Prometheus has scraped for the triggered job, or nothing yet.
scraped() {
  curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" \
    --data-urlencode 'query=jobs_executions_total{job_id="hello",status="success"}' >query.json &&
    python3 - query.json <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))["data"]["result"]
sys.exit(0 if result and result[0]["value"][1] == "1" else 1)
PY
}
wait_for 60 scraped
expect "Prometheus scraped jobs_executions_total{job_id=\"hello\",status=\"success\"} = 1" "0" "$?" \
  || tail -20 prometheus.log
target_health() {
  curl -fsS "http://127.0.0.1:$prom_port/api/v1/targets" >targets.json &&
    python3 -c 'import json,sys; t = json.load(open(sys.argv[1]))["data"]["activeTargets"][0]; print(t["health"], t["lastError"])' targets.json
}
expect "the scrape target is healthy" "up " "$(target_health)"
finish
