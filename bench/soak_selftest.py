#!/usr/bin/env python3
"""Shows that each invariant of bench/soak_check.py can fail: on copies of a soak run's folder
(bench/soak --keep), it breaks one thing at a time (a doubled run, a lost fire, a killed run
recorded as a success, a zombie, a leak, a lost marker, ...) and expects exactly the rows that
must fail to fail (to fail more, when the run has failures of its own).

  bench/soak_selftest.py DIR

Exit status: 0 when every mutation is caught, 1 otherwise.
"""
import io
import json
import os
import shutil
import sqlite3
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import soak_check  # noqa: E402


def copy_run(src, dst):
    for name in ("soak.json", "actions.jsonl", "marks.sqlite", "http.log"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copy2(os.path.join(src, name), dst)
    shutil.copytree(os.path.join(src, "markers"), os.path.join(dst, "markers"))
    os.makedirs(os.path.join(dst, "state/logs"))
    for name in os.listdir(os.path.join(src, "state/logs")):
        if name.startswith("jobsd") and name.endswith(".log"):
            shutil.copy2(os.path.join(src, "state/logs", name), os.path.join(dst, "state/logs"))
    # A consistent copy of the store, WAL included.
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(src, "state/history.db"), uri=True)
    out = sqlite3.connect(os.path.join(dst, "state/history.db"))
    db.backup(out)
    db.close()
    out.close()


def bad_counts(folder):
    """{row: number of bad findings} from the checker's table."""
    out = io.StringIO()
    soak_check.check(folder, out=out)
    counts = {}
    for line in out.getvalue().splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[0].isdigit() and parts[-1] in ("PASS", "FAIL"):
            counts[int(parts[0])] = int(parts[-2])
    return counts


def sql(folder, *statements):
    db = sqlite3.connect(os.path.join(folder, "state/history.db"))
    for s in statements:
        db.execute(s) if isinstance(s, str) else db.execute(*s)
    db.commit()
    db.close()


def one(folder, query, args=()):
    db = sqlite3.connect(os.path.join(folder, "state/history.db"))
    row = db.execute(query, args).fetchone()
    db.close()
    if row is None:
        raise LookupError("the run has no row for: " + query)
    return row


def actions(folder):
    with open(os.path.join(folder, "actions.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_actions(folder, items):
    with open(os.path.join(folder, "actions.jsonl"), "w") as f:
        for a in items:
            f.write(json.dumps(a, sort_keys=True) + "\n")


# --- The mutations: (name, the rows that must fail, function(folder)).

def double_run(f):
    e = one(f, "SELECT execution_id, job_id, job_name, timezone, host, scheduled_ms, start_ms, "
               "end_ms, log_path FROM job_executions WHERE trigger_kind = 'schedule' AND status "
               "= 'success' LIMIT 1")
    sql(f, ("INSERT INTO job_executions (execution_id, job_id, job_name, status, timezone, "
            "trigger_kind, triggered_by, host, scheduled_ms, start_ms, end_ms, attempt, "
            "error_message, log_path) VALUES ('01SELFTEST0000000000000000', ?, ?, 'success', ?, "
            "'catchup', '', ?, ?, ?, ?, 1, '', ?)", e[1:]))


def double_marker(f):
    path = os.path.join(f, "markers/mark.tsv")
    with open(path) as fh:
        lines = [line for line in fh if line.rstrip().endswith("\tschedule\tmark")]
    with open(path, "a") as fh:
        fh.write(lines[len(lines) // 2])


def lose_fire(f):
    # A fire on time, in the middle of the longest lifetime: neither fire nor execution left.
    e = one(f, "SELECT execution_id FROM job_executions WHERE trigger_kind = 'schedule' AND "
               "status = 'success' ORDER BY start_ms LIMIT 1 OFFSET (SELECT count(*) / 2 FROM "
               "job_executions)")
    lose_execution(f, e[0])


def lose_execution(f, execution):
    sql(f, ("DELETE FROM step_executions WHERE execution_id = ?", (execution,)),
        ("DELETE FROM job_executions WHERE execution_id = ?", (execution,)),
        ("DELETE FROM fires WHERE execution_id = ?", (execution,)))


def lose_catchup(f):
    e = one(f, "SELECT execution_id FROM job_executions WHERE trigger_kind = 'catchup' LIMIT 1")
    lose_execution(f, e[0])


def extra_fire(f):
    # A run of a schedule at an instant that is not the job's (one second after a real one).
    e = one(f, "SELECT job_id, job_name, timezone, host, scheduled_ms + 1000, start_ms + 1000, "
               "end_ms + 1000, log_path FROM job_executions WHERE trigger_kind = 'schedule' "
               "AND status = 'success' LIMIT 1 OFFSET 100")
    sql(f, ("INSERT INTO job_executions (execution_id, job_id, job_name, status, timezone, "
            "trigger_kind, triggered_by, host, scheduled_ms, start_ms, end_ms, attempt, "
            "error_message, log_path) VALUES ('01SELFTEST0000000000000001', ?, ?, 'success', ?, "
            "'schedule', '', ?, ?, ?, ?, 1, '', ?)", e),
        ("INSERT INTO fires VALUES (?, ?, '01SELFTEST0000000000000001', 'success', '')",
         (e[0], e[4])))


def catchup_while_up(f):
    # A fire on time in the middle of the longest lifetime, recorded as a catch-up.
    e = one(f, "SELECT execution_id FROM job_executions WHERE trigger_kind = 'schedule' AND "
               "attempt = 1 ORDER BY start_ms LIMIT 1 OFFSET (SELECT count(*) / 2 FROM "
               "job_executions)")
    sql(f, ("UPDATE job_executions SET trigger_kind = 'catchup' WHERE execution_id = ?", e))


def killed_as_success(f):
    kill = [a for a in actions(f) if a["kind"] == "kill"][0]
    e = one(f, "SELECT execution_id FROM job_executions WHERE status = 'interrupted' AND "
               "start_ms <= ? AND end_ms > ? LIMIT 1", (int(kill["t"] * 1000),) * 2)
    sql(f, ("UPDATE job_executions SET status = 'success' WHERE execution_id = ?", e))


def left_running(f):
    e = one(f, "SELECT execution_id FROM job_executions WHERE status = 'success' LIMIT 1")
    sql(f, ("UPDATE job_executions SET status = 'running', end_ms = NULL WHERE execution_id = ?",
            e))


def zombie(f):
    items = actions(f)
    for a in items:
        if a["kind"] == "sample":
            a["zombies"] = [[4242, "sh", 25.0]]
            break
    write_actions(f, items)


def orphan_left(f):
    items = actions(f)
    for a in items:
        if a["kind"] == "final_scan":
            a["steps"] = [[4242, "sleep 41", "1234-1-abc"]]
    write_actions(f, items)


def leak(f):
    items = actions(f)
    lives = {}
    for a in items:
        if a["kind"] == "sample" and "VmRSS" in a:
            lives.setdefault(a["pid"], []).append(a)
    samples = max(lives.values(), key=len)
    for k, a in enumerate(samples):
        a["VmRSS"] += int(a["VmRSS"] * k / len(samples))
        a["fds"] += k
    write_actions(f, items)


def lose_marker(f):
    path = os.path.join(f, "markers/mark.tsv")
    with open(path) as fh:
        lines = fh.readlines()
    del lines[len(lines) // 3]
    with open(path, "w") as fh:
        fh.writelines(lines)


MUTATIONS = [
    ("a fire run twice (a catch-up of a fire that ran)", {1}, double_run),
    ("a marker line written twice", {1}, double_marker),
    ("a fire due while up lost", {2}, lose_fire),
    ("the catch-up after a restart lost", {2}, lose_catchup),
    ("a fire at an instant not the job's", {2}, extra_fire),
    ("a fire due while up recorded as a catch-up", {2}, catchup_while_up),
    ("a run killed by SIGKILL recorded success", {3}, killed_as_success),
    ("an execution still running at the end", {3}, left_running),
    ("a zombie under jobsd for 25 s", {4}, zombie),
    ("a step process left after the stop", {4}, orphan_left),
    ("RSS and descriptors growing", {5}, leak),
    ("a marker lost", {6}, lose_marker),
]


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: bench/soak_selftest.py DIR\n")
        return 2
    src = sys.argv[1]
    base = tempfile.mkdtemp(prefix="jobs-soak-selftest-", dir="/tmp")
    try:
        clean = os.path.join(base, "clean")
        os.makedirs(clean)
        copy_run(src, clean)
        base_bad = bad_counts(clean)
        if sum(base_bad.values()):
            print("the run fails as it is: %s; a mutation must add to its row"
                  % ", ".join("row %d: %d" % kv for kv in sorted(base_bad.items()) if kv[1]))
        missed = 0
        for k, (name, want, mutate) in enumerate(MUTATIONS):
            folder = os.path.join(base, "m%d" % k)
            os.makedirs(folder)
            copy_run(src, folder)
            mutate(folder)
            bad = bad_counts(folder)
            more = {row for row, n in bad.items() if n > base_bad.get(row, 0)}
            # Breaking the store also makes its markers disagree with it (row 6).
            ok = want <= more <= want | {6}
            missed += not ok
            print("%-50s rows now failing more: %-6s want %-4s %s"
                  % (name, ",".join(map(str, sorted(more))) or "-",
                     ",".join(map(str, sorted(want))), "caught" if ok else "MISSED"))
            shutil.rmtree(folder)
        print("soak_selftest: %d of %d mutations caught" % (len(MUTATIONS) - missed,
                                                         len(MUTATIONS)))
        return 0 if missed == 0 else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
