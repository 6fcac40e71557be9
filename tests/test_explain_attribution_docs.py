"""docs/explain_attribution.md: every Python example runs as written (in order, one namespace)
and prints exactly the output block that follows it."""

import contextlib
import io
import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "explain_attribution.md"


def test_explain_attribution_guide_examples_print_what_the_guide_shows():
    examples = re.findall(r"```python\n(.*?)```\n(?:\n```\n(.*?)```)?", GUIDE.read_text(), flags=re.DOTALL)
    assert len(examples) >= 6, "docs/explain_attribution.md lost its examples"
    namespace = {}
    for i, (code, expected) in enumerate(examples):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"docs/explain_attribution.md (example {i + 1})", "exec"), namespace)  # noqa: S102
        if expected:
            assert printed.getvalue() == expected, f"example {i + 1} prints {printed.getvalue()!r}"
