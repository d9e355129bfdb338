#!/usr/bin/env python3
"""Checks jobsctl's JSON output against the JSON OUTPUT section of jobsctl(1).

  json_contract.py MANPAGE check ENTRY < OUTPUT   checks the output of the verb entry ENTRY
                                                   ("list", "logs -f", "connections test")
  json_contract.py MANPAGE entries                 prints the entries of the Verbs list

The section names each verb's output ("An array of job objects.", "One log-event object a
line") and lists each object's keys in order, each with its type ("string or null", "array of
step objects"). An object must have exactly the documented keys in that order (an `.It Em`
item first stands for keys described elsewhere, as show's job keys), each value of its type,
null only where the type allows it, never "" (null says "none"), and paths absolute.
"""
import json
import re
import sys

class Obj(list):
    """A JSON object as its (key, value) pairs: their order and any duplicate kept."""


def is_array(v):
    return isinstance(v, list) and not isinstance(v, Obj)


# The keys whose values are paths: absolute, as JSON OUTPUT promises.
PATHS = {"path", "log_path", "jobs_dir", "state_dir", "log_dir", "socket"}

SHAPE = re.compile(r"\b(one|an array of) ([a-z-]+) objects?( a line)?", re.IGNORECASE)


def section(man):
    lines = man.splitlines()
    start = lines.index(".Sh JSON OUTPUT")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(".Sh "))
    return lines[start + 1 : end]


def parse(man):
    """The verb entries ({entry: [(array, object, json_lines)]}) and the objects
    ({name: (wildcard, [(key, type)])})."""
    entries, objects = {}, {}
    current, in_verbs, obj = None, False, None
    for line in section(man):
        if line.startswith(".Ss "):
            title = line[4:]
            in_verbs = title == "Verbs"
            m = re.fullmatch(r"The ([a-z-]+) object", title)
            obj = m.group(1) if m else None
            if obj:
                objects[obj] = (False, [])
            current = None
        elif in_verbs and line.startswith(".It Cm "):
            current = re.sub(r"\bFl ", "-", line[len(".It Cm ") :]).strip()
            entries[current] = []
        elif in_verbs and current and not line.startswith("."):
            for m in SHAPE.finditer(line):
                entries[current].append(
                    (m.group(1).lower() != "one", m.group(2), bool(m.group(3)))
                )
        elif obj and line.startswith(".It Li "):
            m = re.fullmatch(r"\.It Li (\S+) Pq (.+)", line)
            if not m:
                sys.exit(f"jobsctl.1: the {obj} object: no type in {line!r}")
            objects[obj][1].append((m.group(1), m.group(2)))
        elif obj and line.startswith(".It Em "):
            if objects[obj][1]:
                sys.exit(f"jobsctl.1: the {obj} object: {line!r} comes after keys")
            objects[obj] = (True, [])
    return entries, objects


class Checker:
    def __init__(self, objects):
        self.objects = objects
        self.errors = []
        self.checked = 0

    def fail(self, where, message):
        self.errors.append(f"{where}: {message}")

    def value(self, v, typ, where):
        nullable = typ.endswith(" or null")
        base = typ[: -len(" or null")] if nullable else typ
        if v is None:
            if not nullable:
                self.fail(where, f"null, but the type is {typ}")
            return
        if base == "string":
            if not isinstance(v, str):
                self.fail(where, f"{v!r} is not a string")
            elif v == "":
                self.fail(where, '"" where null says none')
        elif base == "integer":
            if isinstance(v, bool) or not isinstance(v, int):
                self.fail(where, f"{v!r} is not an integer")
        elif base == "number":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self.fail(where, f"{v!r} is not a number")
        elif base == "boolean":
            if not isinstance(v, bool):
                self.fail(where, f"{v!r} is not a boolean")
        elif base == "array of strings":
            if not is_array(v) or not all(isinstance(x, str) for x in v):
                self.fail(where, f"{v!r} is not an array of strings")
        elif m := re.fullmatch(r"array of ([a-z-]+) objects", base):
            if not is_array(v):
                self.fail(where, f"{v!r} is not an array")
                return
            for k, x in enumerate(v):
                self.object(x, m.group(1), f"{where}[{k}]")
        elif m := re.fullmatch(r"([a-z-]+) object", base):
            self.object(v, m.group(1), where)
        else:
            self.fail(where, f"jobsctl.1 gives an unknown type {typ!r}")

    def object(self, v, name, where):
        if name not in self.objects:
            self.fail(where, f"jobsctl.1 has no section 'The {name} object'")
            return
        if not isinstance(v, Obj):
            self.fail(where, f"not an object: {v!r}"[:200])
            return
        self.checked += 1
        wildcard, keys = self.objects[name]
        got = [k for k, _ in v]
        want = [k for k, _ in keys]
        if len(set(got)) != len(got):
            self.fail(where, f"duplicate keys in {got}")
        shown = got[len(got) - len(want) :] if wildcard else got
        if shown != want:
            self.fail(where, f"{name} object keys {shown}, jobsctl.1 lists {want}")
            return
        values = dict(v)
        for key, typ in keys:
            self.value(values[key], typ, f"{where}.{key}")
            path = values[key]
            if key in PATHS and isinstance(path, str) and not path.startswith("/"):
                self.fail(f"{where}.{key}", f"{path!r} is not absolute")


def main():
    man = open(sys.argv[1], encoding="utf-8").read()
    entries, objects = parse(man)
    if sys.argv[2] == "entries":
        print("\n".join(entries))
        return 0
    entry = sys.argv[3]
    if entry not in entries or not entries[entry]:
        sys.exit(f"jobsctl.1, JSON OUTPUT: no verb entry {entry!r} naming its objects")
    text = sys.stdin.read()
    shapes = entries[entry]
    checker = Checker(objects)
    if shapes[0][2]:
        docs = [json.loads(l, object_pairs_hook=Obj) for l in text.splitlines() if l.strip()]
        for k, doc in enumerate(docs):
            checker.object(doc, shapes[0][1], f"{entry} line {k + 1}")
    else:
        try:
            doc = json.loads(text, object_pairs_hook=Obj)
        except ValueError as e:
            sys.exit(f"{entry}: not JSON ({e}): {text[:200]!r}")
        # The first shape the output has: an array, or one object.
        array, name, _ = next(
            (s for s in shapes if s[0] == is_array(doc)), shapes[0]
        )
        checker.value(doc, f"array of {name} objects" if array else f"{name} object", entry)
    if not checker.errors and checker.checked == 0:
        checker.fail(entry, "no object to check: the test must give this verb records")
    if checker.errors:
        print("\n".join(checker.errors[:20]))
        return 1
    print(f"{entry}: {checker.checked} objects as jobsctl.1 lists them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
