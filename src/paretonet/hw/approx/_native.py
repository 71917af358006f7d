"""The compiled LUT-MAC kernel (_lutmac.c): built with the system C compiler on first use, cached.

No Python extension toolchain is involved: the kernel is C (gnu11) with GCC/Clang vector types
(plus AVX2/AVX-512 intrinsics where the CPU has them), compiled to a shared library with
`-O3 -march=native` and called through ctypes; it splits the rows over torch.get_num_threads()
threads of PyTorch's OpenMP team (POSIX threads without OpenMP). The library is cached under
PARETONET_CACHE (default ~/.cache/paretonet) keyed by the source, the flags, the compiler and this
CPU; concurrent first uses each build into a temporary file and rename it into place. Without a
compiler the engine is unavailable and the pure-PyTorch engines serve (one warning).

The portable build, which the tests check against the native one, has no -march and takes the
accumulation form (LUTMAC_PAIR_FORM in the source) that the native build does not take.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

SOURCE = Path(__file__).with_name("_lutmac.c")
BASE_FLAGS = ("-O3", "-std=gnu11", "-shared", "-fPIC", "-pthread")
# OpenMP links libgomp.so.1, which inside PyTorch resolves to PyTorch's own (same soname): the
# kernel then runs on PyTorch's threads. Compilers without OpenMP build the POSIX-threads variant.
OPENMP_FLAGS = ("-fopenmp",)


def cache_dir() -> Path:
    if os.environ.get("PARETONET_CACHE"):
        return Path(os.environ["PARETONET_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paretonet"


def _cpu_id() -> str:
    """What -march=native depends on: the CPU's model and feature flags."""
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
        return "".join(sorted({ln for ln in info if ln.startswith(("model name", "flags", "Features"))}))
    except OSError:
        return platform.processor() + platform.machine()


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc"))


def build(portable: bool = False) -> Path:
    """Compile the kernel (if not cached) and return the library's path; raises RuntimeError."""
    cc = _compiler()
    if cc is None:
        raise RuntimeError(f"no C compiler: CC={os.environ.get('CC', 'cc')!r} not found on PATH")
    if portable:
        native = load_kernel(False)
        base = BASE_FLAGS + (() if native is None else (f"-DLUTMAC_PAIR_FORM={1 - native.lutmac_pair_form()}",))
    else:
        base = BASE_FLAGS + ("-march=native",)
    try:
        return _build(cc, base + OPENMP_FLAGS, portable)
    except RuntimeError:
        return _build(cc, base, portable)


def _build(cc: str, flags: tuple[str, ...], portable: bool) -> Path:
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
    key = hashlib.sha256("\0".join([SOURCE.read_text(), " ".join(flags), version, _cpu_id()]).encode()).hexdigest()
    out = cache_dir() / f"lutmac-{'portable' if portable else 'native'}-{key[:16]}.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    os.close(fd)
    try:
        res = subprocess.run([cc, *flags, str(SOURCE), "-o", tmp], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"compiling {SOURCE.name} failed: {res.stderr.strip()[:2000]}")
        os.replace(tmp, out)  # atomic: a concurrent build of the same key writes the same bytes
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


class Epilogue(ctypes.Structure):
    """_lutmac.c's epilogue_t: turns finished accumulators into the layer's float32 output."""

    _fields_ = [("window_sums", ctypes.c_void_p), ("zw", ctypes.c_int64), ("corr", ctypes.c_void_p),
                ("scale", ctypes.c_double), ("bias", ctypes.c_void_p), ("o", ctypes.c_int64),
                ("out", ctypes.c_void_p)]


@functools.cache
def load_kernel(portable: bool = False) -> ctypes.CDLL | None:
    """The kernel library, or None (with one warning) when it cannot be built here."""
    if os.environ.get("PARETONET_NO_NATIVE"):
        return None
    try:
        lib = ctypes.CDLL(str(build(portable)))
    except (RuntimeError, OSError) as err:
        warnings.warn(f"approximate layers: compiled LUT engine unavailable ({err}); using the PyTorch engines",
                      RuntimeWarning, stacklevel=2)
        return None
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    lib.lutmac.argtypes = [ptr, i64, i64, i64, i64, i64, i64, i64, ptr, i64, ptr, i64, i64, ctypes.c_int,
                           ctypes.c_uint32, i64, i64, i64, i64, ctypes.POINTER(Epilogue), ptr]
    lib.lutmac.restype = ctypes.c_int
    f32 = ctypes.c_float
    lib.quantize_nhwc.argtypes = [ptr, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, f32, f32, f32, f32,
                                  ctypes.c_uint8, i64, ptr, ptr]
    lib.quantize_nhwc.restype = None
    return lib
