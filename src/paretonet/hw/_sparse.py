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
    flat = nz.flatten().tolist()
    entries, run = 0, 0
    limit = 2**RLE_RUN_BITS - 1
    for v in flat:
        if v:
            entries += 1
            run = 0
        else:
            run += 1
            if run > limit:  # a filler entry (explicit zero) restarts the count
                entries += 1
                run = 0
    sizes["rle"] = _ceil_bytes(entries * (bits + RLE_RUN_BITS))
    if n % 4 == 0 and bool((nz.flatten().view(-1, 4).sum(1) <= 2).all()):
        sizes["2:4"] = _ceil_bytes(n // 2 * (bits + 2))
    return sizes


def best_encoding(weight: torch.Tensor, bits: int) -> tuple[str, int]:
    sizes = encoding_sizes(weight, bits)
    name = min(sizes, key=lambda k: (sizes[k], k != "dense"))
    return name, sizes[name]
