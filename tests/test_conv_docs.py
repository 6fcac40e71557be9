"""docs/convolution.md: every Python example runs as written (in order, sharing one namespace)."""

from guides import run_examples


def test_convolution_guide_examples_run():
    run_examples("docs/convolution.md", min_examples=10)
