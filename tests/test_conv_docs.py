"""docs/convolution.md: every Python example runs as written (in order, sharing one namespace)."""

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "convolution.md"


def test_convolution_guide_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 10, "docs/convolution.md lost its examples"
    namespace = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/convolution.md (example {i + 1})", "exec"), namespace)  # noqa: S102 (running the guide is the test)
