#!/usr/bin/env bash
# Prints the path of a working Python matching the Lambda runtime (3.13), or explains and fails.
# Lookup order: $PAYOUTS_PYTHON, pyenv's installed 3.13.x, python3.13 on PATH. Each candidate is
# run once, because a pyenv shim exists on PATH even when that version is not selected.
set -euo pipefail
want="3.13"
candidates=()
[[ -n "${PAYOUTS_PYTHON:-}" ]] && candidates+=("$PAYOUTS_PYTHON")
if command -v pyenv >/dev/null 2>&1; then
  for dir in "$(pyenv root)"/versions/"$want".*/bin; do candidates+=("$dir/python$want"); done
fi
command -v "python$want" >/dev/null 2>&1 && candidates+=("$(command -v "python$want")")
for candidate in "${candidates[@]}"; do
  if [[ -x "$candidate" ]] && "$candidate" -c "import sys; assert sys.version_info[:2] == (3, 13)" 2>/dev/null; then
    echo "$candidate"
    exit 0
  fi
done
echo "error: no working Python $want found (the Lambda runtime is python$want)." >&2
echo "       install it (pyenv install $want) or set PAYOUTS_PYTHON=/path/to/python$want" >&2
exit 1
