#!/usr/bin/env bash
# The dataset figures of the README (and of issue #5's closing note): certify-dataset on the
# first LIMIT images of the MNIST held-out set and of the Fashion-MNIST test set for the five
# paper presets, n0 = 200, n = 1000, alpha = 0.001, against one `glcert up` on loopback.
# Resumable: results go to .glcert/figures/<dataset>-<preset>.jsonl and a rerun skips what is done.
# contrast-brightness cannot certify at n = 1000 (its threshold is above 0.001^(1/1000)), so it
# is also run at RAISED_N (10000) on the first RAISED_LIMIT (100) images.
# SAMPLING=fixed (default: the README's figures) or sequential (ALGORITHM.md section 9; results get
# a -seq suffix, and N=2000 gives the CLI's sequential default of n doubled, suffix -seq-n2000).
# Usage: [PARTS="main raised"] [SAMPLING=fixed|sequential] [N=1000] [OUT=.glcert/figures] tools/scripts/dataset-figures.sh [LIMIT=500] [PRESETS="brightness contrast ..."]
set -euo pipefail
cd "$(dirname "$0")/../.."
LIMIT="${1:-500}"
PRESETS="${2:-brightness contrast contrast-brightness gamma translation}"
PARTS="${PARTS:-main raised}"
RAISED_N="${RAISED_N:-10000}"
RAISED_LIMIT="${RAISED_LIMIT:-100}"
SAMPLING="${SAMPLING:-fixed}"
N="${N:-1000}"
SUFFIX=""
[[ "$SAMPLING" == sequential ]] && SUFFIX="-seq"
[[ "$N" != 1000 ]] && SUFFIX="$SUFFIX-n$N"
OUT="${OUT:-.glcert/figures}"
mkdir -p "$OUT"
# the bin itself, not npx: npx does not pass SIGTERM on, and the stack would outlive this script
node_modules/.bin/glcert up >"$OUT/up.out" 2>"$OUT/up.log" &
UP=$!
trap 'kill -TERM $UP 2>/dev/null; wait $UP 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  grep -q 'stack ready' "$OUT/up.log" "$OUT/up.out" 2>/dev/null && break
  kill -0 $UP 2>/dev/null || break
  sleep 1
done
grep -q 'stack ready' "$OUT/up.log" "$OUT/up.out" || { echo "glcert up did not become ready; see $OUT/up.log" >&2; exit 1; }
run() { # data model preset limit n suffix
  echo "== $1 $2 $3 limit $4 n $5" >&2
  node_modules/.bin/glcert certify-dataset "$1" --model "$2" --preset "$3" --limit "$4" \
    --sampling "$SAMPLING" --n0 200 --n "$5" --alpha 0.001 --seed 2026 \
    --out "$OUT/$1-$3$6.jsonl" --report "$OUT/$1-$3$6.html" --json \
    | tee "$OUT/$1-$3$6.summary.json"
}
for spec in mnist-test:mnist-cnn fashion-mnist-test:fashion-cnn; do
  data="${spec%%:*}"; model="${spec##*:}"
  if [[ " $PARTS " == *" main "* ]]; then
    for preset in $PRESETS; do run "$data" "$model" "$preset" "$LIMIT" "$N" "$SUFFIX"; done
  fi
  if [[ " $PARTS " == *" raised "* ]]; then
    run "$data" "$model" contrast-brightness "$RAISED_LIMIT" "$RAISED_N" "${SUFFIX%-n$N}-n$RAISED_N"
  fi
done
