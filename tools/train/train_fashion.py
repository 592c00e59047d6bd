"""fashion-cnn: CNN on Fashion-MNIST (Debian package dataset-fashion-mnist, IDX gzip files in
/usr/share/datasets/fashion-mnist, MIT), trained with the GL smoothing-distribution augmentation.

    /usr/bin/python3 tools/train/train_fashion.py

Split: the standard 60,000 train / 10,000 test. The last 5,000 training images are the
validation set used to pick the epoch; the 10,000 test images are never used for training or
selection.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import (FASHION_CLASSES, MODELS_DIR, OPSET, AugConfig, evaluate, evaluate_augmented,  # noqa: E402
                    export_onnx, input_block, set_determinism, sha256_file, train, write_card)
from data import FASHION_DIR, load_fashion  # noqa: E402
from models import FashionCnn  # noqa: E402

NAME = "fashion-cnn"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training images (0: all)")
    ap.add_argument("--no-export", action="store_true")
    args = ap.parse_args()

    set_determinism(args.seed)
    data = load_fashion()
    (xtr, ytr), (xva, yva), (xte, yte) = data["train"], data["val"], data["test"]
    if args.train_limit:
        xtr, ytr = xtr[: args.train_limit], ytr[: args.train_limit]
    print(f"train {len(ytr)} val {len(yva)} test {len(yte)}", flush=True)
    cfg = AugConfig()
    model = FashionCnn()
    t0 = time.time()
    model, log = train(model, xtr, ytr, xva, yva, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, weight_decay=1e-4, cfg=cfg, seed=args.seed)
    minutes = (time.time() - t0) / 60
    test_acc = evaluate(model, xte, yte)
    aug_acc = evaluate_augmented(model, xte, yte, cfg, seed=12345)
    print(json.dumps({"val_acc": evaluate(model, xva, yva), "test_acc": test_acc, "augmented_test_acc": aug_acc,
                      "minutes": round(minutes, 1)}), flush=True)
    if args.no_export:
        return

    path = os.path.join(MODELS_DIR, NAME, "model.onnx")
    export_onnx(model, (1, 28, 28), path)
    best = max(log, key=lambda e: e["val_acc"])
    limit = f" --train-limit {args.train_limit}" if args.train_limit else ""
    card = {
        "name": NAME,
        "version": "1.0.0",
        "file": "model.onnx",
        "sha256": sha256_file(path),
        "format": {"onnx_opset": OPSET, "producer": f"torch {torch.__version__}"},
        "input": input_block(1, 28, 28),
        "output": {"name": "logits", "shape": [-1, 10]},
        "classes": FASHION_CLASSES,
        "preprocessing": "grayscale, 28x28, values in [0,1] (8-bit value / 255), object light on black "
                         "background as in Fashion-MNIST, no normalisation (the model has none)",
        "architecture": "conv3x3-32, maxpool, conv3x3-64, maxpool, conv3x3-128, maxpool, dropout 0.25, "
                        f"FC 256, dropout 0.25, FC 10; ReLU; {sum(p.numel() for p in model.parameters())} parameters",
        "training": {
            "recipe": f"AdamW (weight decay 1e-4), one-cycle LR max {args.lr}, batch {args.batch_size}, "
                      f"{args.epochs} epochs, cross-entropy; model selection by clean validation accuracy "
                      f"(best epoch {best['epoch']}, val {best['val_acc']}); CPU, 2 threads, {minutes:.1f} min",
            "augmentation": cfg.describe(),
            "epochs": args.epochs,
            "seed": args.seed,
            "data_split": f"Fashion-MNIST standard split from {FASHION_DIR}: train-images-idx3-ubyte.gz images "
                          f"[0, {len(ytr)}) for training, [55000, 60000) validation; t10k (10,000) is the "
                          "held-out test set, never used for training or selection",
            "train_count": int(len(ytr)),
            "validation_count": int(len(yva)),
            "command": f"/usr/bin/python3 tools/train/train_fashion.py --seed {args.seed} --epochs {args.epochs}{limit}",
        },
        "heldout": {
            "dataset": "Fashion-MNIST t10k (Debian dataset-fashion-mnist, /usr/share/datasets/fashion-mnist)",
            "count": int(len(yte)),
            "clean_accuracy": round(test_acc, 4),
            "augmented_accuracy": aug_acc,
        },
        "random_weights": False,
        "license": "MIT (weights trained here on MIT-licensed Fashion-MNIST, Zalando Research)",
    }
    write_card(NAME, card)
    print(f"wrote {path} sha256={card['sha256']}")


if __name__ == "__main__":
    main()
