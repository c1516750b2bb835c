"""Two processes under torchrun with the gloo backend on CPU: DDP keeps the replicas identical."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", "-m", "mfpsn.train", "--task", "random", "--neuron", "mfpsn",
           "--epochs", "2", "--batch-size", "8", "--lr", "0.01", "--device", "cpu", "--threads", "1",
           "--no-progress", "--out", str(tmp_path / "ck"), "--name", "ddp", "--run-dir", str(tmp_path / "run"),
           "--rank-weights", str(tmp_path / "ranks"), "--subset", "12"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    w0 = load_file(str(tmp_path / "ranks" / "rank0.safetensors"))
    w1 = load_file(str(tmp_path / "ranks" / "rank1.safetensors"))
    assert list(w0) == list(w1)
    for key in w0:  # parameters and buffers (running statistics are averaged every epoch)
        assert torch.equal(w0[key], w1[key]), key
    assert any(not torch.equal(v, torch.zeros_like(v)) for k, v in w0.items() if "running_mean" in k)
    card = json.loads((tmp_path / "ck" / "ddp.json").read_text())
    assert card["world_size"] == 2 and len(card["history"]) == 2
    # 96 samples, 2 ranks x batch 8 → 6 steps per epoch; the test split (48) is sharded and summed
    assert 0.0 <= card["test_accuracy"] <= 1.0 and card["test_samples"] == 48
    assert proc.stdout.count("epoch 2/2") == 1  # only rank 0 logs
    assert not (tmp_path / "ranks" / "rank2.safetensors").exists()
