"""``convlab explain``: the report of a tiny model trained for a few steps on the digits dataset,
checked in a real browser (headless Chromium through selenium): every image decodes, the console
stays clean, the page is not blank; and the command's errors."""

from __future__ import annotations

import base64
import os
import re
import shutil

import numpy as np
import pytest

from convlab.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else shutil.which("chromedriver")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A digits run (seed 000's 2-channel CNN, one short epoch) and its report, through ``convlab``'s
    command line run in this process (a subprocess would pay the imports again)."""
    root = tmp_path_factory.mktemp("explain")
    assert main(["train", "--dataset", "digits", "--model", "orientation_cnn", "--epochs", "1", "--limit", "300",
                 "--out", str(root / "run"), "--no-progress"]) == 0
    assert main(["robustness", str(root / "run" / "best.safetensors"), "--limit", "40", "--eps", "0.1", "--steps", "2",
                 "--no-progress"]) == 0  # its curves join the report
    assert main(["explain", str(root / "run" / "best.safetensors"), "--out", str(root / "report"), "--images", "2",
                 "--steps", "8", "--channels", "2", "--no-progress"]) == 0
    return root / "report"


def test_report_is_self_contained_with_a_png_per_figure(report):
    folder = report
    page = (folder / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]*)"', page)
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert len(sources) == len(pngs) >= 12
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="(https?:|//)', page) and "<script" not in page  # nothing fetched, no code
    for name in ("curves.png", "filters.png", "spectra.png", "feature_maps_0.png", "feature_maps_1.png",
                 "gradcam_occlusion_correct.png", "activation_max_classes.png", "confusion_matrix.png",
                 "robustness_attacks.png", "robustness_corruptions.png"):
        assert name in pngs
    assert len([p for p in pngs if p.startswith("max_activating_0_")]) == 2  # --channels 2 of layer "0"
    for section in ("Summary", "First-layer filters", "Feature maps", "Max-activating", "Grad-CAM",
                    "Activation maximisation", "Confusion matrix", "Robustness", "PGD-2 at eps 0.1"):
        assert section in page
    for source, name in zip(sources, [s for s in re.findall(r"\((\w+\.png)\)</figcaption>", page)]):
        assert base64.b64decode(source.split(",", 1)[1]) == (folder / name).read_bytes()


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason="needs chromium and chromedriver")
def test_report_renders_in_headless_chromium(report, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from PIL import Image

    folder = report
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1280,2000", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.get((folder / "index.html").as_uri())
        count = driver.execute_script("return document.images.length")
        widths = driver.execute_script(
            "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
        assert count >= 12 and all(w > 0 for w in widths), widths
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
        shot = tmp_path / "page.png"
        assert driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.005  # text and pictures, not a blank page


def test_explain_errors(report, tmp_path, capsys):
    assert main(["explain", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "r")]) == 2
    assert "convlab explain:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["explain", "x.safetensors", "--images", "0"])
    assert "--images" in capsys.readouterr().err
    checkpoint = str(report.parent / "run" / "best.safetensors")
    assert main(["explain", checkpoint, "--layer", "conv9", "--out", str(tmp_path / "r2"), "--no-progress"]) == 2
    assert "no layer named 'conv9'; available layers: '0', '1', '2', '3', '4'" in capsys.readouterr().err
