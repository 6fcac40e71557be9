"""The seeds' worked numbers, from the copy kept in ``tests/fixtures/seed_examples.json``.

The file is a verbatim copy of the lecture notes' worked examples (each entry names its source
seed in ``"seed"``); it lives inside the repository so the tests pass in any clone.
"""

import json
from pathlib import Path

SEED_EXAMPLES = json.loads((Path(__file__).parent / "fixtures" / "seed_examples.json").read_text())
