"""Seed 000's worked example, end to end: a CNN that tells vertical from horizontal lines at ~99%,
why it does not look for lines, and the modulated test images that drop it to chance.

    python docs/examples/orientation_explained.py --out orientation_figures/

Steps (each writes a PNG into ``--out`` and prints what it shows):

1. Train ``orientation_cnn`` (conv 5x5 with C = 2 channels - ReLU - global average pooling -
   fully connected) on the line-orientation dataset with the recipe of ``convlab train
   --dataset orientation`` (Adam + OneCycleLR, max lr 3e-2).
2. Accuracy on the test set and on the *modulated* test set: every image multiplied by a wave
   ``cos(2 pi 0.25 x)`` along x. To a person the lines keep their orientation (horizontal lines
   become dashed horizontal lines); to the network the accuracy falls to chance.
3. The learned kernels and their Fourier spectra (``explain.plot_kernel_spectrum``). A
   convolution multiplies the spectrum of its input by the kernel's, and global average pooling
   of the ReLU output keeps roughly how much energy got through: each channel measures the
   image's energy where its kernel's spectrum is bright.
4. Feature maps (``explain.feature_maps``) of a vertical, a horizontal and a modulated horizontal
   image: the modulated one drives the channels like a vertical image does.
5. The explanation, in numbers and one figure: the mean spectrum of each class, before and after
   modulation, under the kernels' passbands. Vertical lines put their energy on the horizontal
   frequency axis (they vary along x), horizontal lines on the vertical axis; modulation along x
   shifts the horizontal lines' energy by +/- 0.25 cycles/pixel along the horizontal axis, where
   the vertical lines' energy is, so the channel that detects "vertical" fires.
6. Activation maximisation (``explain.activation_maximization``, objective "energy", pixel
   parametrisation) of each channel: a grating at the frequency where the kernel's spectrum peaks.

Use ``--epochs 4 --steps 128`` for a quick run (the test suite does).
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure

import convlab
import convlab.nn.functional as F
from convlab import explain
from convlab.data import DataLoader
from convlab.optim import Adam
from convlab.optim.lr_scheduler import OneCycleLR
from convlab.recipes import RECIPES, build_model
from convlab.train import evaluate


def save(fig: Figure, out: str, name: str) -> str:
    path = os.path.join(out, name)
    fig.savefig(path, dpi=100)
    return path


def train(recipe, splits, epochs: int, seed: int):
    """The recipe of ``convlab train --dataset orientation`` (without augmentation)."""
    convlab.manual_seed(seed)
    model = build_model("orientation_cnn", recipe)
    loader = DataLoader(splits["train"], batch_size=recipe.batch_size, shuffle=True,
                        generator=np.random.default_rng(seed))
    optimizer = Adam(model.parameters(), lr=recipe.lr)
    scheduler = OneCycleLR(optimizer, max_lr=recipe.lr, epochs=epochs, steps_per_epoch=len(loader))
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()
    return model.eval()


def images_of(dataset) -> np.ndarray:
    return np.stack([dataset[i][0].numpy() for i in range(len(dataset))])  # (N, 1, H, W), normalised


def spectrum(images: np.ndarray) -> np.ndarray:
    """Mean |DFT| of images (N, 1, H, W) with their mean removed, zero frequency at the centre."""
    images = images[:, 0] - images[:, 0].mean(axis=(1, 2), keepdims=True)
    return np.fft.fftshift(np.abs(np.fft.fft2(images)).mean(axis=0))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="orientation_figures", help="folder for the PNGs")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (the recipe's 10)")
    parser.add_argument("--steps", type=int, default=256, help="activation-maximisation steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    recipe = RECIPES["orientation"]
    splits = recipe.splits(seed=args.seed, augment=False)  # train, val, test, test_modulated
    classes = recipe.classes
    size = recipe.image_size[-1]

    # 1-2. train, then the in-domain and the modulated test accuracy
    model = train(recipe, splits, args.epochs, args.seed)
    accuracy = {split: evaluate(model, DataLoader(splits[split], batch_size=500))["accuracy"]
                for split in ("test", "test_modulated")}
    print(f"test accuracy {accuracy['test']:.1%}; modulated test (x cos(2 pi {recipe.modulate[0]} x)): "
          f"{accuracy['test_modulated']:.1%} (chance: 50%)")

    # 3. kernels and their spectra
    conv = model[0]
    spectra = explain.kernel_spectrum(conv, size=size)[:, 0]  # (2, 32, 32)
    save(explain.plot_kernel_spectrum(conv, size=size, title="orientation_cnn: the 2 learned kernels and their "
                                      "|DFT|"), args.out, "kernels_and_spectra.png")
    frequencies = (np.arange(size) - size // 2) / size
    peaks = []
    for c in range(len(spectra)):
        fy, fx = np.unravel_index(spectra[c].argmax(), spectra[c].shape)
        peaks.append((frequencies[fy], frequencies[fx]))
        print(f"kernel {c}: spectrum peak at (fy, fx) = ({frequencies[fy]:+.3f}, {frequencies[fx]:+.3f}) cycles/pixel")

    # 4. feature maps of a vertical, a horizontal and a modulated horizontal image
    test, modulated = splits["test"], splits["test_modulated"]
    labels = np.array([test[i][1] for i in range(len(test))])
    vertical, horizontal = int(np.nonzero(labels == 0)[0][0]), int(np.nonzero(labels == 1)[0][0])
    picks = [("vertical", test[vertical][0]), ("horizontal", test[horizontal][0]),
             ("modulated horizontal", modulated[horizontal][0])]
    batch = convlab.stack([x for _, x in picks])
    maps = explain.feature_maps(model, batch, ["1", "4"])  # after the ReLU, and the logits
    fig = Figure(figsize=(7.5, 7), layout="constrained")
    axes = fig.subplots(3, 3)
    for row, (name, x) in enumerate(picks):
        probability = F.softmax(maps["4"][row : row + 1], dim=1).numpy()[0]
        axes[row, 0].imshow(x.numpy()[0], cmap="gray")
        axes[row, 0].set_title(f"{name}\n-> {classes[probability.argmax()]} ({probability.max():.2f})", fontsize=9)
        for c in range(2):
            axes[row, 1 + c].imshow(maps["1"].numpy()[row, c], cmap="viridis")
            axes[row, 1 + c].set_title(f"ReLU(conv) channel {c}\nmean {maps['1'].numpy()[row, c].mean():.3f}",
                                       fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    save(fig, args.out, "feature_maps.png")

    # 5. the explanation: the channels' mean response per class, and the spectra under the kernels
    pooled = {}
    for split, dataset in (("test", test), ("test_modulated", modulated)):
        relu = explain.feature_maps(model, convlab.tensor(images_of(dataset)), "1")["1"].numpy().mean(axis=(2, 3))
        for k, name in enumerate(classes):
            pooled[split, name] = relu[labels == k].mean(axis=0)
            print(f"{split:>15} {name:<10}: mean channel responses (after global pooling) "
                  f"{np.array2string(pooled[split, name], precision=3)}")
    class_spectra = {(split, name): spectrum(images_of(dataset)[labels == k])
                     for split, dataset in (("test", test), ("test_modulated", modulated))
                     for k, name in enumerate(classes)}
    fig = Figure(figsize=(11, 5.6), layout="constrained")
    axes = fig.subplots(2, 3)
    extent = (frequencies[0] - 0.5 / size, frequencies[-1] + 0.5 / size) * 2
    extent = (extent[0], extent[1], extent[3], extent[2])
    panels = [(("test", "vertical"), "vertical lines"), (("test", "horizontal"), "horizontal lines"),
              (("test_modulated", "horizontal"), "modulated horizontal lines")]
    for col, (key, title) in enumerate(panels):
        axes[0, col].imshow(np.log1p(class_spectra[key]), cmap="magma", extent=extent)
        axes[0, col].set_title(f"mean |DFT| of {title}", fontsize=9)
    for c in range(2):
        axes[1, c].imshow(spectra[c], cmap="magma", extent=extent)
        axes[1, c].set_title(f"|DFT| of kernel {c}: responses v {pooled['test', 'vertical'][c]:.2f}, "
                             f"h {pooled['test', 'horizontal'][c]:.2f},\nmodulated h "
                             f"{pooled['test_modulated', 'horizontal'][c]:.2f}", fontsize=9)
    axes[1, 2].bar(np.arange(2) - 0.2, [accuracy["test"], accuracy["test_modulated"]], 0.4, color=["tab:blue",
                                                                                                   "tab:red"])
    axes[1, 2].set_xticks([-0.2, 0.8], ["test", "modulated test"])
    axes[1, 2].axhline(0.5, color="gray", linestyle="--", linewidth=1)
    axes[1, 2].set_ylim(0, 1)
    axes[1, 2].set_title("accuracy (dashed: chance)", fontsize=9)
    for ax in axes.flat[:5]:
        ax.set_xlabel("fx (cycles/pixel)", fontsize=8)
        ax.set_ylabel("fy", fontsize=8)
        ax.tick_params(labelsize=7)
    save(fig, args.out, "why_modulation_fools_it.png")

    # 6. activation maximisation: what each channel responds to most
    pictures = [explain.activation_maximization(model, "0", channel=c, input_size=recipe.image_size, param="pixel",
                                                objective="energy", steps=args.steps, seed=args.seed,
                                                progress=False)[0] for c in range(2)]
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    dominant = []
    for c, picture in enumerate(pictures):
        image_spectrum = np.fft.fftshift(np.abs(np.fft.fft2(picture - picture.mean())))
        fy, fx = np.unravel_index(image_spectrum.argmax(), image_spectrum.shape)
        dominant.append((frequencies[fy], frequencies[fx]))
        axes[c].imshow(picture, cmap="gray", vmin=0, vmax=1)
        axes[c].set_title(f"channel {c}: image's dominant frequency\n(fy, fx) = ({frequencies[fy]:+.3f}, "
                          f"{frequencies[fx]:+.3f}); kernel peak ({peaks[c][0]:+.3f}, {peaks[c][1]:+.3f})",
                          fontsize=8)
        axes[c].set_xticks([])
        axes[c].set_yticks([])
        print(f"activation maximisation, channel {c}: dominant frequency ({frequencies[fy]:+.3f}, "
              f"{frequencies[fx]:+.3f}) cycles/pixel")
    save(fig, args.out, "activation_maximization.png")
    return {"accuracy": accuracy, "kernel_peaks": peaks, "dominant": dominant, "pooled": pooled}


if __name__ == "__main__":
    main()
