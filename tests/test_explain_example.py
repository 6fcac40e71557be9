"""docs/examples/orientation_explained.py (seed 000's worked example) runs end to end with quick
settings and tells its story: ~99% on the test set, chance on the modulated set, the modulated
horizontal lines drive the channels like vertical ones, and activation maximisation of each
channel gives a grating at its kernel's spectral peak."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "orientation_explained.py"


def test_orientation_example_explains_the_modulation_failure(tmp_path, capsys):
    main = runpy.run_path(str(EXAMPLE))["main"]
    result = main(["--out", str(tmp_path), "--epochs", "4", "--steps", "160"])
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "activation maximisation, channel 1" in printed
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "activation_maximization.png", "feature_maps.png", "kernels_and_spectra.png", "why_modulation_fools_it.png"]
    accuracy = result["accuracy"]
    assert accuracy["test"] > 0.95 and abs(accuracy["test_modulated"] - 0.5) < 0.1
    pooled = result["pooled"]
    # the channel the vertical lines drive most is the one the modulated horizontal lines drive most
    assert np.argmax(pooled["test", "vertical"]) == np.argmax(pooled["test_modulated", "horizontal"])
    assert np.argmax(pooled["test", "horizontal"]) != np.argmax(pooled["test_modulated", "horizontal"])
    for (py, px), (dy, dx) in zip(result["kernel_peaks"], result["dominant"]):
        assert (dy, dx) in ((py, px), (-py if abs(py) != 0.5 else py, -px if abs(px) != 0.5 else px))
