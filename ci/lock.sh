#!/usr/bin/env bash
# Regenerate requirements/lock.txt: resolve the package with every extra CI installs in a fresh venv,
# holding the known-good core at its pins, then freeze. Run it after changing dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3.11 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade "pip>=24"
printf '%s\n' "mindspore==2.9.0" "torch==2.13.0" "transformers==4.57.1" "numpy==1.26.4" "ai2-olmo==0.6.0" \
    "mindformers==1.9.0" > "$tmp/core.txt"
"$tmp/venv/bin/pip" install -q -c "$tmp/core.txt" -e ".[test,mindformers]"
"$tmp/venv/bin/pip" freeze | grep -v -E '^(-e |mindzoo)' > requirements/lock.txt
echo "requirements/lock.txt: $(wc -l < requirements/lock.txt) pins"
