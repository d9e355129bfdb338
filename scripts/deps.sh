#!/usr/bin/env bash
# Installs the Debian packages jobs needs; calls apt-get only for what is missing, so a second
# run does nothing.
#   scripts/deps.sh          what building and running jobsd and jobsctl need (make run)
#   scripts/deps.sh --test   that, and what the tests, benchmarks and fuzzers add (make test)
#   scripts/deps.sh --list [--test]   print the package names and install nothing
# tests/deps/check.py (ctest "deps") proves the lists complete: every header the build read
# and every library the binaries load comes from a package named here or one they depend on.
set -euo pipefail

# Building and running: the compiler and CMake, the libraries the binaries link, tzdata; `file`
# for make deb (CPack's DEB generator finds the binaries for dpkg-shlibdeps with it).
build_packages=(
  build-essential cmake ninja-build pkg-config tzdata file
  libhowardhinnant-date-dev libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libsqlite3-dev
  libspdlog-dev libcurl4-openssl-dev libarchive-dev libpq-dev unixodbc-dev
  # jobsd's HTTP API: libmicrohttpd (external event loop, TLS), GnuTLS for the tokens' hashes
  libmicrohttpd-dev libgnutls28-dev
)

# The tests add: doctest, rapidcheck, Google Benchmark, clang with libFuzzer, the servers they
# start (PostgreSQL, cpp-httplib's HTTP server, Python's SMTP sink), the ODBC drivers, mandoc and
# clang-format for the docs and style checks, libfaketime for the clock tests, zsh and fish to
# load and drive the completion scripts; chromium, its WebDriver and Selenium for the dashboard's
# browser test (tests/browser).
test_packages=(
  doctest-dev librapidcheck-dev libbenchmark-dev libcpp-httplib-dev
  clang libclang-rt-14-dev clang-format mandoc time zsh fish
  python3 python3-jsonschema python3-yaml
  postgresql unixodbc odbc-postgresql libsqliteodbc openssl libfaketime
  # the dashboard's browser test (tests/browser)
  chromium chromium-driver python3-selenium
  # the HTTP API's tests: its client, and ss for the connections jobsd holds
  curl iproute2
  # the metrics' tests: promtool, and a Prometheus server that scrapes jobsd
  prometheus
  # bench/run-daemon's http figure: requests per second of 16 clients
  wrk
)

list=false
packages=("${build_packages[@]}")
for arg in "$@"; do
  case $arg in
  --test) packages+=("${test_packages[@]}") ;;
  --list) list=true ;;
  *)
    echo "usage: scripts/deps.sh [--test] [--list]" >&2
    exit 2
    ;;
  esac
done

if $list; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
