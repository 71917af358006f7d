"""A seeded, deterministic training loop over in-memory tensors.

Batches are sliced from tensors already in memory (no DataLoader workers), so an epoch costs
what a bare PyTorch loop costs; benchmarks/train_throughput.py measures the ratio.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..data import Dataset, Split
from ..evaluate import accuracy
from ..hw import CALIBRATION_IMAGES, noisy, output_ranges
from ._config import EpochStats, TrainConfig, TrainResult
from ._recipes import attack_generator, batch_loss, check_prepared

BatchCallback = Callable[[int, int, int], None]  # (epoch, batches done, batches per epoch)
EpochCallback = Callable[[EpochStats], None]


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    """Learning rate for 0-based `epoch` (constant within an epoch)."""
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / max(1, cfg.epochs)))
    if cfg.schedule == "step":
        return cfg.lr * cfg.step_gamma ** (epoch // cfg.step_epochs)
    return cfg.lr


def shuffle_generator(seed: int) -> torch.Generator:
    """The generator that orders mini-batches; derived from the training seed, independent of init."""
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence([seed, 0x5B0F]).generate_state(1)[0]))
    return g


def _selection_score(model: nn.Module, val: Split, recipe, val_acc: float) -> float:  # noqa: ANN001
    """What picks the best validation epoch: clean accuracy; for ibp, the share of validation images interval
    bounds certify at the training eps (what that training is for)."""
    if recipe.name != "ibp":
        return val_acc
    from ..evaluate import ibp_certified

    return float(ibp_certified(model, val.x, val.y, recipe.eps).mean())


def train(
    model: nn.Module,
    data: Dataset | Split,
    config: TrainConfig = TrainConfig(),
    *,
    val: Split | None = None,
    on_batch: BatchCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train `model` in place on data.train (or a Split), validating on data.val each epoch.

    With validation, the model ends holding the weights of its best validation epoch. The recipe decides
    each mini-batch's loss (validation is always on clean inputs and the model as it is).
    """
    recipe = config.recipe
    check_prepared(model, recipe)
    train_split = data if isinstance(data, Split) else data.train
    if val is None and isinstance(data, Dataset) and config.validate and len(data.val):
        val = data.val
    x, y = train_split.x, train_split.y
    n = len(train_split)
    n_batches = math.ceil(n / config.batch_size)
    opt = _optimizer(model, config)
    gen = shuffle_generator(config.seed)
    attack_gen = attack_generator(config.seed)
    history: list[EpochStats] = []
    best_acc, best_epoch, best_state, stale = -1.0, None, None, 0
    stopped = False
    start = time.perf_counter()
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        lr = lr_at(config, epoch)
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        perm = torch.randperm(n, generator=gen)
        loss_sum = torch.zeros(())
        correct = torch.zeros((), dtype=torch.long)
        noise = contextlib.nullcontext()
        if recipe.name == "noisy":  # output noise scaled to the clean ranges of this epoch's start, as in evaluation
            ranges = output_ranges(model, x[:CALIBRATION_IMAGES]) if recipe.noise_model.outputs else None
            noise = noisy(model, recipe.noise_model, int(np.random.SeedSequence([config.seed, epoch]).generate_state(1)[0]),
                          ranges)
        with noise:
            for b in range(n_batches):
                idx = perm[b * config.batch_size : (b + 1) * config.batch_size]
                xb, yb = x[idx], y[idx]
                opt.zero_grad(set_to_none=True)
                loss, out = batch_loss(model, xb, yb, recipe, attack_gen, (epoch + b / n_batches) / config.epochs)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    loss_sum += loss.detach() * len(idx)
                    correct += (out.argmax(1) == yb).sum()
                if on_batch is not None:
                    on_batch(epoch + 1, b + 1, n_batches)
        val_acc = accuracy(model, val) if val is not None else None
        stats = EpochStats(epoch + 1, float(loss_sum) / n, float(correct) / n, val_acc, lr, time.perf_counter() - t0)
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats)
        if val_acc is not None and recipe.selectable((epoch + 1) / config.epochs):
            score = _selection_score(model, val, recipe, val_acc)
            if score > best_acc:
                best_acc, best_epoch, stale = score, epoch + 1, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
                if config.patience is not None and stale >= config.patience:
                    stopped = True
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(tuple(history), best_epoch, stopped, time.perf_counter() - start)
