"""docs/models_and_analysis.md: every Python example runs as written (in order, one namespace) and
prints exactly the output block that follows it."""

import contextlib
import io
import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "models_and_analysis.md"


def test_models_and_analysis_guide_examples_print_what_the_guide_shows():
    examples = re.findall(r"```python\n(.*?)```\n(?:\n```\n(.*?)```)?", GUIDE.read_text(), flags=re.DOTALL)
    assert len(examples) >= 8, "docs/models_and_analysis.md lost its examples"
    namespace = {}
    for i, (code, expected) in enumerate(examples):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"docs/models_and_analysis.md (example {i + 1})", "exec"), namespace)  # noqa: S102
        if expected:
            assert printed.getvalue() == expected, f"example {i + 1} prints something else than the guide shows"
