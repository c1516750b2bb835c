#!/usr/bin/env bash
# Issue 14's CPU measurements in one go (float32, C = 128, k = 8, d = 2, T = 256), no explicit warmup, peers where
# installed (pip install spikingjelly snntorch norse; they stay optional). About 3 minutes on 2 cores.
# Usage: bash results/cpu/run_issue14.sh   → results/cpu/issue14_N{1024,65536}.{json,md}, issue14_first_call.txt,
# issue14_targets.md, issue14_load.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/cpu
{ date -u; uptime; } | tee "$out/issue14_load.txt"
common=(--T 256 --k 8 --d 2 --impl fused --mfpsn-impl auto --train-impl auto --peers --no-warmup)
python -m mfpsn.bench "${common[@]}" --N 1024 --repeats 7 \
  --json "$out/issue14_N1024.json" --markdown "$out/issue14_N1024.md"
python -m mfpsn.bench "${common[@]}" --N 65536 --repeats 5 \
  --skip "snnTorch Leaky" "norse LIF" PSN SlidingPSN "LIF fused" \
  --json "$out/issue14_N65536.json" --markdown "$out/issue14_N65536.md"
python -m mfpsn.bench.first_call --T 256 --N 65536 --processes 2 | tee "$out/issue14_first_call.txt"
uptime | tee -a "$out/issue14_load.txt"
python -m mfpsn.bench.targets "$out/issue14_N1024.json" "$out/issue14_N65536.json" | tee "$out/issue14_targets.md"
