#!/usr/bin/env bash
# Regenerates libs/contracts/src/gen from proto/ with buf + ts-proto (see buf.gen.yaml), and
# gen/descriptors.ts (the FileDescriptorProtos, for server reflection and docs/api.md).
# Works from any directory; everything runs offline from node_modules.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

BUF="$ROOT/node_modules/.bin/buf"
if [[ ! -x "$BUF" ]]; then
  echo "codegen: $BUF not found; run npm ci first" >&2
  exit 1
fi

OUT="libs/contracts/src/gen"
rm -rf "$OUT"
"$BUF" generate
# the descriptors themselves (with comments), for server reflection and docs/api.md
SET="$(mktemp)"
trap 'rm -f "$SET"' EXIT
"$BUF" build -o "$SET#format=binpb"
node tools/scripts/embed-descriptors.mjs "$SET" "$OUT/descriptors.ts"
echo "codegen: generated $(find "$OUT" -name '*.ts' | wc -l | tr -d ' ') files into $OUT"
