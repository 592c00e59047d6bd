"""Shared helpers for the glcert training scripts (PyTorch, CPU).

Everything here is deterministic for a fixed seed and thread count. Run with Debian's
interpreter: /usr/bin/python3 (python3-torch 1.13, python3-onnx 1.12, python3-numpy).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS_DIR = os.path.join(REPO_ROOT, "models")
OPSET = 17

DIGIT_CLASSES = [str(d) for d in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]


def set_determinism(seed: int, threads: int = 2) -> None:
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# GL smoothing-distribution augmentation (ALGORITHM.md sections 1-2). No clipping: values may
# leave [0, 1], exactly as the certifier's smoothing does. Parameters are drawn per sample.
# --------------------------------------------------------------------------------------------

@dataclass
class AugConfig:
    sigma_brightness: float = 0.3   # b ~ Normal(0, s^2)
    sigma_contrast: float = 0.3     # k = exp(s z)  (LogNormal(0, s^2))
    sigma_gamma: float = 0.1        # g ~ Rayleigh(s) = s sqrt(z1^2 + z2^2)
    sigma_translation: float = 3.0  # shift = round(Normal(0, s^2)) px per axis, cyclic
    sigma_blur: float = 2.0         # kernel variance r ~ Rayleigh(s), px^2 (the shipped blur preset)
    families: Tuple[str, ...] = ("clean", "b", "c", "cb", "g", "t", "r")
    weights: Tuple[float, ...] = (2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)

    def describe(self) -> str:
        total = sum(self.weights)
        parts = [f"{f}: {w / total:.3f}" for f, w in zip(self.families, self.weights)]
        return (
            "one family per batch, drawn with probabilities {" + ", ".join(parts) + "}; "
            f"parameters fresh per image: brightness x+b, b~N(0,{self.sigma_brightness}^2); "
            f"contrast k*x, k=exp({self.sigma_contrast} z); "
            f"contrast+brightness k*x+b with the same laws; "
            f"gamma sign(x)|x|^g, g~Rayleigh({self.sigma_gamma}) = {self.sigma_gamma}*sqrt(z1^2+z2^2); "
            f"translation cyclic shift (torch.roll) by round(N(0,{self.sigma_translation}^2)) px per axis; "
            f"blur separable Gaussian with kernel variance r~Rayleigh({self.sigma_blur}), radius ceil(4 sqrt r), "
            "reflect-101 border; no clipping (values may leave [0,1])"
        )


def _rayleigh(n: int, s: float, gen: torch.Generator) -> torch.Tensor:
    z = torch.randn(n, 2, generator=gen)
    return s * torch.sqrt((z * z).sum(dim=1))


def _per_sample(v: torch.Tensor) -> torch.Tensor:
    return v.view(-1, 1, 1, 1)


def cyclic_shift(x: torch.Tensor, ty: torch.Tensor, tx: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = torch.roll(x[i], shifts=(int(ty[i]), int(tx[i])), dims=(1, 2))
    return out


def _reflect101(idx: torch.Tensor, n: int) -> torch.Tensor:
    """Reflect-101 border (dcb|abcd|cba): valid for offsets up to n - 1 outside the image."""
    idx = torch.where(idx < 0, -idx, idx)
    return torch.where(idx > n - 1, 2 * (n - 1) - idx, idx)


def _blur_matrices(variance: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """[N, n, n] matrices M with (M v)[p] = sum_t w(t) v[reflect101(p + t)], w the normalised
    Gaussian of variance r over |t| <= ceil(4 sqrt r) (capped at n - 1); identity for r <= 0."""
    r = variance.to(torch.float64).clamp(min=0)
    rad = torch.ceil(4 * torch.sqrt(r)).clamp(max=n - 1)
    big = int(rad.max()) if r.numel() else 0
    t = torch.arange(-big, big + 1, dtype=torch.float64)
    w = torch.exp(-(t * t)[None, :] / (2 * r.clamp(min=1e-12))[:, None])
    w = torch.where(t.abs()[None, :] <= rad[:, None], w, torch.zeros_like(w))
    w = torch.where((r > 0)[:, None], w, (t == 0).to(w.dtype)[None, :].expand_as(w))
    w = w / w.sum(dim=1, keepdim=True)
    cols = _reflect101(torch.arange(n)[:, None] + torch.arange(-big, big + 1)[None, :], n)  # [n, 2big+1]
    m = torch.zeros(r.shape[0], n, n, dtype=torch.float64)
    m.scatter_add_(2, cols[None].expand(r.shape[0], -1, -1), w[:, None, :].expand(-1, n, -1).contiguous())
    return m.to(dtype)


def gaussian_blur(x: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """Per-sample separable Gaussian blur, kernel variance r, radius ceil(4 sqrt r), reflect-101
    border (the transform of libs/transforms), as two batched matrix products."""
    _, _, h, w = x.shape
    my = _blur_matrices(variance, h, x.dtype)[:, None]  # [N, 1, H, H]
    mx = _blur_matrices(variance, w, x.dtype)[:, None]  # [N, 1, W, W]
    return my @ x @ mx.transpose(-1, -2)


def augment(x: torch.Tensor, family: str, cfg: AugConfig, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    if family == "clean":
        return x
    if family == "b":
        return x + _per_sample(cfg.sigma_brightness * torch.randn(n, generator=gen))
    if family == "c":
        return x * _per_sample(torch.exp(cfg.sigma_contrast * torch.randn(n, generator=gen)))
    if family == "cb":
        k = torch.exp(cfg.sigma_contrast * torch.randn(n, generator=gen))
        b = cfg.sigma_brightness * torch.randn(n, generator=gen)
        return x * _per_sample(k) + _per_sample(b)
    if family == "g":
        g = _per_sample(_rayleigh(n, cfg.sigma_gamma, gen))
        return torch.sign(x) * torch.abs(x).pow(g)
    if family == "t":
        t = torch.round(cfg.sigma_translation * torch.randn(n, 2, generator=gen)).to(torch.int64)
        return cyclic_shift(x, t[:, 0], t[:, 1])
    if family == "r":
        return gaussian_blur(x, _rayleigh(n, cfg.sigma_blur, gen))
    raise ValueError(f"unknown augmentation family {family}")


# --------------------------------------------------------------------------------------------
# Training loop
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        correct += int((model(x[i : i + batch]).argmax(dim=1) == y[i : i + batch]).sum())
    return correct / x.shape[0]


@torch.no_grad()
def evaluate_augmented(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: AugConfig, seed: int) -> Dict[str, float]:
    """Accuracy on each augmentation family (one draw per image), for the log and the card."""
    model.eval()
    out = {}
    for fam in cfg.families:
        gen = torch.Generator().manual_seed(seed)
        correct = 0
        for i in range(0, x.shape[0], 1000):
            xa = augment(x[i : i + 1000], fam, cfg, gen)
            correct += int((model(xa).argmax(dim=1) == y[i : i + 1000]).sum())
        out[fam] = round(correct / x.shape[0], 4)
    return out


def train(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    cfg: AugConfig,
    seed: int,
) -> Tuple[nn.Module, List[dict]]:
    """Adam + one-cycle LR; model selection by clean validation accuracy (never the test set)."""
    gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(x_train.shape[0] / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    probs = torch.tensor(cfg.weights, dtype=torch.float64)
    best_state, best_acc, log = None, -1.0, []
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(x_train.shape[0], generator=gen)
        total_loss = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * batch_size : (s + 1) * batch_size]
            fam = cfg.families[int(torch.multinomial(probs, 1, generator=gen))]
            xb = augment(x_train[idx], fam, cfg, gen)
            loss = F.cross_entropy(model(xb), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss) * idx.shape[0]
        val_acc = evaluate(model, x_val, y_val)
        entry = {"epoch": epoch + 1, "loss": round(total_loss / x_train.shape[0], 4),
                 "val_acc": round(val_acc, 4), "seconds": round(time.time() - t0, 1)}
        log.append(entry)
        print(json.dumps(entry), flush=True)
        if val_acc > best_acc:
            best_acc = val_acc
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return model, log


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------

def export_onnx(model: nn.Module, shape_chw: Sequence[int], path: str) -> None:
    import onnx

    model.eval()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    dummy = torch.zeros(2, *shape_chw, dtype=torch.float32)
    torch.onnx.export(
        model, dummy, path,
        opset_version=OPSET,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=True,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m)
    # No producer timestamps are written by the exporter; the file is reproducible byte for byte
    # for identical weights.


def write_card(name: str, card: dict) -> str:
    path = os.path.join(MODELS_DIR, name, "card.json")
    with open(path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    return path


def input_block(c: int, h: int, w: int) -> dict:
    return {"name": "input", "shape": [-1, c, h, w], "channels": c, "height": h, "width": w,
            "dtype": "float32", "layout": "NCHW", "value_range": [0, 1]}


# --------------------------------------------------------------------------------------------
# The run every training script shares: flags, train, evaluate, export with its card
# --------------------------------------------------------------------------------------------

def base_arguments(*, seed: int, epochs: int, batch_size: int, lr: float) -> argparse.ArgumentParser:
    """The flags of every training script, with that script's defaults; add more before parsing."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=seed)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--batch-size", type=int, default=batch_size)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--no-export", action="store_true")
    return ap


@dataclass
class TrainRun:
    model: nn.Module
    log: List[dict]
    cfg: AugConfig
    minutes: float
    test_acc: float
    aug_acc: Dict[str, float]
    train_count: int
    validation_count: int
    test_count: int


def fit(model: nn.Module, data: Dict[str, Tuple[torch.Tensor, torch.Tensor]], args: argparse.Namespace) -> TrainRun:
    """Trains on data["train"] with the augmentation (model selection on data["val"]), then
    prints the validation, test and per-family augmented test accuracies."""
    (xtr, ytr), (xva, yva), (xte, yte) = data["train"], data["val"], data["test"]
    print(f"train {len(ytr)} val {len(yva)} test {len(yte)}", flush=True)
    cfg = AugConfig()
    t0 = time.time()
    model, log = train(model, xtr, ytr, xva, yva, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, weight_decay=1e-4, cfg=cfg, seed=args.seed)
    minutes = (time.time() - t0) / 60
    val_acc = evaluate(model, xva, yva)
    test_acc = evaluate(model, xte, yte)
    aug_acc = evaluate_augmented(model, xte, yte, cfg, seed=12345)
    print(json.dumps({"val_acc": val_acc, "test_acc": test_acc, "augmented_test_acc": aug_acc,
                      "minutes": round(minutes, 1)}), flush=True)
    return TrainRun(model, log, cfg, minutes, test_acc, aug_acc, int(len(ytr)), int(len(yva)), int(len(yte)))


def export_with_card(name: str, run: TrainRun, args: argparse.Namespace, *, classes: List[str], preprocessing: str,
                     architecture: str, data_split: str, command: str, heldout_dataset: str, license: str) -> None:
    """Writes models/<name>/model.onnx (input [N, 1, 28, 28]) and its card.json."""
    path = os.path.join(MODELS_DIR, name, "model.onnx")
    export_onnx(run.model, (1, 28, 28), path)
    best = max(run.log, key=lambda e: e["val_acc"])
    card = {
        "name": name,
        "version": "1.0.0",
        "file": "model.onnx",
        "sha256": sha256_file(path),
        "format": {"onnx_opset": OPSET, "producer": f"torch {torch.__version__}"},
        "input": input_block(1, 28, 28),
        "output": {"name": "logits", "shape": [-1, len(classes)]},
        "classes": classes,
        "preprocessing": preprocessing,
        "architecture": f"{architecture}; {sum(p.numel() for p in run.model.parameters())} parameters",
        "training": {
            "recipe": f"AdamW (weight decay 1e-4), one-cycle LR max {args.lr}, batch {args.batch_size}, "
                      f"{args.epochs} epochs, cross-entropy; model selection by clean validation accuracy "
                      f"(best epoch {best['epoch']}, val {best['val_acc']}); CPU, 2 threads, {run.minutes:.1f} min",
            "augmentation": run.cfg.describe(),
            "epochs": args.epochs,
            "seed": args.seed,
            "data_split": data_split,
            "train_count": run.train_count,
            "validation_count": run.validation_count,
            "command": command,
        },
        "heldout": {
            "dataset": heldout_dataset,
            "count": run.test_count,
            "clean_accuracy": round(run.test_acc, 4),
            "augmented_accuracy": run.aug_acc,
        },
        "random_weights": False,
        "license": license,
    }
    write_card(name, card)
    print(f"wrote {path} sha256={card['sha256']}")
