"""``pip install .`` installs exactly the ``mfpsn`` package, and the README snippet runs from another folder.

Offline: ``--no-deps --no-build-isolation`` (setuptools from this environment, nothing downloaded). The source
is copied first so that the build leaves nothing in the checkout.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _source_copy(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "mfpsn", src / "mfpsn", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("assets", "checkpoints", "results"):   # present in a checkout; must not be installed
        (src / name).mkdir()
        (src / name / "placeholder.txt").write_text("not a package\n")
    return src


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFPSN_")}
    env["PYTHONPATH"] = str(site)
    return env


@pytest.mark.slow
def test_pip_install_target_then_readme_snippet_from_another_folder(tmp_path):
    src = _source_copy(tmp_path)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "--target", str(site), str(src)], check=True, timeout=120)
    installed = sorted(p.name for p in site.iterdir())
    assert installed[0] == "mfpsn" and installed[1].startswith("mfpsn-0.1.0.dist-info") and len(installed) == 2, \
        installed
    snippet = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = (snippet + "\nimport mfpsn, mfpsn.paths, pathlib\n"
             f"assert pathlib.Path(mfpsn.__file__).is_relative_to({str(site)!r}), mfpsn.__file__\n"
             "assert not mfpsn.paths.data_dir('checkpoints').exists()\n"
             "print('ok', spikes.shape)\n")
    out = subprocess.run([sys.executable, "-c", check], cwd=elsewhere, env=_env(site), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok torch.Size([16, 4, 32])"
    # the shipped checkpoints are reachable through the documented override
    env = {**_env(site), "MFPSN_CHECKPOINTS": str(ROOT / "checkpoints")}
    code = "from mfpsn.checkpoints import available; print(len(available()) > 0)"
    out = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr


@pytest.mark.slow
def test_editable_wheel_builds_with_only_the_mfpsn_package(tmp_path):
    """What ``pip install -e .`` does first (PEP 660): setuptools must find one top-level package."""
    src = _source_copy(tmp_path)
    dist = tmp_path / "dist"
    code = ("import sys; from setuptools import build_meta as b; "
            f"print(b.build_editable({str(dist)!r}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1].startswith("mfpsn-0.1.0")


def test_data_dir_override_and_repository_default(monkeypatch, tmp_path):
    from mfpsn.paths import REPO_ROOT, data_dir

    monkeypatch.delenv("MFPSN_ASSETS", raising=False)
    assert data_dir("assets") == REPO_ROOT / "assets"
    monkeypatch.setenv("MFPSN_ASSETS", str(tmp_path))
    assert data_dir("assets") == tmp_path.resolve()
    with pytest.raises(ValueError, match="expected one of"):
        data_dir("weights")
