#!/usr/bin/env bash
# Reproduce the CPU benchmark of issue 2 (float32, k = 8, d = 2, T = 256) and check its speed targets.
# Usage: bash results/cpu/run.sh THREADS TAG   (for example: bash results/cpu/run.sh 1 threads1)
# On a machine shared with other jobs, run two threads as OMP_WAIT_POLICY=PASSIVE bash results/cpu/run.sh 2 threads2:
# with the default (spinning) wait policy an OpenMP region stalls whenever one of its threads is descheduled.
# Writes results/cpu/bench_<TAG>_N1024.{json,md}, bench_<TAG>_N65536.{json,md} and targets_<TAG>.md.
# N = 1,024 times forward and forward+backward of every subject; N = 65,536 times the forward pass only (the
# target there is a forward target; run_issue14.sh times both).
set -euo pipefail
cd "$(dirname "$0")/../.."
threads="${1:?threads}"
tag="${2:?tag}"
out=results/cpu
uptime | tee "$out/load_$tag.txt"
python -m mfpsn.bench --T 256 --N 1024 --k 8 --d 2 --repeats 9 --threads "$threads" \
  --json "$out/bench_${tag}_N1024.json" --markdown "$out/bench_${tag}_N1024.md"
python -m mfpsn.bench --T 256 --N 65536 --k 8 --d 2 --repeats 5 --threads "$threads" --forward-only \
  --filter-backends conv1d shift_add toeplitz blocked fused auto \
  --json "$out/bench_${tag}_N65536.json" --markdown "$out/bench_${tag}_N65536.md"
uptime | tee -a "$out/load_$tag.txt"
python -m mfpsn.bench.targets "$out/bench_${tag}_N1024.json" "$out/bench_${tag}_N65536.json" \
  | tee "$out/targets_$tag.md"
