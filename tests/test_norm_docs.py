"""docs/normalization_and_dropout.md: every Python example runs as written (in order, sharing one namespace)."""

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "normalization_and_dropout.md"


def test_normalization_and_dropout_guide_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 10, "docs/normalization_and_dropout.md lost its examples"
    namespace = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/normalization_and_dropout.md (example {i + 1})", "exec"), namespace)  # noqa: S102 (the guide is ours)
