"""docs/pooling.md: every Python example runs as written (in order, sharing one namespace)."""

from guides import run_examples


def test_pooling_guide_examples_run():
    run_examples("docs/pooling.md", min_examples=8)
