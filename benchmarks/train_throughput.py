"""Epoch time of paretonet's training loop divided by a bare PyTorch loop, same LeNet-5 and data.

Both run the same model (same init), optimizer and batch size on digits; rounds alternate so
drift of the machine hits both. Prints the median-epoch ratio; the target is <= 1.10.
Run: .venv/bin/python benchmarks/train_throughput.py [--rounds 7] [--epochs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from paretonet import Architecture, DataConfig, TrainConfig, build_model, load_dataset
from paretonet.train import train


def bare_loop(model, x, y, epochs, batch_size, lr, seed):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    data = load_dataset(DataConfig("digits"))
    arch = Architecture.parse("lenet5", space="lenet")
    cfg = TrainConfig(epochs=args.epochs, batch_size=64, lr=1e-3, schedule="constant", validate=False)

    def fresh():
        return build_model(arch, data.input_shape, data.n_classes, mean=data.mean, std=data.std, seed=0)

    ours, bare = [], []
    bare_loop(fresh(), data.train.x, data.train.y, 1, 64, 1e-3, 0)  # warm-up both paths
    train(fresh(), data, TrainConfig(epochs=1, validate=False))
    for _ in range(args.rounds):
        model = fresh()
        t0 = time.perf_counter()
        train(model, data, cfg)
        ours.append((time.perf_counter() - t0) / args.epochs)
        model = fresh()
        t0 = time.perf_counter()
        bare_loop(model, data.train.x, data.train.y, args.epochs, 64, 1e-3, 0)
        bare.append((time.perf_counter() - t0) / args.epochs)
    o, b = statistics.median(ours), statistics.median(bare)
    print(f"LeNet-5 on digits ({len(data.train)} images, batch 64, {torch.get_num_threads()} threads)")
    print(f"paretonet epoch {o * 1000:.1f} ms, bare PyTorch loop epoch {b * 1000:.1f} ms")
    print(f"ratio paretonet / bare = {o / b:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
