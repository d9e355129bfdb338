#!/usr/bin/env bash
# Fails when a tracked C++ file differs from what clang-format makes of it.
set -euo pipefail
clang_format=$1
cd "$2"
files=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find lib apps tests bench -name '*.[ch]pp')
"$clang_format" --dry-run -Werror $files
echo "format: $(echo "$files" | wc -w) files clean"
