"""Bytes of a weight tensor in a sparse encoding, when that is smaller than dense storage.

Encodings: dense; COO (value + flat index); CSR (value + column index, one row pointer per row);
run-length (value + 4-bit count of zeros before it, with filler entries for longer runs);
2:4 (N:M) structured (2 values + 2-bit positions per group of 4, if every group has <= 2 non-zeros).
"""

from __future__ import annotations

import math

import torch

RLE_RUN_BITS = 4


def _ceil_bytes(bits: float) -> int:
    return math.ceil(bits / 8)


def encoding_sizes(weight: torch.Tensor, bits: int) -> dict[str, int]:
    w = weight.detach().reshape(weight.shape[0], -1)
    rows, cols = w.shape
    n = w.numel()
    nz = w != 0
    nnz = int(nz.sum())
    sizes = {"dense": _ceil_bytes(n * bits)}
    sizes["coo"] = _ceil_bytes(nnz * (bits + max(1, math.ceil(math.log2(max(n, 2))))))
    sizes["csr"] = _ceil_bytes(nnz * (bits + max(1, math.ceil(math.log2(max(cols, 2)))))
                               + (rows + 1) * max(1, math.ceil(math.log2(max(nnz + 1, 2)))))
    # run-length: one entry per non-zero, plus a filler for every 16th zero of a run
    flat = nz.flatten()
    boundaries = torch.nonzero(flat).flatten()
    edges = torch.cat([torch.tensor([-1]), boundaries, torch.tensor([n])])
    zero_runs = edges[1:] - edges[:-1] - 1
    entries = nnz + int((zero_runs // (2**RLE_RUN_BITS)).sum())
    sizes["rle"] = _ceil_bytes(entries * (bits + RLE_RUN_BITS))
    if n % 4 == 0 and bool((nz.flatten().view(-1, 4).sum(1) <= 2).all()):
        sizes["2:4"] = _ceil_bytes(n // 2 * (bits + 2))
    return sizes


def best_encoding(weight: torch.Tensor, bits: int) -> tuple[str, int]:
    sizes = encoding_sizes(weight, bits)
    name = min(sizes, key=lambda k: (sizes[k], k != "dense"))
    return name, sizes[name]
