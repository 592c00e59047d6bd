#!/usr/bin/env bash
# Fails when the committed generated code in libs/contracts differs from what proto/ and
# buf.gen.yaml produce (CI drift check, as connect-es and protobuf-es do).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

bash tools/scripts/codegen.sh >/dev/null

status=0
if ! git diff --exit-code --stat -- libs/contracts; then
  status=1
fi
untracked="$(git ls-files --others --exclude-standard -- libs/contracts)"
if [[ -n "$untracked" ]]; then
  echo "untracked files in libs/contracts:"
  echo "$untracked"
  status=1
fi

if [[ $status -ne 0 ]]; then
  echo >&2
  echo "codegen-check: generated code is out of date with proto/ or buf.gen.yaml." >&2
  echo "codegen-check: run 'npm run codegen' and commit libs/contracts." >&2
  exit 1
fi
echo "codegen-check: libs/contracts is up to date"
