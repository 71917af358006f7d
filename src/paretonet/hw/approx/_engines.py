"""Integer accumulators of an 8x8 multiplier table: acc[p, o] = sum_k LUT[a[p, k], w[o, k]].

Three engines give the same int64 numbers:
- gather:  the reference, one int64 table lookup per multiply-accumulate (chunked).
- bag:     any table. For a fixed layer the weight codes are fixed, so LUT[., w[o, k]] is a
           256-entry column per (k, o); stacking them gives a (K*256, O) table and the MAC
           becomes an embedding-bag sum of K rows, vectorized over the output channels.
- lowrank: tables whose error LUT - a*b is linear in the bits of one operand,
           E[a, b] = sum_i u_i(a) g_i(b) with u_i in {1, bit_i(a)}; the exact part and each error
           term are ordinary conv/matmul calls (the layer's own BLAS path).
Float arithmetic is exact here because every term is an integer and every partial sum stays
below 2^24 (float32) or 2^53 (float64): for non-negative terms the float32 result itself
certifies it (a sum reaching 2^24 rounds to >= 2^24), otherwise an a-priori bound picks float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ._multiplier import Multiplier, exact_table

F32_EXACT = 2.0**24
ENGINES = ("gather", "bag", "lowrank")


@dataclass(frozen=True)
class Geometry:
    """How a layer turns its (already padded) code tensor into K-long operand windows."""

    kind: str  # "conv" or "linear"
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        return (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1

    def _windows(self, x: torch.Tensor) -> torch.Tensor:
        """A (N, Ho, Wo, C, kh, kw) view of a padded (N, C, H, W) tensor, no copy."""
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        x = x.contiguous()
        sn, sc, sy, sx = x.stride()
        return x.as_strided((n, *self._out_hw(h, w), c, kh, kw), (sn, sy * sh, sx * sw, sc, sy * dh, sx * dw))

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """(P, K) windows in the weight's (C, kh, kw) order; linear: x itself."""
        if self.kind == "linear":
            return x
        v = self._windows(x)
        return v.reshape(-1, v[0, 0, 0].numel())

    def index_chunks(self, x: torch.Tensor, chunk: int = 32) -> list[tuple[int, torch.Tensor]]:
        """Windows of a padded int tensor as ~chunk-long slices of K, each a contiguous (P, k_len)
        tensor already offset by 256 per position: [(k_start, indices), ...]. K runs in
        (kh, kw, C) order here (see bag_weights), so every slice reads runs of channels from a
        channels-last copy: one cheap pass, no full patch matrix, no strided copies later.
        """
        if self.kind == "linear":
            k = x.shape[1]
            offs = torch.arange(0, chunk * 256, 256, dtype=x.dtype)
            return [(s, x[:, s : s + chunk] + offs[: min(chunk, k - s)]) for s in range(0, k, chunk)]
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        xh = x.permute(0, 2, 3, 1).contiguous()
        sn, sy, sx, sc = xh.stride()
        view = xh.as_strided((n, *self._out_hw(h, w), kh, kw, c), (sn, sy * sh, sx * sw, sy * dh, sx * dw, sc))
        offs = torch.arange(0, chunk * 256, 256, dtype=x.dtype)
        out = []
        if kw * c <= chunk:  # few channels: whole kernel rows per chunk
            rows = chunk // (kw * c)
            for dy in range(0, kh, rows):
                part = view[:, :, :, dy : dy + rows].reshape(-1, min(rows, kh - dy) * kw * c)  # one copy
                part += offs[: part.shape[1]]
                out.append((dy * kw * c, part))
            return out
        for dy in range(kh):
            for dx in range(kw):
                for c0 in range(0, c, chunk):
                    src = view[:, :, :, dy, dx, c0 : c0 + chunk]
                    part = torch.empty(src.shape, dtype=x.dtype)
                    torch.add(src, offs[: src.shape[-1]], out=part)  # the copy and the offsets in one pass
                    out.append(((dy * kw + dx) * c + c0, part.view(-1, part.shape[-1])))
        return out

    def bag_weights(self, w: torch.Tensor) -> torch.Tensor:
        """(O, K) weight codes in index_chunks' K order: (kh, kw, C) for conv."""
        return w.permute(0, 2, 3, 1).reshape(w.shape[0], -1) if self.kind == "conv" else w

    def out_shape(self, x: torch.Tensor, out_channels: int) -> tuple[int, ...]:
        """Accumulator shape for a padded input: (N, Ho, Wo, O) or (N, O)."""
        if self.kind == "linear":
            return (x.shape[0], out_channels)
        return (x.shape[0], *self._out_hw(x.shape[2], x.shape[3]), out_channels)

    def apply(self, x: torch.Tensor, w: torch.Tensor, padding: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """sum_k x*w per output in float, as (N, Ho, Wo, O) or (N, O)."""
        if self.kind == "linear":
            return x @ w.reshape(w.shape[0], -1).T
        y = F.conv2d(x, w, stride=self.stride, padding=padding, dilation=self.dilation)
        return y.permute(0, 2, 3, 1)

    def pad(self, x: torch.Tensor, padding: tuple[int, int], value: float) -> torch.Tensor:
        if self.kind == "linear" or not any(padding):
            return x
        ph, pw = padding
        return F.pad(x, (pw, pw, ph, ph), value=value)

    def window_sums(self, x: torch.Tensor, padding: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """sum of x over each output's K inputs, as (N, Ho, Wo, 1) or (N, 1); exact for integer x."""
        if self.kind == "linear":
            return x.sum(1, keepdim=True)
        s = x.sum(1, keepdim=True)
        if self.dilation == (1, 1) and all(p <= k // 2 for p, k in zip(padding, self.kernel)):
            y = F.avg_pool2d(s, self.kernel, self.stride, padding, divisor_override=1)
        else:
            y = F.conv2d(s, torch.ones(1, 1, *self.kernel, dtype=s.dtype), stride=self.stride, padding=padding,
                         dilation=self.dilation)
        return y.permute(0, 2, 3, 1)


def gather_accumulate(table: torch.Tensor, a: torch.Tensor, w: torch.Tensor, chunk_macs: int = 1 << 22) -> torch.Tensor:
    """Reference: int64 lookups of (P, K) activation indices against (O, K) weight indices."""
    p, k = a.shape
    o = w.shape[0]
    rows = max(1, chunk_macs // max(1, k * o))
    a = a.long()
    wt = w.long().T[None]  # (1, K, O)
    out = torch.empty(p, o, dtype=torch.int64)
    for s in range(0, p, rows):
        out[s : s + rows] = table[a[s : s + rows, :, None], wt].sum(1)
    return out


class BagEngine:
    """Embedding-bag partial sums; the stacked table is rebuilt only when the weight codes change."""

    def __init__(self, table: torch.Tensor) -> None:
        self.offset = int(min(0, int(table.min())))  # shift signed tables to >= 0 for the certificate
        self.table = table - self.offset
        self._key: object = None
        self._t32: torch.Tensor | None = None
        self._t64: torch.Tensor | None = None

    @staticmethod
    def _bag(chunks: list[tuple[int, torch.Tensor]], table: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        out = None
        for k0, idx in chunks:
            if rows is not None:
                idx = idx[rows]
            part = F.embedding_bag(idx, table[k0 * 256 : (k0 + idx.shape[1]) * 256], mode="sum")
            out = part if out is None else out.add_(part)
        return out

    def __call__(self, chunks: list[tuple[int, torch.Tensor]], w: torch.Tensor, key: object) -> torch.Tensor:
        """chunks: Geometry.index_chunks of the activation indices; w: (O, K) weight indices; key: w's version."""
        k = w.shape[1]
        if key != self._key or self._t32 is None:
            # row k*256 + a holds LUT[a, w[o, k]] for every output channel o
            self._t32 = self.table[:, w.long().T].permute(1, 0, 2).reshape(k * 256, w.shape[0]).float().contiguous()
            self._t64, self._key = None, key
        acc = self._bag(chunks, self._t32)
        bad = (acc >= F32_EXACT).any(dim=1)
        out = acc.double()
        if bool(bad.any()):  # a partial sum may have rounded: redo those rows in float64
            if self._t64 is None:
                self._t64 = self._t32.double()
            out[bad] = self._bag(chunks, self._t64, bad)
        return out + self.offset * k if self.offset else out


@dataclass(frozen=True)
class BitLinearError:
    """E[a, b] = sum_i u_i(a) g_i(b) (side 'a') or sum_i g_i(a) u_i(b) (side 'b'); u_0 = 1, u_i = bit i-1."""

    side: str
    terms: tuple[int, ...]  # which u_i are used (0: constant, 1..8: bit i-1)
    g: np.ndarray  # (len(terms), 256) int64


def bit_linear_error(m: Multiplier) -> BitLinearError | None:
    """The exact bit-linear form of m's error table, or None when it has none."""
    err = m.table - exact_table(m.signed)
    idx = np.arange(256)
    u = np.stack([np.ones(256, dtype=np.int64)] + [(idx >> i) & 1 for i in range(8)], axis=1)  # (256, 9)
    for side, e in (("a", err), ("b", err.T)):
        # rows at a = 0 and a = 2^i pin g down; the check then covers all 65,536 entries
        g = np.stack([e[0]] + [e[1 << i] - e[0] for i in range(8)])  # (9, 256)
        if np.array_equal(u @ g, e):
            used = tuple(int(i) for i in np.flatnonzero(np.abs(g).sum(axis=1)))
            return BitLinearError(side, used, g[list(used)])
    return None


class LowRankEngine:
    """Exact part sum (x-z_x)(w-z_w) through the layer's own conv/matmul, plus one call for the error terms."""

    def __init__(self, form: BitLinearError) -> None:
        self.form = form
        self.g = torch.from_numpy(form.g).to(torch.float32)
        self.max_g = int(np.abs(form.g).max()) if form.terms else 0

    def _units(self, codes: torch.Tensor) -> torch.Tensor:
        """u_i(code) for the used terms, stacked term-major on dim 1."""
        idx = codes.to(torch.int32) & 255
        return torch.cat([torch.ones_like(idx) if t == 0 else (idx >> (t - 1)) & 1 for t in self.form.terms],
                         dim=1).to(torch.float32)

    def _mapped(self, codes: torch.Tensor) -> torch.Tensor:
        """g_i(code) for the used terms, stacked term-major on dim 1."""
        idx = codes.to(torch.int64) & 255
        return torch.cat([self.g[i][idx] for i in range(len(self.form.terms))], dim=1)

    def __call__(self, xq: torch.Tensor, wq: torch.Tensor, zx: int, zw: int, geometry: Geometry,
                 padding: tuple[int, int]) -> torch.Tensor:
        """Corrected accumulator (float64 holding exact integers); xq unpadded float codes, wq float codes."""
        k = wq[0].numel()
        xs, ws = xq - zx, wq - zw  # real zero -> 0, so the conv's own zero padding is right
        w_max = float(ws.abs().max())
        window = geometry.window_sums(xs.abs(), padding)  # bound on every partial sum, per output
        exact32 = float(window.max()) * w_max < F32_EXACT
        if exact32:
            acc = geometry.apply(xs, ws, padding).double()
        else:
            acc = geometry.apply(xs.double(), ws.double(), padding)
        if self.form.terms:
            xp = geometry.pad(xq, padding, zx)
            n_terms = len(self.form.terms)
            if self.form.side == "a":
                xt, wt = self._units(xp), self._mapped(wq)
            else:
                xt, wt = self._mapped(xp), self._units(wq)
            # the terms ride on the channel axis (term-major on both sides): one call, K*n_terms long
            bound = k * n_terms * self.max_g
            if bound < F32_EXACT:
                acc += geometry.apply(xt, wt).double()
            else:
                acc += geometry.apply(xt.double(), wt.double())
        return acc
