#!/usr/bin/env python3
"""Proves scripts/deps.sh complete for a build: every file from outside the source and build
trees that the build read, ran or loads comes from a Debian package that deps.sh names
(`--list --test`) or that one of those pulls in through Depends/Pre-Depends.

    check.py BUILD_DIR DEPS_SH

The files checked:
  - the headers the compiler read (ninja's dependency log, `ninja -t deps`);
  - the absolute paths in build.ninja and the rules it includes: the libraries linked, the
    CMake modules and package config files the configure step read, the tools the rules run
    (compiler, ar, ranlib, cmake, ninja);
  - the programs configure found with find_program (pkg-config, mandoc, clang-format...);
  - the shared libraries the built programs and libraries load (`ldd`).

A file from no package (under /usr/local, say) fails too. Exits 0 when complete, 1 with one
line per missing package (and a file that needs it), 77 when this is not a Debian system.
"""

import os
import re
import shutil
import subprocess
import sys


def run(argv, check=True):
    """The command's standard output; its standard error is dropped (dpkg -S and ldd are
    noisy about the paths they do not know)."""
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if check and result.returncode != 0:
        sys.exit(f"deps: {' '.join(argv[:3])}... failed with exit code {result.returncode}")
    return result.stdout


class Needs:
    """The files to account for, each with the first thing that needed it (for the message)."""

    def __init__(self, source_dir, build_dir):
        self.trees = [os.path.realpath(source_dir) + "/", os.path.realpath(build_dir) + "/"]
        self.needed_by = {}

    def add(self, path, needer):
        path = os.path.normpath(path)
        if not os.path.isfile(path):
            return
        if any(os.path.realpath(path).startswith(tree) for tree in self.trees):
            return
        self.needed_by.setdefault(path, needer)


def relative(path, base):
    return os.path.relpath(path, base) if path.startswith(base + "/") else path


def headers(needs, build_dir, source_dir):
    """`ninja -t deps` prints each object, then its dependencies indented: the source file
    first, then the headers in the order the compiler opened them."""
    objects = []
    for line in run(["ninja", "-C", build_dir, "-t", "deps"]).splitlines():
        if line and not line.startswith(" "):
            objects.append([])
        elif line.strip() and objects:
            objects[-1].append(os.path.normpath(os.path.join(build_dir, line.strip())))
    # By source file, so that the file named in a message does not depend on the build order.
    for paths in sorted(p for p in objects if p):
        for path in paths[1:]:
            needs.add(path, relative(paths[0], source_dir))


def build_ninja(needs, build_dir, name="build.ninja"):
    """Absolute paths anywhere in build.ninja and the files it includes, each charged to the
    edge or rule it appears in."""
    edge = name
    with open(os.path.join(build_dir, name), encoding="utf-8") as f:
        for line in f:
            if line.startswith(("build ", "rule ")):
                edge = f"{name}: {line.split()[1].rstrip(':')}"
            elif line.startswith(("include ", "subninja ")):
                build_ninja(needs, build_dir, line.split()[1])
            for token in line.split():
                token = token.replace("$:", ":").rstrip(":")
                if token.startswith("/"):
                    needs.add(token, edge)


def cmake_cache(needs, build_dir):
    """The files and programs configure found (FILEPATH entries), and CMake's own commands.
    Not the binutils CMake looks for on its own (CMAKE_AR, CMAKE_NM, CMAKE_LINKER...): it takes
    whichever the machine has (llvm-ar when LLVM is there, else ar), and those the build runs
    are in the rules."""
    with open(os.path.join(build_dir, "CMakeCache.txt"), encoding="utf-8") as f:
        for line in f:
            match = re.match(r"([^#/][^:=]*):(FILEPATH|INTERNAL)=(/.*)$", line.strip())
            if not match:
                continue
            name, kind, value = match[1], match[2], match[3]
            if (kind == "FILEPATH" and (not name.startswith("CMAKE_") or
                                        name in ("CMAKE_CXX_COMPILER", "CMAKE_MAKE_PROGRAM"))
                    or name.startswith("CMAKE_") and name.endswith("_COMMAND")):
                needs.add(value, "CMakeCache.txt: " + name)


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def shared_libraries(needs, build_dir):
    """What `ldd` resolves for every program and shared library built (objects excluded)."""
    binaries = []
    for root, dirs, files in os.walk(build_dir):
        dirs[:] = [d for d in dirs if d != "CMakeFiles"]
        for name in files:
            path = os.path.join(root, name)
            if (os.access(path, os.X_OK) or ".so" in name) and not os.path.islink(path) \
                    and is_elf(path):
                binaries.append(path)
    if not binaries:
        sys.exit(f"deps: no programs in {build_dir}; build it first")
    binary = None
    missing = []
    # ldd exits 1 when one of its arguments is not dynamic; the others are still printed.
    for line in run(["ldd"] + sorted(binaries), check=False).splitlines():
        if not line.startswith("\t"):
            binary = relative(line.rstrip(":"), build_dir)
            continue
        line = line.strip()
        if "=> not found" in line:
            missing.append(f"deps: {line.split()[0]} (needed by {binary}) is not found by the loader")
            continue
        match = re.search(r"(?:=> )?(/\S+) \(0x", line)
        if match:
            needs.add(match[1], binary)
    return len(binaries), missing


def spellings(path):
    """The names dpkg may know a file by: as given and with symlinks resolved, each also with
    /usr added or removed (Debian 12's merged /usr: dpkg says /bin/bash and /lib/.../libc.so.6
    where the loader and realpath may say /usr/bin/bash and /usr/lib/...)."""
    names = []
    for p in (path, os.path.realpath(path)):
        names.append(p)
        if re.match(r"/usr/(bin|sbin|lib\w*)/", p):
            names.append(p[4:])
        elif re.match(r"/(bin|sbin|lib\w*)/", p):
            names.append("/usr" + p)
    return list(dict.fromkeys(names))


def owners(paths):
    """Path -> the packages that ship it (empty when none), from one `dpkg -S` call."""
    candidates = {path: spellings(path) for path in paths}
    all_names = sorted({name for names in candidates.values() for name in names})
    shipped = {}
    # Exit code 1 when some names are not found, which is expected for the other spellings.
    for line in run(["dpkg-query", "-S"] + all_names, check=False).splitlines():
        if line.startswith(("diversion by", "local diversion")) or ": " not in line:
            continue
        packages, name = line.split(": ", 1)
        shipped[name] = {p.strip().split(":")[0] for p in packages.split(",")}
    # The first spelling dpkg knows: a symlink's own package (libfoo.so in libfoo-dev), not
    # its target's (libfoo.so.1 in libfoo1).
    return {path: next((shipped[n] for n in names if n in shipped), set())
            for path, names in candidates.items()}


def parse_relations(field):
    """'a (>= 1) | b:any, c' -> [['a', 'b'], ['c']]: names without versions or arch qualifiers."""
    groups = []
    for group in field.split(","):
        names = [re.sub(r"\s*[(\[<].*$", "", alt).strip().split(":")[0] for alt in group.split("|")]
        names = [n for n in names if n]
        if names:
            groups.append(names)
    return groups


def installed_packages():
    """name -> (essential, dependency groups), and virtual name -> providers, for the packages
    installed, from one `dpkg-query -W` call."""
    packages, providers = {}, {}
    fmt = "${Package}\t${db:Status-Abbrev}\t${Essential}\t${Provides}\t${Depends}, ${Pre-Depends}\n"
    for line in run(["dpkg-query", "-W", "-f", fmt]).splitlines():
        name, status, essential, provides, depends = line.split("\t")
        if not status.startswith("ii"):
            continue
        essential_before, groups_before = packages.get(name, (False, []))
        packages[name] = (essential_before or essential == "yes",
                          groups_before + parse_relations(depends))
        for virtual in parse_relations(provides):
            providers.setdefault(virtual[0], set()).add(name)
    return packages, providers


def closure(roots, packages, providers):
    """Every package the roots pull in. Of an alternatives group 'a | b' only the first
    alternative counts: it is what apt installs on a fresh machine, whatever happens to be
    installed here. A virtual name counts as each of its installed providers."""
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        real = [name] if name in packages else sorted(providers.get(name, ()))
        for package in real:
            if package in seen:
                continue
            seen.add(package)
            todo.extend(group[0] for group in packages[package][1])
    return seen


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: check.py BUILD_DIR DEPS_SH")
    build_dir, deps_sh = (os.path.abspath(a) for a in sys.argv[1:])
    if not shutil.which("dpkg-query"):
        print("deps: skipped: no dpkg-query, not a Debian system")
        return 77
    if not os.path.isfile(os.path.join(build_dir, ".ninja_deps")):
        sys.exit(f"deps: {build_dir} has no ninja dependency log; configure it with -G Ninja and build")

    named = run([deps_sh, "--list", "--test"]).split()
    packages, providers = installed_packages()
    for name in named:
        if name not in packages and name not in providers:
            print(f"deps: note: {name} is named by {os.path.basename(deps_sh)} but not installed")
    essential = [name for name, (is_essential, _) in packages.items() if is_essential]
    pulled_in = closure(named + essential, packages, providers)

    cache_path = os.path.join(build_dir, "CMakeCache.txt")
    source_dir = re.search(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$",
                           open(cache_path, encoding="utf-8").read(), re.M)[1]
    needs = Needs(source_dir, build_dir)
    headers(needs, build_dir, source_dir)
    build_ninja(needs, build_dir)
    cmake_cache(needs, build_dir)
    binary_count, problems = shared_libraries(needs, build_dir)

    by_package = {}
    for path, shipped_by in owners(needs.needed_by).items():
        if not shipped_by:
            problems.append(f"deps: {path} (needed by {needs.needed_by[path]}) "
                            "is in no Debian package")
        elif not shipped_by & pulled_in:
            by_package.setdefault(" or ".join(sorted(shipped_by)), []).append(path)
    for package, paths in sorted(by_package.items()):
        path = paths[0]  # the first one needed: a header included straight from a source file
        more = f" (and {len(paths) - 1} more of its files)" if len(paths) > 1 else ""
        problems.append(f"deps: {path} (needed by {needs.needed_by[path]}) is in {package}, "
                        f"which {relative(deps_sh, source_dir)} does not name nor pull in{more}")

    for line in problems:
        print(line)
    print(f"deps: {len(needs.needed_by)} files from outside the tree (headers, link inputs, "
          f"CMake files, tools, the libraries of {binary_count} programs) against "
          f"{len(named)} named packages, {len(pulled_in)} with what they pull in: "
          + ("incomplete" if problems else "complete"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
