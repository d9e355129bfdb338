#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need; calls apt-get only for what is
# missing, so a second run does nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config tzdata time python3 python3-jsonschema python3-yaml
  libhowardhinnant-date-dev libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libsqlite3-dev
  doctest-dev librapidcheck-dev libbenchmark-dev
  clang libclang-rt-14-dev clang-format mandoc
  libcurl4-openssl-dev libarchive-dev libpq-dev unixodbc unixodbc-dev odbc-postgresql libsqliteodbc
  postgresql libcpp-httplib-dev openssl libfaketime
)

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
