#!/usr/bin/env python3
"""The invariant checker of bench/soak: reads a soak run's folder (the store, the markers, the
action log, jobsd.log) and proves, one table row each:

  1 once       no (job, scheduled instant) ran twice: in the store, in the markers, in the sql
               and http steps' own records; every scheduled run claimed its fire
  2 fires      every fire due while jobsd was up (the job unchanged, away from an edit) ran or
               is recorded (skipped with its reason, cancelled, interrupted); for the fires due
               while it was down, the missed policies of jobsd(8), and catch-ups of those only;
               none while a job was deleted or disabled, none at an instant not the job's
  3 ends       the executions running at each SIGKILL end interrupted (and nothing else does);
               nothing is left running or pending at the end; jobsd exits 0 on SIGTERM
  4 processes  no zombie stays under jobsd, no step outlives its time or a jobsd's successor,
               nothing of the run's is left once jobsd has stopped
  5 resources  jobsd's RSS and open descriptors do not grow over its longest lifetime: RSS in
               the last third against the middle one (the first third is warm-up: malloc's
               per-thread arenas and the caches fill), descriptors net of those the running
               executions hold (a line fitted to descriptors against threads)
  6 records    the markers and the store agree (every run the store has ran; every run that
               ran is in the store), and every accepted trigger ran

  bench/soak_check.py DIR     # check a folder kept by bench/soak --keep

Exit status: 0 when every invariant holds, 1 otherwise.
"""
import bisect
import collections
import datetime
import glob
import json
import math
import os
import re
import sqlite3
import statistics
import sys
import urllib.parse
import zoneinfo

# Seconds before a SIGKILL or the SIGTERM in which a due fire may not have been handled yet
# (the loop busy, a jitter of up to 2 s): such a fire is the missed policy's, not "due while up".
MARGIN = 10.0
# Seconds around an edit's window (the write, then the first reload surely after it) in which
# neither the old nor the new schedule is owed a fire.
SLACK = 1.0
# A zombie under jobsd older than this was not reaped; a step older than this outlived its time
# (the longest step sleeps 17 s; kill_grace is 1 s).
ZOMBIE_MAX_S = 10.0
STEP_MAX_S = 30.0
# Processes a killed jobsd left must be gone this long after its successor is ready.
LEFT_MAX_S = 3.0
# Resource trend over the longest lifetime: RSS, the median of the last third against the middle
# third; descriptors, the median residual (descriptors less those explained by the threads, one
# per running execution) of the last third against the first.
RSS_TOLERANCE = (1.10, 8 * 1024)   # at most middle * 1.10 + 8 MiB (kB)
FD_TOLERANCE = 32                  # residual at most first + 32


def iso_s(text):
    """Seconds since the epoch of an ISO time such as 2026-12-01T20:53:17.602Z."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- Schedules (the forms bench/soak writes: `every`, and 6-field cron with *, */n, a-b,
# a-b/n, a/n and lists in the seconds, minutes and hours fields, the others *).

def field_set(text, lo, hi):
    out = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/")
            step = int(s)
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            a, b = (int(x) for x in part.split("-"))
        else:
            a = int(part)
            b = hi if step > 1 else a
        out.update(range(a, b + 1, step))
    return out


class Schedule:
    def __init__(self, spec, zone):
        self.every = spec.get("every")
        self.parts = []
        for expr in spec.get("cron", []):
            f = expr.split()
            if len(f) != 6 or f[3:] != ["*", "*", "*"]:
                raise ValueError("unsupported expression %r" % expr)
            self.parts.append((field_set(f[0], 0, 59), field_set(f[1], 0, 59),
                               field_set(f[2], 0, 23)))
        self.zone = zoneinfo.ZoneInfo(zone)
        self.offsets = {}

    def offset(self, t):
        hour = int(t) // 3600
        if hour not in self.offsets:
            off = datetime.datetime.fromtimestamp(hour * 3600, self.zone).utcoffset()
            off2 = datetime.datetime.fromtimestamp(hour * 3600 + 3599, self.zone).utcoffset()
            if off != off2:
                raise ValueError("the offset of %s changes within an hour of %d" % (self.zone, t))
            self.offsets[hour] = int(off.total_seconds())
        return self.offsets[hour]

    def instants(self, lo, hi):
        """The fires in (lo, hi], integer seconds."""
        if hi <= lo:
            return []
        first, last = math.floor(lo) + 1, math.floor(hi)
        if self.every:
            p = self.every
            start = -(-first // p) * p
            return list(range(start, last + 1, p))
        out = set()
        for minute in range(first // 60, last // 60 + 1):
            local = minute * 60 + self.offset(minute * 60)
            m, h = (local // 60) % 60, (local // 3600) % 24
            for secs, mins, hours in self.parts:
                if m in mins and h in hours:
                    for s in secs:
                        t = minute * 60 + s
                        if first <= t <= last:
                            out.add(t)
        return sorted(out)

    def fires_at(self, t):
        return bool(self.instants(t - 1, t))


# --- The run's data.

class Lifetime:
    def __init__(self, index, pid, t0, t1):
        self.index, self.pid, self.t0, self.t1 = index, pid, t0, t1
        self.load = None       # reload(true): its start and its end; the daemon's `now` for
        self.load_end = None   # the scheduler is taken in between (after reading the files)
        self.end = None        # SIGKILL or SIGTERM time
        self.end_kind = None
        self.samples = []


def read_actions(folder):
    out = []
    with open(os.path.join(folder, "actions.jsonl")) as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT[\d:.]+Z) (\w+) (.*)$")


def read_jobsd_logs(folder):
    files = glob.glob(os.path.join(folder, "state/logs/jobsd*.log"))
    lines = []
    for path in files:
        with open(path, errors="replace") as f:
            for line in f:
                m = LOG_LINE.match(line.rstrip("\n"))
                if m:
                    lines.append((iso_s(m.group(1)), m.group(2), m.group(3)))
    lines.sort(key=lambda x: x[0])
    return lines


def read_markers(folder):
    """[(job, scheduled seconds or None, execution, attempt, trigger, source, now)]"""
    out = []
    path = os.path.join(folder, "markers/mark.tsv")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) != 6:
                    out.append(("?", None, "?", 0, "?", "bad line: " + line[:80], None))
                    continue
                sched = iso_s(p[1]) if p[1] else None
                out.append((p[0], sched, p[2], int(p[3]), p[4], "shell", None))
    for path in glob.glob(os.path.join(folder, "markers/stamp-*.tsv")):
        _, attempt, trigger = os.path.basename(path)[:-4].split("-", 2)
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                sched = iso_s(p[0]) if p[0] not in ("", "-") else None
                out.append((p[2], sched, p[3], int(attempt), trigger, "stamp", int(p[1]) / 1e9))
    return out


class Data:
    def __init__(self, folder):
        self.folder = folder
        with open(os.path.join(folder, "soak.json")) as f:
            self.meta = json.load(f)
        self.actions = read_actions(folder)
        self.log = read_jobsd_logs(folder)
        self.lifetimes = []
        by_pid = {}
        for a in self.actions:
            if a["kind"] == "start":
                life = Lifetime(len(self.lifetimes), a["pid"], a["t0"], a["t1"])
                self.lifetimes.append(life)
                by_pid[a["pid"]] = life
            elif a["kind"] in ("kill", "term"):
                life = by_pid[a["pid"]]
                life.end, life.end_kind = a["t"], a["kind"]
                life.end_action = a
            elif a["kind"] == "sample" and a["pid"] in by_pid:
                by_pid[a["pid"]].samples.append(a)
        # Loads and reloads from jobsd.log: "loaded: ... in 0.123s", logged at its end (the
        # start is the log time minus the seconds it took).
        self.reloads = []   # (start, end, lifetime)
        self.log_notes = collections.Counter()
        self.missed_notes = collections.defaultdict(list)  # job -> [(lifetime, first, last)]
        self.errors = []
        current = None
        for t, level, text in self.log:
            m = re.match(r"jobsd \S+ starting \(pid (\d+)\)", text)
            if m:
                current = by_pid.get(int(m.group(1)))
                continue
            m = re.match(r"(loaded|reloaded): .* in ([\d.]+)s$", text)
            if m and current is not None:
                start = t - float(m.group(2))
                self.reloads.append((start, t, current))
                if m.group(1) == "loaded":
                    current.load, current.load_end = start, t
                continue
            m = re.match(r"job (\S+): (?:more than )?\d+ fires? missed while jobsd was down "
                         r"\((\S+?)(?: to (\S+))?\)", text)
            if m and current is not None:
                first = iso_s(m.group(2))
                self.missed_notes[m.group(1)].append(
                    (current, first, iso_s(m.group(3)) if m.group(3) else first))
            if "ran already; not run again" in text:
                self.log_notes["ran already"] += 1
            if re.match(r"killed \d+ process", text):
                self.log_notes["killed left processes"] += int(text.split()[1])
            if level in ("error", "critical"):
                self.errors.append((t, text))
        self.reloads.sort(key=lambda r: r[0])
        self.reload_starts = [r[0] for r in self.reloads]
        for life in self.lifetimes:
            if life.load is None:
                raise ValueError("no 'loaded:' line in jobsd.log for pid %d" % life.pid)
        self.db = sqlite3.connect("file:%s?mode=ro" % os.path.join(folder, "state/history.db"),
                                  uri=True)
        self.executions = {}
        for row in self.db.execute(
                "SELECT execution_id, job_id, status, trigger_kind, scheduled_ms, start_ms, "
                "end_ms, attempt, error_message FROM job_executions"):
            e = dict(zip(("id", "job", "status", "trigger", "scheduled_ms", "start_ms", "end_ms",
                          "attempt", "error"), row))
            self.executions[e["id"]] = e
        self.fires = {}
        for row in self.db.execute(
                "SELECT job_id, scheduled_ms, execution_id, status, reason FROM fires"):
            self.fires[(row[0], row[1] // 1000)] = dict(
                zip(("job", "t", "execution", "status", "reason"), (row[0], row[1] // 1000) +
                    tuple(row[2:])))
        self.steps = collections.defaultdict(dict)
        for row in self.db.execute("SELECT execution_id, step_id, status FROM step_executions"):
            self.steps[row[0]][row[1]] = row[2]
        self.markers = read_markers(folder)
        self.sql_marks = []
        path = os.path.join(folder, "marks.sqlite")
        if os.path.exists(path):
            m = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
            self.sql_marks = m.execute(
                "SELECT job, scheduled, execution, attempt, trigger FROM marks").fetchall()
            m.close()
        self.http_requests = []
        path = os.path.join(folder, "http.log")
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    r = json.loads(line)
                    q = urllib.parse.parse_qs(urllib.parse.urlparse(r.get("target", "")).query)
                    self.http_requests.append({k: v[0] for k, v in q.items()})
        self.records = collections.defaultdict(list)  # (job, t) -> what the store says
        for e in self.executions.values():
            if e["scheduled_ms"] is not None and e["trigger"] in ("schedule", "catchup"):
                self.records[(e["job"], e["scheduled_ms"] // 1000)].append(("execution", e))
        for key, f in self.fires.items():
            self.records[key].append(("fire", f))
        self.records_of = collections.defaultdict(list)  # job -> [(t, records)]
        for (job, t), recs in self.records.items():
            self.records_of[job].append((t, recs))
        self.build_epochs()

    # When a write took effect: E_min, the start of the first reload that may have seen it (it
    # ended after the write began); E_max, the end of the first that surely did (it began after
    # the write ended).
    def applied(self, t0, t1):
        e_min = e_max = None
        for start, end, life in self.reloads:
            if e_min is None and end >= t0:
                e_min = start
            if start >= t1:
                e_max = end
                break
        return e_min, e_max

    def build_epochs(self):
        """Per job, the stretches with one schedule: [{spec, exists, from (E_min, E_max, t0),
        to (t0, E_min, E_max) or None}], from the writes and deletions of the action log."""
        self.epochs = collections.defaultdict(list)
        self.writes = collections.defaultdict(list)
        for a in self.actions:
            if a["kind"] not in ("write", "delete"):
                continue
            job = a["job"]
            self.writes[job].append(a)
            if a["kind"] == "write" and a["how"] == "initial":
                e_min, e_max = self.lifetimes[0].load, self.lifetimes[0].load_end
            else:
                e_min, e_max = self.applied(a["t0"], a["t1"])
                if e_max is None:
                    e_max = float("inf")
                if e_min is None:
                    e_min = float("inf")
            change = a["kind"] == "delete" or a["sched_changed"]
            if not change:
                continue
            epochs = self.epochs[job]
            if epochs:
                epochs[-1]["to"] = {"t0": a["t0"], "e_min": e_min, "e_max": e_max}
            epochs.append({"spec": a.get("spec"), "exists": a["kind"] == "write",
                           "from": {"t0": a["t0"], "t1": a["t1"], "e_min": e_min,
                                    "e_max": e_max}, "to": None,
                           "schedule": Schedule(a["spec"]["sched"], a["spec"]["zone"])
                           if a["kind"] == "write" else None})

    def lifetime_at(self, t):
        for life in self.lifetimes:
            if life.t0 <= t <= (life.end or float("inf")):
                return life
        return None

    def up_at(self, t):
        """The lifetime scheduling at t: from the start of its first load (a fire due after it
        is not missed, only late) to its end."""
        for life in self.lifetimes:
            if life.load <= t <= (life.end or float("inf")):
                return life
        return None

    def epoch_at(self, job, t):
        """The epochs of the job that may be in effect in the daemon at time t: (surely, maybe)."""
        sure, maybe = None, []
        for ep in self.epochs[job]:
            start_min, start_max = ep["from"]["e_min"], ep["from"]["e_max"]
            end_min = ep["to"]["e_min"] if ep["to"] else float("inf")
            end_max = ep["to"]["e_max"] if ep["to"] else float("inf")
            if start_min - SLACK <= t <= end_max + SLACK:
                maybe.append(ep)
            if start_max + SLACK < t < end_min - SLACK:
                sure = ep
        return sure, maybe


# --- The checks.

class Row:
    def __init__(self, number, name):
        self.number, self.name = number, name
        self.checked = 0
        self.bad = 0
        self.details = []
        self.examples = []

    def fail(self, text):
        self.bad += 1
        if len(self.examples) < 8:
            self.examples.append(text)

    def detail(self, text):
        self.details.append(text)


def fmt_t(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def check_once(d):
    r = Row(1, "no (job, instant) ran twice")
    runs = collections.defaultdict(list)
    attempts = collections.defaultdict(list)
    for e in d.executions.values():
        if e["scheduled_ms"] is None:
            continue
        key = (e["job"], e["scheduled_ms"] // 1000)
        if e["trigger"] in ("schedule", "catchup"):
            runs[key].append(e["id"])
        if e["trigger"] in ("schedule", "catchup", "retry"):
            attempts[key + (e["attempt"],)].append(e["id"])
    r.checked += len(runs)
    dup_store = 0
    for key, ids in runs.items():
        if len(ids) > 1:
            dup_store += 1
            r.fail("store: fire %s at %s has %d executions: %s" % (key[0], fmt_t(key[1]), len(ids),
                                                                   " ".join(ids)))
    for key, ids in attempts.items():
        if len(ids) > 1:
            dup_store += 1
            r.fail("store: attempt %d of %s at %s has %d executions" % (key[2], key[0],
                                                                       fmt_t(key[1]), len(ids)))
    unclaimed = 0
    for key, ids in runs.items():
        f = d.fires.get(key)
        for i in ids:
            if f is None or f["execution"] != i:
                unclaimed += 1
                r.fail("store: execution %s of %s at %s did not claim its fire (fires: %s)"
                       % (i, key[0], fmt_t(key[1]), f))
    # The markers: one line per run of a job's first step.
    per_execution = collections.Counter(m[2] for m in d.markers)
    per_fire = collections.defaultdict(set)
    per_attempt = collections.defaultdict(set)
    for job, sched, execution, attempt, trigger, source, _ in d.markers:
        # A run by hand (and its retries) has no scheduled time (jobs(5)).
        e = d.executions.get(execution)
        if sched is None or trigger == "manual" or (e and e["scheduled_ms"] is None):
            continue
        if trigger in ("schedule", "catchup"):
            per_fire[(job, int(sched))].add(execution)
        per_attempt[(job, int(sched), attempt)].add(execution)
    dup_markers = 0
    for execution, n in per_execution.items():
        if n > 1:
            dup_markers += 1
            r.fail("markers: execution %s ran its first step %d times" % (execution, n))
    for key, ids in list(per_fire.items()) + list(per_attempt.items()):
        if len(ids) > 1:
            dup_markers += 1
            r.fail("markers: %s at %s ran as %d executions: %s" % (key[0], fmt_t(key[1]),
                                                                   len(ids), " ".join(sorted(ids))))
    r.checked += len(per_fire)
    sql_dup = sum(1 for n in collections.Counter(m[2] for m in d.sql_marks).values() if n > 1)
    http_dup = sum(1 for n in collections.Counter(q.get("execution")
                                                  for q in d.http_requests).values() if n > 1)
    for what, n in (("sql step", sql_dup), ("http step", http_dup)):
        for _ in range(n):
            r.fail("%s ran twice in one execution" % what)
    r.detail("store: %d fires run (%d executions of a schedule or a catch-up), %d doubled, "
             "%d not claimed" % (len(runs), sum(len(v) for v in runs.values()), dup_store,
                                 unclaimed))
    r.detail("markers: %d lines, %d fires, %d doubled; sql rows %d, http requests %d, "
             "doubled %d" % (len(d.markers), len(per_fire), dup_markers, len(d.sql_marks),
                            len(d.http_requests), sql_dup + http_dup))
    if d.log_notes["ran already"]:
        r.detail("note: jobsd.log says %d times that a fire ran already and was not run again"
                 % d.log_notes["ran already"])
    return r


def has_record(d, job, t):
    return bool(d.records.get((job, t)))


def check_fires(d):
    r = Row(2, "every due fire ran or was recorded")
    lifetimes = d.lifetimes
    last = lifetimes[-1]
    kinds = collections.Counter()
    up_required = 0
    excluded = 0
    # 2a. Fires due while jobsd was up, in the middle of an epoch (one schedule), away from the
    # start of the lifetime and MARGIN before its end.
    for job, epochs in d.epochs.items():
        for ep in epochs:
            if not ep["exists"] or not ep["spec"]["enabled"]:
                continue
            lo = ep["from"]["e_max"] + SLACK
            hi = ep["to"]["t0"] - SLACK if ep["to"] else float("inf")
            for life in lifetimes:
                a = max(lo, life.load + 1)
                b = min(hi, life.end - MARGIN)
                for t in ep["schedule"].instants(a, b):
                    up_required += 1
                    recs = d.records.get((job, t))
                    if not recs:
                        r.fail("missing: %s (%s) at %s, jobsd pid %d up %s-%s; epoch from %s"
                               % (job, ep["spec"]["shape"], fmt_t(t), life.pid, fmt_t(life.load),
                                  fmt_t(life.end), fmt_t(ep["from"]["t0"]) if ep["from"]["t0"]
                                  else "start"))
                        continue
                    kinds[record_kind(recs)] += 1
            # What the edit windows left out, for the count.
            if ep["to"]:
                excluded += len(ep["schedule"].instants(ep["to"]["t0"] - SLACK,
                                                        min(ep["to"]["e_max"], last.end) + SLACK))
    r.checked += up_required
    r.detail("due while up: %d fires, all recorded: %s; %d left out near edits"
             % (up_required, ", ".join("%s %d" % kv for kv in sorted(kinds.items())), excluded))

    # 2b. Fires due while jobsd was down (from MARGIN before a kill to the next load): per the
    # missed policy, the latest (once, skip) or each (all, within max_lateness) is recorded.
    down_required = down_missing = ambiguous = 0
    catchups_by = collections.defaultdict(list)   # (job, lifetime) -> records
    for i in range(1, len(lifetimes)):
        life, prev = lifetimes[i], lifetimes[i - 1]
        k = prev.end
        for job, epochs in d.epochs.items():
            ep_now = version_at_load(d, job, life)
            if ep_now is None or ep_now == "ambiguous":
                ambiguous += ep_now == "ambiguous"
                continue
            ep_then, _ = d.epoch_at(job, k - MARGIN)
            if ep_then is None or not ep_then["exists"] or not ep_now["exists"]:
                continue
            if not same_schedule(ep_then, ep_now):
                continue  # changed while down (or just before): it starts at the load
            spec = ep_now["spec"]
            if not spec["enabled"]:
                continue
            l0 = last_fire_floor(d, job, k, life)
            # The fires up to the start of the load were missed; the later ones are late (2a),
            # those within a second of it one or the other, recorded either way.
            sched = ep_now["schedule"]
            missed = sched.instants(l0, life.load)
            between = sched.instants(max(l0, life.load), life.load + 1)
            if not missed and not between:
                continue
            now = life.load_end
            owed = []
            if spec["missed"] in ("once", "skip"):
                owed = [between[-1] if between else missed[-1]]
            else:
                ml = spec["max_lateness"]
                late = [t for t in missed if ml is not None and life.load - t > ml + 1]
                owed = [t for t in missed + between if ml is None or now - t < ml - 1]
                if late:
                    owed.append(late[-1])
            for t in owed:
                down_required += 1
                if not has_record(d, job, t):
                    down_missing += 1
                    r.fail("missing after a restart: %s (missed: %s) at %s; killed %s, loaded %s,"
                           " last fire floor %s" % (job, spec["missed"], fmt_t(t), fmt_t(k),
                                                    fmt_t(life.load), fmt_t(l0)))
    r.checked += down_required
    r.detail("due while down: %d owed by the missed policies (latest, or each for missed: all),"
             " %d missing; %d left out (a write at a load)" % (down_required, down_missing,
                                                                ambiguous))

    # 2c. Every record is at an instant the job owed then: a fire of a schedule in effect (its
    # epoch may be in effect), within a lifetime; catch-ups per the policy, after a restart.
    unexpected = 0
    catchup_count = collections.Counter()
    for (job, t), recs in sorted(d.records.items()):
        trig = record_trigger(d, recs)
        if trig == "catchup":
            life = catchup_lifetime(d, job, recs, t)
            ok, why = valid_catchup(d, job, t, life)
            if ok:
                catchups_by[(job, life.index)].append((t, recs))
        else:
            ok, why = valid_on_time(d, job, t)
            if not ok and record_kind(recs) == "skipped (forbid)":
                # A catch-up of missed: all skipped behind the one before it (still queued).
                life = catchup_lifetime(d, job, recs, t)
                ok = valid_catchup(d, job, t, life)[0]
        catchup_count[trig] += 1
        if not ok:
            unexpected += 1
            r.fail("unexpected: %s at %s (%s): %s; %s" % (job, fmt_t(t), trig, why,
                                                          describe(recs)))
    policy_bad = 0
    for (job, index), items in catchups_by.items():
        spec = d.epochs[job][-1]["spec"]
        for ep in d.epochs[job]:
            if ep["exists"]:
                spec = ep["spec"]
        ran = [t for t, recs in items if any(k == "execution" for k, _ in recs)]
        skipped = [t for t, recs in items if not any(k == "execution" for k, _ in recs)]
        bad = ((spec["missed"] == "once" and len(items) > 1) or
               (spec["missed"] == "skip" and (ran or len(skipped) > 1)) or
               (spec["missed"] == "all" and len(skipped) > 1))
        if bad:
            policy_bad += 1
            r.fail("catch-up policy: %s (missed: %s) after restart %d: ran %s, skipped %s"
                   % (job, spec["missed"], index, [fmt_t(t) for t in ran],
                      [fmt_t(t) for t in skipped]))
    r.checked += sum(catchup_count.values())
    r.detail("records checked against the schedules: %s; unexpected %d, catch-up policy "
             "broken %d" % (", ".join("%s %d" % kv for kv in sorted(catchup_count.items())),
                            unexpected, policy_bad))
    return r


def record_kind(recs):
    for k, x in recs:
        if k == "execution":
            return "ran" if x["status"] not in ("cancelled", "interrupted") else x["status"]
    f = recs[0][1]
    if f["status"] == "skipped":
        return "skipped (forbid)" if f["reason"].startswith("concurrency") else "skipped"
    return "fire " + f["status"]


def record_trigger(d, recs):
    for k, x in recs:
        if k == "execution":
            return x["trigger"]
    f = recs[0][1]
    if f["status"] == "skipped" and f["reason"].startswith("missed"):
        return "catchup"
    if f["status"] == "skipped":
        return "schedule"
    return "queued"   # claimed, never begun: interrupted by a kill or the stop


def describe(recs):
    out = []
    for k, x in recs:
        if k == "execution":
            out.append("execution %s %s %s start %s" % (x["id"], x["trigger"], x["status"],
                                                        fmt_t(x["start_ms"] / 1000)))
        else:
            out.append("fire %s %s" % (x["status"], x["reason"][:80]))
    return "; ".join(out)


def version_at_load(d, job, life):
    """The epoch the daemon loaded at life.load; 'ambiguous' when a write was at that time."""
    for a in d.writes[job]:
        if life.load - 0.5 < a["t1"] and a["t0"] < life.load_end + 0.5:
            return "ambiguous"
    current = None
    for ep in d.epochs[job]:
        if ep["from"]["t1"] < life.load or ep["from"]["t0"] == 0:
            current = ep
    return current


def last_fire_floor(d, job, k, life):
    """At least the last fire jobsd knew of the job when it was killed at k (the cursor of the
    restart is that last fire): k - MARGIN, the first load, the reloads that scheduled it from
    then (a new or changed schedule) and its records from before."""
    l0 = max(k - MARGIN, int(d.lifetimes[0].load_end))
    for ep in d.epochs[job]:
        if ep["from"]["e_max"] <= k and ep["from"]["t0"]:
            l0 = max(l0, ep["from"]["e_max"])
    for t, recs in d.records_of[job]:
        if t > k or t <= l0:
            continue
        for kind, x in recs:
            if kind == "execution" and x["start_ms"] / 1000 < life.t0:
                l0 = max(l0, t)
            elif kind == "fire" and x["execution"] is None and not x["reason"].startswith(
                    "missed"):
                l0 = max(l0, t)
    return l0


def catchup_lifetime(d, job, recs, t):
    """The lifetime that caught up (or skipped as missed) the fire at t: the execution's, else
    the one whose jobsd.log says it found that fire missed, else the first load after t."""
    for k, x in recs:
        if k == "execution":
            return d.lifetime_at(x["start_ms"] / 1000)
    for life, first, last in d.missed_notes[job]:
        if first - 0.5 <= t <= last + 0.5:
            return life
    for life in d.lifetimes[1:]:
        if life.load_end + 1 >= t:
            return life
    return None


def same_schedule(a, b):
    return all(a["spec"][k] == b["spec"][k] for k in ("sched", "zone", "enabled"))


def valid_catchup(d, job, t, life):
    if life is None or life.index == 0:
        return False, "a catch-up without a restart before it"
    if t > life.load + 1:
        return False, "a catch-up of a fire after the start of the load (%s)" % fmt_t(life.load)
    prev = d.lifetimes[life.index - 1]
    due_in = d.up_at(t)
    if t <= (due_in.end if due_in else prev.end) - MARGIN:
        # Missed fires are those due while jobsd was down (jobsd(8), Missed fires), and those
        # due in the last moments before a kill that its loop had not handled yet. Anything
        # older than MARGIN, jobsd pid prev.pid should have run; a later fire that ran before
        # the kill is refused below whatever the age. (The lifetime it was due in: jobsds killed
        # before their catch-ups ran pass it on to the next.)
        up = due_in
        return False, ("due at %s while jobsd pid %s was up (until %s), yet taken as missed at "
                       "the start of pid %d" % (fmt_t(t), up.pid if up else "?",
                                                fmt_t(up.end) if up else "?", life.pid))
    ep = version_at_load(d, job, life)
    eps = d.epoch_at(job, life.load)[1] if ep == "ambiguous" else [ep]
    if not any(e and e["exists"] and e["spec"]["enabled"] and e["schedule"].fires_at(t)
               for e in eps):
        return False, "not an instant of the schedule loaded at %s" % fmt_t(life.load)
    prev = d.lifetimes[life.index - 1]
    # A job whose schedule changed (or that was enabled) while jobsd was down starts at the load.
    sure, maybe = d.epoch_at(job, prev.end)
    if sure and ep != "ambiguous" and ep and not any(same_schedule(e, ep) for e in maybe):
        return False, "its schedule changed while jobsd was down (it starts at the load)"
    if t < d.lifetimes[0].load:
        return False, "before the run"
    # A fire jobsd had handled before it was killed is not missed.
    for t2, recs in d.records_of[job]:
        if t2 > t and t2 <= prev.end and any(
                k == "execution" and x["start_ms"] / 1000 < life.t0 and x["trigger"] == "schedule"
                for k, x in recs):
            return False, "a later fire %s ran before the kill" % fmt_t(t2)
    return True, ""


def valid_on_time(d, job, t):
    life = None
    for lf in d.lifetimes:
        if lf.load - 1 < t <= lf.end + 0.001:
            life = lf
    if life is None:
        return False, "not within a lifetime of jobsd"
    _, maybe = d.epoch_at(job, t)
    if not maybe:
        return False, "no version of the job around then"
    if not any(ep["exists"] and ep["spec"]["enabled"] and ep["schedule"].fires_at(t)
               for ep in maybe):
        states = ["deleted" if not ep["exists"] else ("disabled" if not ep["spec"]["enabled"]
                                                       else "not an instant") for ep in maybe]
        return False, "/".join(states)
    return True, ""


def check_ends(d):
    r = Row(3, "killed runs end interrupted, nothing left")
    per_kill = []
    for life in d.lifetimes:
        if life.end_kind != "kill":
            continue
        k_ms = life.end * 1000
        n = 0
        for e in d.executions.values():
            if life.t0 * 1000 <= e["start_ms"] <= k_ms and (e["end_ms"] is None or
                                                            e["end_ms"] > k_ms):
                n += 1
                r.checked += 1
                if e["status"] != "interrupted":
                    r.fail("execution %s of %s was running at the kill %s but ended %s at %s"
                           % (e["id"], e["job"], fmt_t(life.end), e["status"],
                              fmt_t(e["end_ms"] / 1000) if e["end_ms"] else "-"))
                f = [x for x in d.fires.values() if x["execution"] == e["id"]]
                if e["trigger"] in ("schedule", "catchup") and (not f or f[0]["status"] !=
                                                                "interrupted"):
                    r.fail("the fire of execution %s is %s, not interrupted"
                           % (e["id"], f[0]["status"] if f else "missing"))
        per_kill.append(n)
    for a in d.actions:
        if a["kind"] == "after_restart":
            r.checked += 1
            if a["still_running"]:
                r.fail("after the restart, %d executions from before the kill at %s are still "
                       "running" % (a["still_running"], fmt_t(a["killed_at"])))
    term = d.lifetimes[-1]
    for e in d.executions.values():
        if e["status"] in ("running", "pending", "retrying") or e["end_ms"] is None:
            r.fail("execution %s of %s is %s at the end" % (e["id"], e["job"], e["status"]))
        if e["status"] == "interrupted":
            s, en = e["start_ms"] / 1000, (e["end_ms"] or 0) / 1000
            at_kill = any(life.end_kind == "kill" and life.t0 <= s <= life.end < en
                          for life in d.lifetimes)
            at_stop = term.end - 0.001 <= en and s <= term.end_action["gone"]
            if not (at_kill or at_stop):
                r.fail("execution %s of %s is interrupted (%s) but ran at no kill or stop"
                       % (e["id"], e["job"], e["error"][:80]))
    r.checked += len(d.executions)
    for f in d.fires.values():
        if f["status"] in ("pending", "running"):
            r.fail("the fire of %s at %s is still %s" % (f["job"], fmt_t(f["t"]), f["status"]))
    code = term.end_action.get("exit")
    if code != 0:
        r.fail("jobsd exited %s on SIGTERM" % code)
    statuses = collections.Counter(e["status"] for e in d.executions.values())
    r.detail("%d kills, executions running at each: %s; after each restart none of them was still"
             " running" % (len(per_kill), " ".join(map(str, per_kill)) or "-"))
    r.detail("all executions by status: %s; jobsd exited %s on SIGTERM"
             % (", ".join("%s %d" % kv for kv in sorted(statuses.items())), code))
    return r


def check_processes(d):
    r = Row(4, "no zombie or orphan process")
    samples = [a for a in d.actions if a["kind"] == "sample"]
    starts = sorted((life.t1, life.pid) for life in d.lifetimes)
    max_zombie = max_step = 0.0
    left_late = 0
    long_lived = set()
    for s in samples:
        r.checked += 1
        for pid, comm, age in s.get("zombies", []):
            max_zombie = max(max_zombie, age)
            if age > ZOMBIE_MAX_S:
                r.fail("zombie %d (%s) under jobsd %d for %.0f s at %s"
                       % (pid, comm, s["pid"], age, fmt_t(s["t"])))
        if s.get("oldest_step"):
            max_step = max(max_step, s["oldest_step"][0])
        for age, pid, cmd, token in s.get("old_steps", []):
            if age > STEP_MAX_S and pid not in long_lived:
                long_lived.add(pid)
                r.fail("step process %d (%s, token %s) alive for %.0f s at %s under jobsd %d"
                       % (pid, cmd, token, age, fmt_t(s["t"]), s["pid"]))
        for pid, cmd, token in s.get("left_by_dead", []):
            # Left by a killed jobsd: its successor kills them before it is ready.
            ready = [t for t, p in starts if p == s["pid"]]
            if ready and s["t"] > ready[0] + LEFT_MAX_S:
                left_late += 1
                r.fail("process %d (%s, token %s) of a killed jobsd still runs at %s under its "
                       "successor %d" % (pid, cmd, token, fmt_t(s["t"]), s["pid"]))
    orphans = [a for a in d.actions if a["kind"] == "orphan"]
    for o in orphans:
        r.checked += 1
        nxt = [t for t, _ in starts if t >= o["first_seen"] - 0.5]
        if o.get("last_alive") and nxt and o["last_alive"] > nxt[0] + LEFT_MAX_S:
            r.fail("orphan %d (%s) was alive at %s, after jobsd %s was ready"
                   % (o["pid"], o["cmd"], fmt_t(o["last_alive"]), fmt_t(nxt[0])))
    final = [a for a in d.actions if a["kind"] == "final_scan"]
    if not final:
        r.fail("no final scan")
    for a in final:
        for pid, cmd, token in a["steps"]:
            r.fail("after jobsd stopped: step process %d (%s, token %s) still runs%s"
                   % (pid, cmd, token, " (seen for %.0f s before)" % seen_for(samples, pid)))
        steps = {x[0] for x in a["steps"]}
        for pid, cmd in a["children"]:
            if pid not in steps:
                r.fail("after jobsd stopped: process %d (%s) is left under bench/soak"
                       % (pid, cmd))
    r.detail("%d samples: longest-lived zombie under jobsd %.1f s (limit %.0f), oldest step "
             "process %.1f s (limit %.0f); %d processes left by killed jobsds reached bench/soak "
             "and were killed by the next jobsd (jobsd.log: %d)"
             % (len(samples), max_zombie, ZOMBIE_MAX_S, max_step, STEP_MAX_S, len(orphans),
                d.log_notes["killed left processes"]))
    return r


def seen_for(samples, pid):
    ages = [a[0] for s in samples for a in s.get("old_steps", []) + [s.get("oldest_step") or
                                                                     [0, 0]] if a[1] == pid]
    return max(ages) if ages else 0.0


def check_resources(d):
    r = Row(5, "jobsd RSS and descriptors flat")
    life = max(d.lifetimes, key=lambda x: len([s for s in x.samples if "VmRSS" in s]))
    samples = [s for s in life.samples if "VmRSS" in s]
    r.checked = len(samples)
    if len(samples) < 9:
        r.fail("the longest lifetime has only %d samples" % len(samples))
        return r
    n = len(samples) // 3
    first, middle, last = samples[:n], samples[n:-n], samples[-n:]
    # RSS climbs for the first minute or so under load and then stays (a heaptrack run of 10
    # minutes on a soak folder: heap in use 13-14 MiB throughout, RSS 60-67 MiB): what
    # grows after the warm-up is a leak.
    rss0 = statistics.median(s["VmRSS"] for s in middle)
    rss1 = statistics.median(s["VmRSS"] for s in last)
    rss_limit = rss0 * RSS_TOLERANCE[0] + RSS_TOLERANCE[1]
    if rss1 > rss_limit:
        r.fail("RSS grew: median %.1f MiB in the middle third, %.1f MiB in the last (limit %.1f)"
               % (rss0 / 1024, rss1 / 1024, rss_limit / 1024))
    # Each running execution holds its pipes, log and cgroup files: as many more run at the end
    # of a slow run, descriptors are compared net of the threads (least squares).
    threads = [s["Threads"] for s in samples]
    fds = [s["fds"] for s in samples]
    mt, mf = statistics.fmean(threads), statistics.fmean(fds)
    spread = sum((t - mt) ** 2 for t in threads)
    per_thread = sum((t - mt) * (f - mf) for t, f in zip(threads, fds)) / spread if spread else 0
    residual = [f - mf - per_thread * (t - mt) for t, f in zip(threads, fds)]
    fd0 = statistics.median(residual[:n])
    fd1 = statistics.median(residual[-n:])
    if fd1 > fd0 + FD_TOLERANCE:
        r.fail("descriptors grew: %+.0f net of the threads in the first third, %+.0f in the last "
               "(limit %+.0f)" % (fd0, fd1, fd0 + FD_TOLERANCE))
    minutes = (samples[-1]["t"] - samples[0]["t"]) / 60
    cpu = (samples[-1]["cpu_ticks"] - samples[0]["cpu_ticks"]) / os.sysconf("SC_CLK_TCK")
    r.detail("pid %d, %.1f min, %d samples: RSS median %.1f -> %.1f MiB (limit %.1f, peak HWM "
             "%.1f), fds %d -> %d (%.1f a thread; net %+.0f -> %+.0f), threads %d -> %d; CPU "
             "%.0f%% of one core"
             % (life.pid, minutes, len(samples), rss0 / 1024, rss1 / 1024, rss_limit / 1024,
                max(s.get("VmHWM", 0) for s in samples) / 1024,
                statistics.median(s["fds"] for s in first),
                statistics.median(s["fds"] for s in last), per_thread, fd0, fd1,
                statistics.median(s["Threads"] for s in first),
                statistics.median(s["Threads"] for s in last), 100 * cpu / (minutes * 60)))
    return r


def check_records(d):
    r = Row(6, "markers and store agree")
    bad_marker = 0
    for job, sched, execution, attempt, trigger, source, _ in d.markers:
        r.checked += 1
        e = d.executions.get(execution)
        sched_ms = None if sched is None else int(sched * 1000)
        if e is None:
            bad_marker += 1
            r.fail("marker of %s (%s, %s) has no execution %s in the store"
                   % (job, source, trigger, execution))
        elif e["scheduled_ms"] is None and trigger in ("manual", "retry"):
            # A run by hand has no scheduled time: JOB_SCHEDULED_TIME is empty (jobs(5)).
            if (e["job"], e["attempt"], e["trigger"], None) != (job, attempt, trigger, sched_ms):
                bad_marker += 1
                r.fail("marker %s of a run by hand says %s, the store %s" % (
                    execution, (job, sched_ms, attempt, trigger),
                    (e["job"], None, e["attempt"], e["trigger"])))
        elif (e["job"], e["scheduled_ms"], e["attempt"], e["trigger"]) != (job, sched_ms, attempt,
                                                                           trigger):
            bad_marker += 1
            r.fail("marker %s says %s, the store %s" % (
                execution, (job, sched_ms, attempt, trigger),
                (e["job"], e["scheduled_ms"], e["attempt"], e["trigger"])))
    marked = {m[2] for m in d.markers}
    no_marker = 0
    for execution, steps in d.steps.items():
        if steps.get("mark") == "success":
            r.checked += 1
            if execution not in marked:
                no_marker += 1
                r.fail("the store says the first step of %s succeeded; it wrote no marker"
                       % execution)
    sql = {m[2] for m in d.sql_marks}
    http = {q.get("execution") for q in d.http_requests}
    own_bad = 0
    for execution, steps in d.steps.items():
        for step, seen in (("record", sql), ("call", http)):
            if steps.get(step) == "success":
                r.checked += 1
                if execution not in seen:
                    own_bad += 1
                    r.fail("the store says step %s of %s succeeded; the %s has no trace"
                           % (step, execution, "marks table" if step == "record" else "server"))
    for execution in sql | http:
        r.checked += 1
        if execution not in d.executions:
            own_bad += 1
            r.fail("a sql or http step ran for execution %s, unknown to the store" % execution)
    triggers = [a for a in d.actions if a["kind"] == "trigger"]
    accepted = [a for a in triggers if a["rc"] == 0]
    trig_bad = 0
    lost_queued = 0
    for a in accepted:
        r.checked += 1
        e = d.executions.get(a["execution"])
        life = d.lifetime_at(a["t0"])
        if e is None and a.get("state") == "queued" and life and life.end_kind == "kill":
            # Queued, not begun, when jobsd was killed: a run by hand claims no fire, so nothing
            # of it was recorded (jobsd(8), After a crash: "nothing it recorded is lost").
            lost_queued += 1
            continue
        if e is None or e["trigger"] != "manual" or e["job"] != a["job"]:
            trig_bad += 1
            r.fail("trigger of %s at %s (execution %s) is not in the store as a manual run: %s"
                   % (a["job"], fmt_t(a["t0"]), a["execution"], e))
    refused = collections.Counter(a["error"].split(":")[1].strip()[:40] if ":" in a["error"]
                                  else a["error"][:40] for a in triggers if a["rc"] != 0)
    r.detail("%d markers, each in the store as written (bad %d); %d first steps the store says "
             "ran without a marker; sql/http traces that disagree %d"
             % (len(d.markers), bad_marker, no_marker, own_bad))
    r.detail("triggers: %d accepted, in the store as manual runs (bad %d) but %d queued ones "
             "lost to a SIGKILL; %d refused (%s)"
             % (len(accepted), trig_bad, lost_queued, len(triggers) - len(accepted),
                ", ".join("%s %d" % kv for kv in refused.most_common(3)) or "-"))
    return r


def load_notes(d):
    """The load: fires per second, lateness, the chaos done."""
    lines = []
    duration = d.lifetimes[-1].end - d.lifetimes[0].load
    jitter = {job: eps[0]["spec"]["jitter"] for job, eps in d.epochs.items() if eps[0]["spec"]}
    sched_runs = [e for e in d.executions.values()
                  if e["trigger"] == "schedule" and not jitter.get(e["job"])]
    lateness = sorted(e["start_ms"] - e["scheduled_ms"] for e in sched_runs)
    stamps = sorted((m[6] - m[1]) * 1000 for m in d.markers if m[6] and m[1] and m[4] ==
                    "schedule" and not jitter.get(m[0]))

    def q(v, p):
        return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")

    lines.append("load: %d fires recorded in %.1f min (%.1f/s), %d executions (%.1f/s); "
                 "start - scheduled instant (no jitter) p50 %.0f ms, p99 %.0f ms, max %.0f ms; "
                 "first command step's own clock p50 %.0f ms, p99 %.0f ms"
                 % (len(d.fires), duration / 60, len(d.fires) / duration, len(d.executions),
                    len(d.executions) / duration, q(lateness, 0.5), q(lateness, 0.99),
                    lateness[-1] if lateness else float("nan"), q(stamps, 0.5),
                    q(stamps, 0.99)))
    kinds = collections.Counter()
    for a in d.actions:
        if a["kind"] == "write" and a["how"] != "initial":
            kinds["%s%s" % (a["how"], " (new schedule)" if a["sched_changed"] and
                            a["how"] != "recreate" else "")] += 1
            if not a["up"]:
                kinds["... of them while jobsd was down"] += 1
        elif a["kind"] in ("delete", "kill"):
            kinds[a["kind"]] += 1
        elif a["kind"] == "cancel" and a.get("execution"):
            kinds["cancel" + (" (ok)" if a["rc"] == 0 else " (refused)")] += 1
        elif a["kind"] == "trigger":
            kinds["trigger"] += 1
    lines.append("chaos: " + ", ".join("%s %d" % kv for kv in sorted(kinds.items())))
    lat = []
    ends = [r[1] for r in d.reloads]
    for a in d.actions:
        if a["kind"] == "write" and a["how"] != "initial" and a["up"]:
            k = bisect.bisect_left(ends, a["t1"])
            if k < len(ends) and d.lifetime_at(ends[k]) is d.lifetime_at(a["t1"]):
                lat.append(ends[k] - a["t1"])
    if lat:
        lat.sort()
        lines.append("reloads: the first reload to end after a change ended p50 %.0f ms, p99 %.0f "
                     "ms after it (jobsd.log logs only the reloads that changed something)"
                     % (1000 * q(lat, 0.5), 1000 * q(lat, 0.99)))
    if d.errors:
        lines.append("jobsd.log has %d error lines, e.g. %s"
                     % (len(d.errors), d.errors[0][1][:160]))
    return lines


def check(folder, out=sys.stdout):
    d = Data(folder)
    rows = [check_once(d), check_fires(d), check_ends(d), check_processes(d),
            check_resources(d), check_records(d)]
    m = d.meta
    out.write("soak: seed %d, %d jobs, %g min, zones %s, %d jobsd lifetimes\n"
              % (m["seed"], m["jobs"], m["minutes"], " ".join(m["zones"]), len(d.lifetimes)))
    for line in load_notes(d):
        out.write("  %s\n" % line)
    out.write("\n%-2s %-44s %9s %6s  %s\n" % ("#", "invariant", "checked", "bad", "result"))
    for row in rows:
        out.write("%-2d %-44s %9d %6d  %s\n" % (row.number, row.name, row.checked, row.bad,
                                               "PASS" if row.bad == 0 else "FAIL"))
        for text in row.details:
            out.write("     %s\n" % text)
        for text in row.examples:
            out.write("     ! %s\n" % text)
    ok = all(row.bad == 0 for row in rows)
    out.write("\nsoak: %s\n" % ("all invariants hold" if ok else "FAILED: %s" % ", ".join(
        str(row.number) for row in rows if row.bad)))
    out.flush()
    return ok


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.stderr.write("usage: bench/soak_check.py DIR\n")
        sys.exit(2)
    sys.exit(0 if check(sys.argv[1]) else 1)
