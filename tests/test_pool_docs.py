"""docs/pooling.md: every Python example runs as written (in order, sharing one namespace)."""

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "pooling.md"


def test_pooling_guide_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) >= 8, "docs/pooling.md lost its examples"
    namespace = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/pooling.md (example {i + 1})", "exec"), namespace)
