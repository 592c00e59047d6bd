#!/usr/bin/env bash
# The dataset figures of the README (and of issue #5's closing note): certify-dataset on the
# first LIMIT images of the MNIST held-out set and of the Fashion-MNIST test set for the five
# paper presets, n0 = 200, n = 1000, alpha = 0.001, against one `glcert up` on loopback.
# Resumable: results go to .glcert/figures/<dataset>-<preset>.jsonl and a rerun skips what is done.
# Usage: tools/scripts/dataset-figures.sh [LIMIT=500] [PRESETS="brightness contrast ..."]
set -euo pipefail
cd "$(dirname "$0")/../.."
LIMIT="${1:-500}"
PRESETS="${2:-brightness contrast contrast-brightness gamma translation}"
OUT=.glcert/figures
mkdir -p "$OUT"
npx glcert up >"$OUT/up.out" 2>"$OUT/up.log" &
UP=$!
trap 'kill -TERM $UP 2>/dev/null; wait $UP 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do grep -q 'stack ready' "$OUT/up.log" "$OUT/up.out" 2>/dev/null && break; sleep 1; done
grep -q 'stack ready' "$OUT/up.log" "$OUT/up.out" || { echo "glcert up did not become ready; see $OUT/up.log" >&2; exit 1; }
for spec in mnist-test:mnist-cnn fashion-mnist-test:fashion-cnn; do
  data="${spec%%:*}"; model="${spec##*:}"
  for preset in $PRESETS; do
    echo "== $data $model $preset" >&2
    npx glcert certify-dataset "$data" --model "$model" --preset "$preset" --limit "$LIMIT" \
      --n0 200 --n 1000 --alpha 0.001 --seed 2026 \
      --out "$OUT/$data-$preset.jsonl" --report "$OUT/$data-$preset.html" --json \
      | tee "$OUT/$data-$preset.summary.json"
  done
done
