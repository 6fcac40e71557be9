"""The Python examples of the Markdown guides (docs/*.md), for the tests that run them."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_examples(page: str) -> list[str]:
    """The code of every ```python block of ``page`` (a path from the repository root), in order."""
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), flags=re.DOTALL)


def run_examples(page: str, min_examples: int) -> dict:
    """Run every Python example of ``page`` as written, in order, sharing one namespace (later
    examples use earlier names, as a reader would); returns that namespace. Fails if the page has
    fewer than ``min_examples`` examples, so that a guide cannot lose them unnoticed."""
    blocks = python_examples(page)
    assert len(blocks) >= min_examples, f"{page} lost its examples: {len(blocks)} < {min_examples}"
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{page} (example {i + 1})", "exec"), namespace)  # noqa: S102 (running the guide is the test)
    return namespace
