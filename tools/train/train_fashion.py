"""fashion-cnn: CNN on Fashion-MNIST (Debian package dataset-fashion-mnist, IDX gzip files in
/usr/share/datasets/fashion-mnist, MIT), trained with the GL smoothing-distribution augmentation.

    /usr/bin/python3 tools/train/train_fashion.py

Split: the standard 60,000 train / 10,000 test. The last 5,000 training images are the
validation set used to pick the epoch; the 10,000 test images are never used for training or
selection.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import FASHION_CLASSES, base_arguments, export_with_card, fit, set_determinism  # noqa: E402
from data import FASHION_DIR, load_fashion  # noqa: E402
from models import FashionCnn  # noqa: E402

NAME = "fashion-cnn"


def main() -> None:
    ap = base_arguments(seed=11, epochs=6, batch_size=128, lr=3e-3)
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training images (0: all)")
    args = ap.parse_args()
    set_determinism(args.seed)
    data = load_fashion()
    if args.train_limit:
        xtr, ytr = data["train"]
        data["train"] = (xtr[: args.train_limit], ytr[: args.train_limit])
    run = fit(FashionCnn(), data, args)
    if args.no_export:
        return
    limit = f" --train-limit {args.train_limit}" if args.train_limit else ""
    export_with_card(
        NAME, run, args,
        classes=FASHION_CLASSES,
        preprocessing="grayscale, 28x28, values in [0,1] (8-bit value / 255), object light on black "
                      "background as in Fashion-MNIST, no normalisation (the model has none)",
        architecture="conv3x3-32, maxpool, conv3x3-64, maxpool, conv3x3-128, maxpool, dropout 0.25, "
                     "FC 256, dropout 0.25, FC 10; ReLU",
        data_split=f"Fashion-MNIST standard split from {FASHION_DIR}: train-images-idx3-ubyte.gz images "
                   f"[0, {run.train_count}) for training, [55000, 60000) validation; t10k (10,000) is the "
                   "held-out test set, never used for training or selection",
        command=f"/usr/bin/python3 tools/train/train_fashion.py --seed {args.seed} --epochs {args.epochs}{limit}",
        heldout_dataset="Fashion-MNIST t10k (Debian dataset-fashion-mnist, /usr/share/datasets/fashion-mnist)",
        license="MIT (weights trained here on MIT-licensed Fashion-MNIST, Zalando Research)",
    )


if __name__ == "__main__":
    main()
