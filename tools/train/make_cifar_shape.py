"""cifar-resnet20-shape: the CIFAR ResNet-20 architecture with RANDOM weights (fixed seed).

There is no CIFAR-10 data offline, so this model is not trained: it exists so the services can
be exercised (and benchmarked) with a realistic 3x32x32 network. Its predictions are
meaningless; the card says so (random_weights: true, clean_accuracy: null).

    /usr/bin/python3 tools/train/make_cifar_shape.py
"""
from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import CIFAR10_CLASSES, MODELS_DIR, OPSET, export_onnx, input_block, set_determinism, sha256_file, write_card  # noqa: E402
from models import CifarResNet20  # noqa: E402

NAME = "cifar-resnet20-shape"
SEED = 20


def main() -> None:
    set_determinism(SEED)
    model = CifarResNet20().eval()
    params = sum(p.numel() for p in model.parameters())
    path = os.path.join(MODELS_DIR, NAME, "model.onnx")
    export_onnx(model, (3, 32, 32), path)
    card = {
        "name": NAME,
        "version": "1.0.0",
        "file": "model.onnx",
        "sha256": sha256_file(path),
        "format": {"onnx_opset": OPSET, "producer": f"torch {torch.__version__}"},
        "input": input_block(3, 32, 32),
        "output": {"name": "logits", "shape": [-1, 10]},
        "classes": CIFAR10_CLASSES,
        "preprocessing": "RGB, 32x32, values in [0,1], no external normalisation "
                         "(the model includes its own per-channel CIFAR-10 mean/std layer)",
        "architecture": "CIFAR ResNet-20 (He et al. 2016): conv3x3-16, 3 stages x 3 basic blocks "
                        "(16/32/64 channels), option-A shortcuts, BatchNorm (eval, initial running "
                        f"stats), global average pool, FC 10; {params} parameters",
        "training": {
            "recipe": "none: random initialisation (Kaiming normal), exported untrained",
            "augmentation": None,
            "epochs": 0,
            "seed": SEED,
            "data_split": None,
            "command": "/usr/bin/python3 tools/train/make_cifar_shape.py",
        },
        "heldout": {"dataset": None, "count": 0, "clean_accuracy": None},
        "random_weights": True,
        "notes": "Shape-only model for exercising and benchmarking the 3x32x32 path. "
                 "Predictions are meaningless: never report certificates of this model as results.",
    }
    write_card(NAME, card)
    print(f"wrote {path} ({params} params) sha256={card['sha256']}")


if __name__ == "__main__":
    main()
