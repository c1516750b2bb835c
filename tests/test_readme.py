"""The README's Python snippet runs as written, and the README keeps exactly two set-up commands."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_snippet_runs():
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no python snippet"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one():
    text = README.read_text()
    commands = re.findall(r"^    (pip install .+)$", text, flags=re.M)
    assert len(commands) == 2, commands
    assert "python app.py" in commands[0]
    assert "pytest" in commands[1]
    ci = (README.parent / ".ci" / "run").read_text()
    assert commands[1] in ci
