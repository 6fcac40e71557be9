"""docs/onnx.md: every Python example runs as written (in order, sharing one namespace)."""

from guides import run_examples


def test_onnx_guide_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write resnet18.onnx to the working directory
    namespace = run_examples("docs/onnx.md", min_examples=2)
    assert namespace["logits"].shape == (2, 10)
