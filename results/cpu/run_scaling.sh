#!/usr/bin/env bash
# Issue 14's scaling table: one neuron layer (float32, C = 128, k = 8, d = 2) over T at N = 1,024 and over N at
# T = 256, peers where installed, then the fitted log–log slopes. About 5 minutes on 2 cores.
# Usage: bash results/cpu/run_scaling.sh   → results/cpu/scaling_T.{json,md}, scaling_N.{json,md}, scaling.md
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/cpu
common=(--k 8 --d 2 --filter-backends fused --mfpsn-backends auto --train-backends auto --peers --repeats 5)
python -m mfpsn.bench "${common[@]}" --T 64 256 1024 --N 1024 \
  --json "$out/scaling_T.json" --markdown "$out/scaling_T.md"
python -m mfpsn.bench "${common[@]}" --T 256 --N 1024 8192 65536 --skip "snnTorch Leaky" "norse LIF" "LIF fused" \
  --json "$out/scaling_N.json" --markdown "$out/scaling_N.md"
python -m mfpsn.bench.scaling "$out/scaling_T.json" "$out/scaling_N.json" --markdown "$out/scaling.md"
