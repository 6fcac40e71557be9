"""docs/normalization_and_dropout.md: every Python example runs as written (in order, sharing one namespace)."""

from guides import run_examples


def test_normalization_and_dropout_guide_examples_run():
    run_examples("docs/normalization_and_dropout.md", min_examples=10)
