"""Integer accumulators of an 8x8 multiplier table: acc[p, o] = sum_k LUT[a[p, k], w[o, k]].

Four engines give the same int64 numbers:
- gather:  the reference, one int64 table lookup per multiply-accumulate (chunked).
- bag:     any table. For a fixed layer the weight codes are fixed, so LUT[., w[o, k]] is a
           256-entry column per (k, o); stacking them gives a (K*256, O) table and the MAC
           becomes an embedding-bag sum of K rows, vectorized over the output channels.
- lut:     the same stacked table as uint16 rows, summed by a compiled kernel (_lutmac.c) that
           reads the windows straight from the padded codes; needs a C compiler (see _native).
- lowrank: tables whose error LUT - a*b is linear in the bits of one operand,
           E[a, b] = sum_i u_i(a) g_i(b) with u_i in {1, bit_i(a)}; the exact part and each error
           term are ordinary conv/matmul calls (the layer's own BLAS path).
Float arithmetic is exact here because every term is an integer and every partial sum stays
below 2^24 (float32) or 2^53 (float64): for non-negative terms the float32 result itself
certifies it (a sum reaching 2^24 rounds to >= 2^24), otherwise an a-priori bound picks float64.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ._multiplier import Multiplier, exact_table
from ._native import Epilogue, load_kernel

F32_EXACT = 2.0**24
ENGINES = ("gather", "bag", "lut", "lowrank")
LUT_BLOCKS = (16, 32, 64)  # output channels per kernel block (_lutmac.c)
LUT_MAX_K = 65536  # uint32 sums of uint16 rows stay exact up to here
# Kernel blocking, measured on a 2-core AVX-512 VM and a 2-core AVX2 VM (512 KB L2; slices of
# 64 KB-19 MB and tiles of 512-16384 rows tried): a K slice of the table (~1 MB) is read by a tile
# of windows; larger tiles reuse it more. Best or within noise of the best on both.
LUT_SLICE_BYTES = 1 << 20
LUT_TILE_ROWS = 16384


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

    def lut_layout(self, shape: tuple[int, ...], padding: tuple[int, int]
                   ) -> tuple[tuple[int, ...], torch.Tensor, tuple[int, ...]]:
        """How _lutmac.c reads an input of `shape`: the padded channels-last byte shape, the K window
        offsets in bag_weights' (kh, kw, C) order, and (Hp, Wp, C, Ho, Wo, stride_h, stride_w)."""
        if self.kind == "linear":
            n, k = shape
            return (n, k), torch.arange(k, dtype=torch.int32), (1, 1, k, 1, 1, 1, 1)
        (ph, pw), (n, c, h, w) = padding, shape
        hp, wp = h + 2 * ph, w + 2 * pw
        return (n, hp, wp, c), self._window_offsets(wp, c), (hp, wp, c, *self._out_hw(hp, wp), *self.stride)

    def lut_operands(self, xq: torch.Tensor, padding: tuple[int, int], pad_code: int, signed: bool
                     ) -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...]]:
        """lut_layout's operands from float codes xq: padded bytes (two's complement when signed)."""
        shape, offs, dims = self.lut_layout(tuple(xq.shape), padding)
        dtype = torch.int8 if signed else torch.uint8
        if self.kind == "linear":
            return xq.to(dtype).view(torch.uint8), offs, dims
        (ph, pw), (_, _, h, w) = padding, xq.shape
        x = torch.full(shape, pad_code, dtype=dtype)
        x[:, ph : ph + h, pw : pw + w].copy_(xq.permute(0, 2, 3, 1))  # transpose and convert in one pass
        return x.view(torch.uint8), offs, dims

    @functools.lru_cache(maxsize=16)  # a few input shapes per layer; Geometry is frozen, hence hashable
    def _window_offsets(self, wp: int, c: int) -> torch.Tensor:
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        ky, kx, ch = torch.meshgrid(torch.arange(kh), torch.arange(kw), torch.arange(c), indexing="ij")
        return ((ky * dh * wp + kx * dw) * c + ch).reshape(-1).to(torch.int32)

    def out_shape(self, x: torch.Tensor, out_channels: int, padding: tuple[int, int] = (0, 0)) -> tuple[int, ...]:
        """Accumulator shape: (N, Ho, Wo, O) or (N, O)."""
        if self.kind == "linear":
            return (x.shape[0], out_channels)
        return (x.shape[0], *self._out_hw(x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]), out_channels)

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

    def window_sums(self, x: torch.Tensor, padding: tuple[int, int] = (0, 0), pad_value: float = 0.0) -> torch.Tensor:
        """sum of x over each output's K inputs, x padded with pad_value, as (N, Ho, Wo, 1) or (N, 1);
        exact for integer x."""
        s = x.sum(1, keepdim=True, dtype=torch.float32)
        if self.kind == "linear":
            return s
        if pad_value and any(padding):  # pad the channel sums (C * value each), not the whole input
            s, padding = self.pad(s, padding, pad_value * x.shape[1]), (0, 0)
        return self.pool_sums(s, padding)

    def pool_sums(self, s: torch.Tensor, padding: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """Per-pixel sums (N, 1, H, W) -> each output window's sum (N, Ho, Wo, 1); linear: s as (N, 1)."""
        if self.kind == "linear":
            return s.reshape(s.shape[0], 1)
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


def shifted(table: torch.Tensor) -> tuple[int, torch.Tensor]:
    """(shift, table - shift) with shift = min(0, min entry): signed tables moved to >= 0, so the
    summing engines only ever add non-negative rows; the sum is corrected by shift * K."""
    shift = int(min(0, int(table.min())))
    return shift, table - shift


def stacked_rows(table: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(K, 256, O) with [k, a, o] = table[a, w[o, k]]: for a fixed layer each (k, a) is one row of
    products, one per output channel."""
    return table[:, w.long().T].permute(1, 0, 2)


class BagEngine:
    """Embedding-bag partial sums; the stacked table is rebuilt only when the weight codes change."""

    def __init__(self, table: torch.Tensor) -> None:
        self.offset, self.table = shifted(table)  # non-negative rows: the float32 certificate below holds
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
            self._t32 = stacked_rows(self.table, w).reshape(k * 256, w.shape[0]).float().contiguous()
            self._t64, self._key = None, key
        acc = self._bag(chunks, self._t32)
        bad = (acc >= F32_EXACT).any(dim=1)
        out = acc.double()
        if bool(bad.any()):  # a partial sum may have rounded: redo those rows in float64
            if self._t64 is None:
                self._t64 = self._t32.double()
            out[bad] = self._bag(chunks, self._t64, bad)
        return out + self.offset * k if self.offset else out


class LutEngine:
    """Stacked uint16 table (blocks, K, 256, OB) summed by the compiled kernel (_lutmac.c).

    The table is shifted to >= 0 (signed tables) and rebuilt only when the weight codes change.
    When every table row of the activations' zero code holds one value (the usual case: a zero
    operand gives product 0), the kernel skips those operands and adds the value per skipped one.
    """

    def __init__(self, table: torch.Tensor, portable: bool = False) -> None:
        self.offset, self.table = shifted(table.to(torch.int32))
        if int(self.table.max()) > 65535:
            raise ValueError(f"lut engine: table span {int(self.table.max())} does not fit 16 bits")
        self.portable = portable  # the library is looked up per call: a layer holding it could not be copied
        self._key: object = None
        self._w = torch.empty(0, 0, dtype=torch.long)
        self._stack: torch.Tensor | None = None
        self._ob = self._nb = 0
        self._skip: dict[int, tuple[int, int]] = {}

    def _prepare(self, w: torch.Tensor, key: object) -> None:
        if key == self._key and self._stack is not None:
            return
        o, k = w.shape
        ob = next((b for b in LUT_BLOCKS if b >= o), LUT_BLOCKS[-1])
        nb = -(-o // ob)
        self._w = w.long()
        stack = torch.zeros(nb, k, 256, ob, dtype=torch.uint16)  # padded channels stay 0
        for b in range(nb):  # one block at a time keeps the int32 intermediate small
            rows = stacked_rows(self.table, self._w[b * ob : (b + 1) * ob])
            stack[b, :, :, : rows.shape[2]] = rows
        self._stack, self._ob, self._nb, self._skip, self._key = stack, ob, nb, {}, key

    def _skip_for(self, code: int) -> tuple[int, int]:
        """(code, value) when every row of `code` holds the single value, else (-1, 0)."""
        if code not in self._skip:
            vals = self.table[code, self._w]
            same = bool((vals == vals.flatten()[0]).all())
            self._skip[code] = (code, int(vals.flatten()[0])) if same else (-1, 0)
        return self._skip[code]

    def quantize(self, x: torch.Tensor, geometry: Geometry, padding: tuple[int, int], scale: float, zero: int,
                 signed: bool, window_sums: bool) -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...], torch.Tensor | None]:
        """Geometry.lut_operands straight from the float32 input, quantized (the same operations as
        ApproxLayer._codes), padded and transposed by the kernel in one pass; plus, if asked, each
        output window's sum of codes (P,), from per-pixel sums taken in the same pass."""
        shape, offs, dims = geometry.lut_layout(tuple(x.shape), padding)
        v = x if geometry.kind == "conv" else x[:, :, None, None]  # linear: (N, K, 1, 1)
        n, c, h, w = v.shape
        out = torch.empty(shape, dtype=torch.uint8)
        sums = torch.empty(n, 1, dims[0], dims[1], dtype=torch.int32) if window_sums else None
        lo, hi = (-128.0, 127.0) if signed else (0.0, 255.0)
        self._kernel().quantize_nhwc(v.data_ptr(), n, c, h, w, *v.stride(),
                                     *(padding if geometry.kind == "conv" else (0, 0)), scale, float(zero), lo, hi,
                                     zero & 255, torch.get_num_threads(), out.data_ptr(),
                                     None if sums is None else sums.data_ptr())
        window = None if sums is None else geometry.pool_sums(sums.float()).reshape(-1)  # < 2^24: exact
        return out, offs, dims, window

    def _kernel(self):  # noqa: ANN202 - a ctypes library
        kernel = load_kernel(self.portable)
        if kernel is None:
            raise RuntimeError("lut engine: the compiled kernel is unavailable")
        return kernel

    def _run(self, x: torch.Tensor, offs: torch.Tensor, dims: tuple[int, ...], w: torch.Tensor, key: object,
             zero_code: int, epilogue: Epilogue | None) -> torch.Tensor | None:
        """The kernel's (P, OB * blocks) uint32 sums (shift not yet removed); with an epilogue, None:
        the kernel writes the layer's output instead."""
        hp, wp, c, ho, wo, sh, sw = dims
        k = w.shape[1]
        if k > LUT_MAX_K:
            raise ValueError(f"lut engine: K={k} above {LUT_MAX_K}")
        self._prepare(w, key)
        skip, value = self._skip_for(zero_code & 255)
        rows = x.shape[0] * ho * wo
        out = None if epilogue else torch.empty(rows, self._ob * self._nb, dtype=torch.uint32)
        threads = max(1, min(torch.get_num_threads(), rows // 256))
        status = self._kernel().lutmac(x.data_ptr(), hp, wp, c, ho, wo, sh, sw, offs.data_ptr(), k, self._stack.data_ptr(),
                               self._ob, self._nb, skip, value, LUT_SLICE_BYTES // (512 * self._ob),
                               LUT_TILE_ROWS, rows, threads, epilogue, None if out is None else out.data_ptr())
        if status:
            raise RuntimeError(f"lut kernel failed with status {status} (ob={self._ob}, K={k}, rows={rows})")
        return out

    def __call__(self, x: torch.Tensor, offs: torch.Tensor, dims: tuple[int, ...], w: torch.Tensor, key: object,
                 zero_code: int) -> torch.Tensor:
        """x, offs, dims: Geometry.lut_operands; w: (O, K) weight codes in that K order. (P, O) float64."""
        o, k = w.shape
        acc = self._run(x, offs, dims, w, key, zero_code, None)[:, :o].double()
        return acc + self.offset * k if self.offset else acc

    def output(self, x: torch.Tensor, offs: torch.Tensor, dims: tuple[int, ...], w: torch.Tensor, key: object,
               zero_code: int, window_sums: torch.Tensor | None, zw: int, corr: torch.Tensor, scale: float,
               bias: torch.Tensor | None) -> torch.Tensor:
        """The layer's (P, O) float32 output, float(scale * (acc - zw * window_sums - corr)) + bias, made by
        the kernel as each tile finishes: the same operations as the PyTorch path, so the same bits.
        window_sums: (P,) integer sums of each window's codes (None when zw = 0); corr: (O,) exact integers."""
        o, k = w.shape
        y = torch.empty(x.shape[0] * dims[3] * dims[4], o, dtype=torch.float32)
        ws = None if window_sums is None else window_sums.to(torch.int32).contiguous()
        # doubles for the kernel's epilogue: exact, every term is an integer far below 2^53
        corr_d = (corr.to(torch.int64) - self.offset * k).double().contiguous()
        b = None if bias is None else bias.contiguous()
        if b is not None and b.dtype != torch.float32:
            raise ValueError(f"lut engine output: bias dtype {b.dtype}, expected float32")
        epi = Epilogue(None if ws is None else ws.data_ptr(), zw, corr_d.data_ptr(), scale,
                       None if b is None else b.data_ptr(), o, y.data_ptr())
        self._run(x, offs, dims, w, key, zero_code, epi)
        return y


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
