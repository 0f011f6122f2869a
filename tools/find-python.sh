#!/usr/bin/env bash
# Prints the path of a Python matching the Lambda runtime (python3.13), or explains and fails.
# Lookup order: $PAYOUTS_PYTHON, python3.13 on PATH, pyenv's installed 3.13.x.
set -euo pipefail
want="3.13"
if [[ -n "${PAYOUTS_PYTHON:-}" ]]; then echo "$PAYOUTS_PYTHON"; exit 0; fi
if command -v "python$want" >/dev/null 2>&1; then command -v "python$want"; exit 0; fi
if command -v pyenv >/dev/null 2>&1; then
  for dir in "$(pyenv root)"/versions/"$want".*/bin; do
    if [[ -x "$dir/python$want" ]]; then echo "$dir/python$want"; exit 0; fi
  done
fi
echo "error: no Python $want found (the Lambda runtime is python$want)." >&2
echo "       install it (pyenv install $want) or set PAYOUTS_PYTHON=/path/to/python$want" >&2
exit 1
