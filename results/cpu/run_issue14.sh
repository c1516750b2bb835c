#!/usr/bin/env bash
# Issue 14's CPU measurements in one go (float32, C = 128, k = 8, d = 2, T = 256), no explicit warmup, peers where
# installed (pip install spikingjelly snntorch norse; they stay optional).
# About 6 minutes on the 2-core AMD EPYC VM, 2 on the Intel Xeon VM.
# Usage: bash results/cpu/run_issue14.sh [TAG]   → results/cpu/issue14[_TAG]_N{1024,65536}.{json,md},
# issue14[_TAG]_first_call.txt, issue14[_TAG]_targets.md, issue14[_TAG]_net_step.{json,md}, issue14[_TAG]_load.txt.
# For example: bash results/cpu/run_issue14.sh (torch's default OpenMP wait policy) and
# OMP_WAIT_POLICY=PASSIVE bash results/cpu/run_issue14.sh passive (idle workers sleep instead of spinning).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/cpu
p="issue14${1:+_$1}"
{ date -u; uptime; } | tee "$out/${p}_load.txt"
common=(--T 256 --k 8 --d 2 --filter-backends fused --mfpsn-backends auto --train-backends auto --peers --no-warmup)
python -m mfpsn.bench "${common[@]}" --N 1024 --repeats 9 \
  --json "$out/${p}_N1024.json" --markdown "$out/${p}_N1024.md"
python -m mfpsn.bench "${common[@]}" --N 65536 --repeats 11 \
  --skip "snnTorch Leaky" "norse LIF" PSN SlidingPSN "LIF fused" \
  --json "$out/${p}_N65536.json" --markdown "$out/${p}_N65536.md"
python -m mfpsn.bench.first_call --T 256 --N 65536 --processes 2 | tee "$out/${p}_first_call.txt"
python -m mfpsn.bench.net_step --shape smnist rows --peers --warmup 2 --repeats 5 \
  --json "$out/${p}_net_step.json" --markdown "$out/${p}_net_step.md"
uptime | tee -a "$out/${p}_load.txt"
python -m mfpsn.bench.targets "$out/${p}_N1024.json" "$out/${p}_N65536.json" | tee "$out/${p}_targets.md"
