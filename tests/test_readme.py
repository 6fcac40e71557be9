"""The README's Python examples run as written (in order, in one namespace)."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3, "the README's tour lost its examples"
    monkeypatch.chdir(tmp_path)  # the tour saves a checkpoint in the working directory
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert (tmp_path / "model.safetensors").exists()
    assert namespace["saliency"].shape == (64, 64)
    assert namespace["erf"].shape == (64, 64)
    assert "Total params: 11,689,512" in capsys.readouterr().out


def test_readme_setup_commands_match_ci():
    """The test command of the README is the one .ci/run executes."""
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    assert "pip install -e '.[test]' && python -m pytest" in text
    assert "python -m pip install -e '.[test]'" in ci and "python -m pytest" in ci
    assert "apt-get install -y dataset-fashion-mnist" in text and "apt-get install -y dataset-fashion-mnist" in ci
