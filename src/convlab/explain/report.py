"""``convlab explain``: one self-contained HTML page that shows what a trained network learned.

:func:`build_report` reads a checkpoint written by ``convlab train`` (the model and the dataset
come from its config), and writes ``index.html`` (every picture embedded as a base64 ``data:``
URI, no script, nothing fetched from the network) plus one PNG per figure:

1. a summary table (model, dataset, parameters, accuracy) and the training curves
   (``history.json`` beside the checkpoint, if present);
2. the first convolution's kernels and their Fourier spectra (seeds 000 and 001);
3. feature maps of a few test images (seed 004);
4. the top-9 test images of a few channels of ``--layer``, cropped to the unit's receptive
   field (seed 004's "max filter response");
5. Grad-CAM and occlusion sensitivity with a sweep of patch sizes (seed 004) for a correctly and
   a wrongly classified test image of each class;
6. activation maximisation of the same channels and of every class (seeds 001 and 004);
7. the confusion matrix on the test set;
8. the robustness curves, when ``convlab robustness`` has written them beside the checkpoint.

Example::

    convlab explain runs/fmnist/best.safetensors --out report/
    convlab explain runs/fmnist/best.safetensors --out report/ --images 2 --layer 7
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import shutil
import sys
import warnings

import numpy as np

from .._argtypes import positive_int
from ..nn.modules.conv import Conv2d
from ..plots import _save as save_figure

__all__ = ["add_explain_command", "build_report"]

OCCLUSION_FRACTIONS = (0.1, 0.2, 0.35, 0.5)  # of the image width; seed 004 sweeps 10..90 px on 224 px images


def _display(image: np.ndarray, mean, std) -> np.ndarray:
    """A normalised image ``(C, H, W)`` back to [0, 1], channels last."""
    image = image * np.asarray(std).reshape(-1, 1, 1) + np.asarray(mean).reshape(-1, 1, 1)
    return np.clip(image, 0, 1).transpose(1, 2, 0)


def _heat_map(ax, attr: np.ndarray, picture: np.ndarray, title: str) -> None:
    """Positive attribution ``(H, W)`` blended over the picture, as Captum's ``blended_heat_map``."""
    from .visualize import visualize_image_attr

    if not (attr > 0).any():  # nothing to normalise: say so instead of drawing an empty map
        ax.imshow(picture.mean(axis=2), cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{title}\n(no positive evidence)", fontsize=7)
        return
    with warnings.catch_warnings():  # a confident prediction's probability barely drops: tiny values, still a map
        warnings.simplefilter("ignore", UserWarning)
        visualize_image_attr(attr[:, :, None], picture, method="blended_heat_map", sign="positive", cmap="jet",
                             plt_fig_axis=(ax.figure, ax), outlier_perc=1, use_pyplot=False)
    ax.set_title(title, fontsize=7)


class _Report:
    """Collects the sections (HTML fragments) and writes each figure's PNG."""

    def __init__(self, out_dir: str):
        self.out_dir, self.sections = out_dir, []

    def figure(self, fig, name: str, alt: str) -> str:
        """Write ``fig`` as ``name.png`` and embed it."""
        path = os.path.join(self.out_dir, f"{name}.png")
        save_figure(fig, path)
        return self.existing(path, name, alt)

    def existing(self, source: str, name: str, alt: str) -> str:
        """Embed a PNG as ``name.png`` of the report, copying it there if it was written elsewhere."""
        from ..io.atomic import write_atomically

        path = os.path.join(self.out_dir, f"{name}.png")
        if os.path.abspath(source) != os.path.abspath(path):
            write_atomically(path, lambda tmp: shutil.copyfile(source, tmp), caller="build_report")
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"><figcaption>' \
               f"{html.escape(alt)} ({name}.png)</figcaption></figure>"

    def section(self, title: str, text: str, body: str) -> None:
        anchor = f"s{len(self.sections) + 1}"
        markup = f'<section id="{anchor}"><h2>{html.escape(title)}</h2><p>{text}</p>{body}</section>'
        self.sections.append((anchor, title, markup))

    def write(self, title: str) -> str:
        from ..io.atomic import write_atomically

        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }}
h1 {{ font-size: 1.6em; }} h2 {{ border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .25em .7em; text-align: left; }}
th {{ background: #f3f3f3; }} .row {{ display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }}
nav {{ font-size: .95em; }} nav a {{ margin-right: 1em; }} figure {{ display: inline-block; margin: .5em; vertical-align: top; }}
img {{ max-width: 100%; height: auto; border: 1px solid #eee; }} figcaption {{ font-size: .85em; color: #555; }}
p {{ max-width: 60em; line-height: 1.4; }}
</style></head>
<body><h1>{html.escape(title)}</h1>
<nav>{"".join(f'<a href="#{anchor}">{html.escape(name)}</a>' for anchor, name, _ in self.sections)}</nav>
{"".join(section for *_, section in self.sections)}
<p style="color:#777">Written by <code>convlab explain</code>; every picture is embedded in this page.</p>
</body></html>
"""
        path = os.path.join(self.out_dir, "index.html")

        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(page)

        write_atomically(path, write, caller="build_report")
        return path


def _table(rows) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                               for k, v in rows) + "</table>"


def build_report(checkpoint, out_dir, images: int = 4, layer: str | None = None, data_root=None,
                 steps: int = 128, channels: int = 4, progress: bool = True) -> str:
    """Write the HTML report of a checkpoint of ``convlab train`` to ``out_dir/index.html``.

    Args:
        checkpoint: ``best.safetensors`` or ``last.safetensors`` of a run.
        out_dir: the folder to write (created if missing).
        images: test images whose feature maps are drawn.
        layer: the layer of the max-activating images, Grad-CAM and channel activation
            maximisation (a dotted name; default: the last ``Conv2d``).
        data_root: folder with the dataset files (default: the system location).
        steps: activation-maximisation steps.
        channels: channels of ``layer`` shown (evenly spaced over its channels).
        progress: show progress bars.

    Returns:
        The path of ``index.html``.

    Raises:
        OSError, ValueError: the checkpoint cannot be read, is not from ``convlab train``, or
            ``layer`` is not a layer of the model (the message lists the names).
    """
    from tqdm.auto import tqdm

    from .. import plots
    from ..cli import _load_run
    from ..data import DataLoader
    from ..tensor import Tensor
    from ..train import evaluate
    from ._hooks import resolve_layer
    from .filters import (
        feature_maps,
        max_activating,
        plot_feature_maps,
        plot_filters,
        plot_kernel_spectrum,
        plot_max_activating,
    )

    who = "build_report()"
    for name, value in (("images", images), ("steps", steps), ("channels", channels)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
    model, recipe, config = _load_run(checkpoint)
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, Conv2d)]
    if layer is not None:
        target_layer, layer_name = resolve_layer(model, layer, who)
    elif convs:
        layer_name, target_layer = convs[-1]
    else:
        target_layer = layer_name = None
    test = recipe.splits(seed=config["seed"], root=data_root)["test"]
    os.makedirs(out_dir, exist_ok=True)
    report = _Report(out_dir)
    classes, mean, std = recipe.classes, recipe.mean, recipe.std
    title = f"convlab explain: {config['model']} on {recipe.name}"
    bar = tqdm(total=7, desc="convlab explain", disable=not progress)

    # 1. summary and curves
    metrics = evaluate(model, DataLoader(test, batch_size=512), progress=progress, desc="test set")
    predictions, targets = metrics["predictions"], metrics["targets"]
    parameters = sum(p.numel() for p in model.parameters())
    history_path = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "history.json")
    history = None
    if os.path.exists(history_path):
        with open(history_path, encoding="utf-8") as f:
            history = json.load(f)
    rows = [("checkpoint", os.path.abspath(checkpoint)), ("model", config["model"]), ("dataset", recipe.name),
            ("parameters", f"{parameters:,}"), ("test images", len(targets)),
            ("test accuracy", f"{metrics['accuracy']:.2%}"), ("test loss", f"{metrics['loss']:.4f}")]
    if history:
        best = max(history, key=lambda row: row.get("val_accuracy", 0))
        rows += [("epochs trained", history[-1]["epoch"]),
                 ("best validation accuracy", f"{best.get('val_accuracy', float('nan')):.2%} (epoch {best['epoch']})")]
    body = f'<div class="row">{_table(rows)}{_table([(f"config: {k}", v) for k, v in config.items()])}</div>'

    if history:
        curves = os.path.join(out_dir, "curves.png")
        plots.plot_history(history, curves)
        body += report.existing(curves, "curves", "loss and accuracy per epoch")
    report.section("Summary", "The run's settings and its accuracy on the test set, measured now."
                   + ("" if history else " No history.json beside the checkpoint: no training curves."), body)
    bar.update()

    # 2. first-layer kernels and spectra
    if convs:
        first_name, first = convs[0]
        size = max(32, recipe.image_size[-1])
        body = report.figure(plot_filters(first, title=f"layer {first_name}: {tuple(first.weight.shape)}"),
                             "filters", f"kernels of the first convolution ({first_name})")
        body += report.figure(plot_kernel_spectrum(first, size=size), "spectra",
                              f"|DFT| of each kernel, zero-padded to {size}x{size}")
        report.section("First-layer filters and their spectra",
                       "Each kernel is drawn with 0 as mid-grey. Below it, the magnitude of its Fourier transform: a "
                       "convolution scales a wave of frequency f by |K(f)|, so bright spots are the spatial frequencies "
                       "and orientations the channel responds to (seed 000 explains its classifier this way).", body)
    bar.update()

    # 3. feature maps
    if convs:
        names = [name for name, _ in convs]
        body = ""
        for i in range(min(images, len(test))):
            x, y = test[i]
            maps = feature_maps(model, x.unsqueeze(0), names)
            fig = plot_feature_maps(maps, max_channels=8, image=Tensor(_display(x.numpy(), mean, std).transpose(2, 0, 1)),
                                    title=f"test image {i}: {classes[y]}, predicted {classes[predictions[i]]}")
            body += report.figure(fig, f"feature_maps_{i}", f"feature maps of test image {i}")
        report.section("Feature maps", "The first 8 channels of every convolution's output for a few test images "
                       "(each map with its own colour scale): early layers keep the image's layout, later ones "
                       "respond to parts.", body)
    bar.update()

    # 4. max-activating images
    chosen = []
    if target_layer is not None:
        out = feature_maps(model, test[0][0].unsqueeze(0), [layer_name])[layer_name]
        if out.ndim == 4:
            count = out.shape[1]
            chosen = sorted({round(c) for c in np.linspace(0, count - 1, min(channels, count))})
            tops = max_activating(model, test, layer_name, chosen, k=min(9, len(test)), progress=progress)
            body = ""
            for c, top in zip(chosen, tops):
                fig = plot_max_activating(top, title=f"layer {layer_name}, channel {c}", class_names=classes,
                                          labels=[test[int(i)][1] for i in top.indices])
                body += report.figure(fig, f"max_activating_{layer_name}_{c}", f"top-9 patches of channel {c}")
            report.section(f"Max-activating patches of layer {layer_name}",
                           "For each channel, the 9 test images in which it reaches its largest value, cropped to the "
                           "receptive field of the unit that fired (the input patch it sees), with the score and the "
                           "true class.", body)
    bar.update()

    # 5. Grad-CAM and occlusion
    if target_layer is not None:
        body = ""
        for kind, wanted in (("correct", True), ("wrong", False)):
            picks = []
            for c in range(len(classes)):
                hits = np.nonzero((targets == c) & ((predictions == c) == wanted))[0]
                if len(hits):
                    picks.append(int(hits[0]))
            if picks:
                fig = _attribution_figure(model, test, picks, predictions, target_layer, classes, mean, std,
                                          recipe.image_size, kind)
                body += report.figure(fig, f"gradcam_occlusion_{kind}",
                                      f"Grad-CAM and occlusion for {kind}ly classified test images")
        report.section("Where the network looks: Grad-CAM and occlusion",
                       f"For the first correctly and the first wrongly classified test image of each class: Grad-CAM at "
                       f"layer {layer_name} (the layer's activations weighted by the gradient of the predicted class, "
                       "upsampled), then occlusion sensitivity: the drop of the predicted class's probability when a "
                       "grey (dataset-mean) square covers each place, for growing patch sizes (seed 004's sweep). "
                       "Small patches find the details the decision needs; large ones, the object.", body)
    bar.update()

    # 6. activation maximisation
    from .maximize import activation_maximization

    body = ""
    am = {"input_size": recipe.image_size, "normalize": (mean, std), "steps": steps, "progress": progress}
    if chosen:
        pictures = activation_maximization(model, layer_name, channel=chosen, **am)
        body += report.figure(_picture_grid(pictures, [f"channel {c}" for c in chosen]), "activation_max_channels",
                              f"images that maximise channels of layer {layer_name}")
    pictures = activation_maximization(model, class_index=list(range(len(classes))), **am)
    body += report.figure(_picture_grid(pictures, classes), "activation_max_classes",
                          "images that maximise each class score")
    report.section("Activation maximisation",
                   f"Inputs optimised ({steps} Adam steps, Fourier parametrisation, random shifts/scales/rotations, "
                   "L2 and total-variation penalties, as Lucid does) to excite one channel, or one class's logit. "
                   "They show the patterns a unit is tuned to, not images from the data.", body)
    bar.update()

    # 7. confusion matrix
    path = os.path.join(out_dir, "confusion_matrix.png")
    plots.plot_confusion_matrix(targets, predictions, path, class_names=classes, title=f"{recipe.name} test")
    report.section("Confusion matrix", "Rows: the true class; columns: the prediction (fraction of the true class, "
                   "with counts).", report.existing(path, "confusion_matrix", "confusion matrix"))
    bar.update()

    # 8. robustness, when `convlab robustness` has measured this run (its files sit beside the checkpoint)
    run_dir = os.path.dirname(os.path.abspath(checkpoint))
    measured = [name for name in ("robustness_attacks", "robustness_corruptions", "robustness_modulation")
                if os.path.exists(os.path.join(run_dir, f"{name}.png"))]
    if measured:
        body = ""
        summary = os.path.join(run_dir, "robustness.json")
        if os.path.exists(summary):
            with open(summary, encoding="utf-8") as f:
                results = json.load(f)
            rows = [("test images", results.get("images")), ("clean accuracy", f"{results.get('clean_accuracy', 0):.2%}")]
            rows += [(f"{attack} at eps {eps}", f"{accuracy:.2%}") for attack, curve in results.get("attacks", {}).items()
                     for eps, accuracy in curve.items() if eps != "0"]
            body += _table(rows)
        for name in measured:
            body += report.existing(os.path.join(run_dir, f"{name}.png"), name, name.replace("_", " "))
        report.section("Robustness", "Measured by <code>convlab robustness</code> on this run: accuracy under "
                       "adversarial attacks of growing budget and under common corruptions (and, on the orientation "
                       "dataset, seed 000's modulation probe).", body)
    bar.close()
    return report.write(title)


def _attribution_figure(model, dataset, picks, predictions, layer, classes, mean, std, image_size, kind):
    """One row per picked test image: the image, Grad-CAM, occlusion at each patch size."""
    from matplotlib.figure import Figure

    from ..autograd import no_grad
    from ..nn import functional as F
    from .attribution import LayerAttribution, LayerGradCam, Occlusion

    channels, height, width = image_size
    sizes = sorted({max(1, round(f * width)) for f in OCCLUSION_FRACTIONS})
    fig = Figure(figsize=(1.5 * (2 + len(sizes)) + 0.2, 1.6 * len(picks) + 0.3), layout="constrained")
    axes = np.asarray(fig.subplots(len(picks), 2 + len(sizes), squeeze=False))
    grad_cam = LayerGradCam(model, layer)

    def probabilities(x):
        return F.softmax(model(x), dim=1)

    occlusion = Occlusion(probabilities)
    for row, index in enumerate(picks):
        x, y = dataset[index]
        x = x.unsqueeze(0)
        predicted = int(predictions[index])
        picture = _display(x.numpy()[0], mean, std)
        ax = axes[row, 0]
        ax.imshow(picture[:, :, 0] if channels == 1 else picture, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        with no_grad():
            p = float(probabilities(x).numpy()[0, predicted])
        ax.set_title(f"#{index} {classes[y]}\n-> {classes[predicted]} ({p:.2f})", fontsize=7,
                     color="black" if kind == "correct" else "darkred")
        cam = grad_cam.attribute(x, target=predicted, relu_attributions=True)
        cam = LayerAttribution.interpolate(cam, (height, width), "bilinear").numpy()[0, 0]
        _heat_map(axes[row, 1], cam, picture, "Grad-CAM")
        for col, size in enumerate(sizes, start=2):
            stride = max(1, size // 2)
            attr = occlusion.attribute(x, sliding_window_shapes=(channels, size, size), strides=(channels, stride, stride),
                                       baselines=0.0, target=predicted,
                                       perturbations_per_eval=64)
            _heat_map(axes[row, col], attr.numpy()[0].sum(axis=0), picture, f"occlusion {size}x{size}")
    return fig


def _picture_grid(pictures: np.ndarray, titles, ncols: int = 5):
    from matplotlib.figure import Figure

    n = len(pictures)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(1.6 * ncols + 0.2, 1.75 * nrows + 0.2), layout="constrained")
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False))
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        picture = pictures[i]
        ax.imshow(picture[0] if picture.shape[0] == 1 else picture.transpose(1, 2, 0), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(str(titles[i]), fontsize=8)
    return fig


def add_explain_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain", help="write an HTML report of what a trained checkpoint learned",
        description="Write one self-contained HTML page (and a PNG per figure) about a checkpoint of convlab train: "
        "summary, training curves, first-layer filters and spectra, feature maps, max-activating patches, Grad-CAM "
        "and occlusion, activation maximisation, confusion matrix.")
    parser.add_argument("checkpoint", help="best.safetensors or last.safetensors of a run")
    parser.add_argument("--out", default="report", help="output folder (default report/)")
    parser.add_argument("--images", type=positive_int, default=4, help="test images whose feature maps are drawn (default 4)")
    parser.add_argument("--layer", help="layer for max-activating patches, Grad-CAM and activation maximisation "
                        "(default: the last convolution)")
    parser.add_argument("--steps", type=positive_int, default=128, help="activation-maximisation steps (default 128)")
    parser.add_argument("--channels", type=positive_int, default=4, help="channels of --layer shown (default 4)")
    parser.add_argument("--data-root", help="folder with the dataset files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run_explain)


def run_explain(args) -> int:
    try:
        path = build_report(args.checkpoint, args.out, images=args.images, layer=args.layer, data_root=args.data_root,
                            steps=args.steps, channels=args.channels, progress=not args.no_progress)
    except (OSError, ValueError) as error:
        print(f"convlab explain: {error}", file=sys.stderr)
        return 2
    print(f"convlab explain: wrote {path} (open it in a browser) and one PNG per figure in {args.out}/")
    return 0
