/* LUT multiply-accumulate for approximate 8x8 multipliers: acc[p, o] = sum_k T[k][a(p, k)][o].
 *
 * For a fixed layer the weight codes are fixed, so LUT[., w[o, k]] is a 256-entry column per
 * (k, o); the caller stacks them into T (uint16, shifted to >= 0) so that one table row T[k][a]
 * holds the products of activation code a with every output channel's weight at position k.
 * A multiply-accumulate of OB outputs is then one row read and a vector add, exact in uint32
 * for K <= 65536.
 *
 * Layout: T is (n_oblocks, K, 256, OB), OB in {16, 32, 64} output channels per block (zero
 * padded). Activations are padded uint8 codes, channels last (N, Hp, Wp, C); row p is the output
 * position (n, oy, ox) and its K operands sit at origin(p) + offs[k] (linear layers: Hp = Wp = 1).
 *
 * Speed, all exact:
 * - K runs in slices: a slice of T (~1 MB) stays in cache while every row of a tile (up to `tile`
 *   rows) reads it; a row's accumulators stay in registers within a slice. Where L2 is smaller
 *   than a slice, table rows come from L3: each is prefetched 8 rows ahead, across windows (see
 *   DEFINE_BLOCK); what is still waited for is ~20 % of the kernel on a 512 KB-L2 AVX2 VM (the
 *   same kernel on rows that all sit in L2 is that much faster). Smaller slices or tiles
 *   measured slower there, not faster.
 * - A row is summed with the target's widest vectors: pair form with AVX-512, widening loads
 *   otherwise (see LUTMAC_PAIR_FORM below).
 * - One code (the real zero after ReLU) may be skipped when its table rows are one constant c:
 *   the rows of a window are compacted to the other codes first and c is added per skipped one.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#define MAX_SLICE 4096
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define HAVE_SHUFFLEVECTOR 1
#endif

/* Plain GCC/Clang vectors; the kernels use the widest one the target has registers for (a wider
 * one is split by the compiler into pieces that go through the stack: 6x slower, measured). */
typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef uint32_t u32x16 __attribute__((vector_size(64)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef uint8_t u8x32 __attribute__((vector_size(32)));
/* Unaligned, aliasing views of memory as vectors: one vector load/store each. */
typedef uint32_t u32x4_mem __attribute__((vector_size(16), aligned(2), may_alias));
typedef uint32_t u32x8_mem __attribute__((vector_size(32), aligned(2), may_alias));
typedef uint32_t u32x16_mem __attribute__((vector_size(64), aligned(2), may_alias));
typedef uint16_t u16x4_mem __attribute__((vector_size(8), aligned(2), may_alias));
typedef uint16_t u16x8_mem __attribute__((vector_size(16), aligned(2), may_alias));
typedef uint16_t u16x16_mem __attribute__((vector_size(32), aligned(2), may_alias));
typedef float f32x8_mem __attribute__((vector_size(32), aligned(4), may_alias));
typedef uint8_t u8x8_mem __attribute__((vector_size(8), aligned(1), may_alias));
typedef uint8_t u8x16_mem __attribute__((vector_size(16), aligned(1), may_alias));

static inline int64_t origin(int64_t p, int64_t ho, int64_t wo, int64_t hp, int64_t wp, int64_t c,
                             int64_t sh, int64_t sw) {
    int64_t n = p / (ho * wo), r = p % (ho * wo);
    int64_t oy = r / wo, ox = r % wo;
    return ((n * hp + oy * sh) * wp + ox * sw) * c;
}

#if defined(__AVX2__) && !(defined(__AVX512BW__) && defined(__AVX512VL__))
#define COLLECT_AVX2 1
/* compress_lanes[m]: the indices of the set bits of m, in order (AVX2 has no compress). */
static uint8_t compress_lanes[256][8];
__attribute__((constructor)) static void init_compress_lanes(void) {
    for (int m = 0; m < 256; m++)
        for (int b = 0, n = 0; b < 8; b++)
            if (m >> b & 1) compress_lanes[m][n++] = (uint8_t)b;
}
#endif

/* The table rows window p reads in K positions [k0, k1): list[i] = (k << 8) | a for every operand
 * a != skip (skip < 0: every operand). Returns the count. With AVX-512 (AVX2), 16 (8) positions at
 * a time: compare, compress the kept (k << 8 | a) lanes, store (list has 16 entries of slack).
 * offs increases strictly (the caller's contract), so a span of m - 1 over m offsets is contiguous. */
static inline int64_t collect(const uint8_t *xr, const int32_t *offs, int64_t k0, int64_t k1, int skip,
                              uint32_t *list) {
    int64_t n = 0;
#if defined(__AVX512BW__) && defined(__AVX512VL__)
    if (skip >= 0) {
        const __m512i lane_k = _mm512_slli_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 8);
        const __m512i skip_v = _mm512_set1_epi32(skip);
        for (int64_t k = k0; k < k1; k += 16) {
            int64_t m = k1 - k < 16 ? k1 - k : 16;
            __mmask16 lanes = (__mmask16)((1u << m) - 1);
            __m128i bytes;
            if (offs[k + m - 1] - offs[k] == m - 1) {  /* a contiguous run of channels */
                bytes = _mm_maskz_loadu_epi8(lanes, xr + offs[k]);
            } else {
                uint8_t tmp[16] = {0};
                for (int64_t i = 0; i < m; i++) tmp[i] = xr[offs[k + i]];
                bytes = _mm_loadu_si128((const __m128i *)tmp);
            }
            __m512i a = _mm512_cvtepu8_epi32(bytes);
            __mmask16 keep = _mm512_mask_cmpneq_epu32_mask(lanes, a, skip_v);
            __m512i idx = _mm512_or_si512(_mm512_add_epi32(lane_k, _mm512_set1_epi32((int)(k << 8))), a);
            _mm512_storeu_si512(list + n, _mm512_maskz_compress_epi32(keep, idx));
            n += __builtin_popcount(keep);
        }
        return n;
    }
#elif defined(COLLECT_AVX2)
    if (skip >= 0) {
        const __m256i lane_k = _mm256_slli_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), 8);
        const __m256i skip_v = _mm256_set1_epi32(skip);
        for (int64_t k = k0; k < k1; k += 8) {
            int64_t m = k1 - k < 8 ? k1 - k : 8;
            __m128i bytes;
            if (m == 8 && offs[k + 7] - offs[k] == 7) { /* a contiguous run of channels */
                bytes = _mm_loadl_epi64((const __m128i *)(xr + offs[k]));
            } else {
                uint8_t tmp[16] = {0};
                for (int64_t i = 0; i < m; i++) tmp[i] = xr[offs[k + i]];
                bytes = _mm_loadu_si128((const __m128i *)tmp);
            }
            __m256i a = _mm256_cvtepu8_epi32(bytes);
            unsigned keep = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(a, skip_v)));
            keep &= (1u << m) - 1;
            __m256i idx = _mm256_or_si256(_mm256_add_epi32(lane_k, _mm256_set1_epi32((int)(k << 8))), a);
            __m256i perm = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)compress_lanes[keep]));
            _mm256_storeu_si256((__m256i *)(list + n), _mm256_permutevar8x32_epi32(idx, perm));
            n += __builtin_popcount(keep);
        }
        return n;
    }
#endif
    for (int64_t k = k0; k < k1; k++) {
        uint32_t a = xr[offs[k]];
        list[n] = (uint32_t)(k << 8) | a;
        n += skip < 0 || a != (uint32_t)skip;
    }
    return n;
}

/* Accumulate K positions [k0, k1) of `rows` windows into acc (OB uint32 per window, kept in the
 * kernel's accumulator form between slices); skipped[r] counts skipped operands. ADD_ROW adds
 * the table row `row` (OB uint16) to the NV vectors acc_v.
 * Table rows come from beyond L2 on small-cache machines, so each is asked for PREFETCH_AHEAD
 * rows before its turn. A window's list is short (~32 operands per slice), so the next window's
 * list is collected before the current one is summed and the prefetch runs on into it: the
 * first rows of a list are then no longer waited for (kernel 13-18 % faster on the AVX2 VM than
 * a prefetch within each list, which was 5-10 % faster than none). */
#define PREFETCH_AHEAD 8
#define DEFINE_BLOCK(OB, VT, VM, NV, ADD_ROW)                                                       \
    static void block_##OB(const uint8_t *x, const int64_t *org, int64_t rows, const int32_t *offs,  \
                           int64_t k0, int64_t k1, const uint16_t *t, uint32_t *acc,               \
                           int64_t acc_stride, int skip, uint32_t *skipped) {                       \
        uint32_t lists[2][MAX_SLICE + 16 + PREFETCH_AHEAD];                                         \
        int64_t next_n = rows > 0 ? collect(x + org[0], offs, k0, k1, skip, lists[0]) : 0;          \
        for (int64_t r = 0; r < rows; r++) {                                                        \
            uint32_t *list = lists[r & 1], *next = lists[(r + 1) & 1];                              \
            int64_t n = next_n;                                                                     \
            next_n = r + 1 < rows ? collect(x + org[r + 1], offs, k0, k1, skip, next) : 0;          \
            for (int64_t i = 0; i < PREFETCH_AHEAD; i++) /* past the end: the next list's head */  \
                list[n + i] = i < next_n ? next[i] : 0;                                             \
            skipped[r] += (uint32_t)(k1 - k0 - n);                                                  \
            VM *dst = (VM *)(acc + r * acc_stride);                                                 \
            VT acc_v[NV];                                                                           \
            for (int j = 0; j < NV; j++) acc_v[j] = dst[j];                                         \
            for (int64_t i = 0; i < n; i++) {                                                       \
                __builtin_prefetch(t + (int64_t)list[i + PREFETCH_AHEAD] * OB);                    \
                const uint16_t *row = t + (int64_t)list[i] * OB;                                    \
                ADD_ROW                                                                             \
            }                                                                                       \
            for (int j = 0; j < NV; j++) dst[j] = acc_v[j];                                         \
        }                                                                                           \
    }

/* Two ways to sum a row; each was the faster one on a machine where both were measured:
 * - Pair form, no widening (AVX-512): a row is read as uint32 lanes, each holding two outputs
 *   (lo + hi << 16). The first NV/2 vectors sum the raw lanes ("all"), the last NV/2 the lanes
 *   >> 16 ("hi"); then lo = all - (hi << 16) (mod 2^32, exact while each sum is below 2^32).
 * - Widening loads (AVX2 vpmovzxwd, SSE, NEON): acc holds the sums in output order. On the AVX2
 *   VM both forms now take the same time in the whole kernel (its table reads dominate); widening
 *   was 2.8x faster there in a micro-benchmark on L1-resident rows.
 * -DLUTMAC_PAIR_FORM=0/1 forces one: the tests' portable build takes the form the native build
 * does not take, so both are checked bit-exact on every machine. */
#ifndef LUTMAC_PAIR_FORM
#ifdef __AVX512F__
#define LUTMAC_PAIR_FORM 1
#else
#define LUTMAC_PAIR_FORM 0
#endif
#endif

int lutmac_pair_form(void) { return LUTMAC_PAIR_FORM; }

#if LUTMAC_PAIR_FORM
#define BODY(VT, HM, NV)                                                                            \
    for (int j = 0; j < NV / 2; j++) {                                                              \
        VT v = ((const VT##_mem *)row)[j];                                                          \
        acc_v[j] += v;                                                                              \
        acc_v[NV / 2 + j] += v >> 16;                                                               \
    }
#elif defined(__AVX2__) && !defined(__AVX512F__)
/* GCC splits __builtin_convertvector to 256 bits into two 128-bit halves; the intrinsic is one
 * vpmovzxwd with a memory operand. */
#define BODY(VT, HM, NV)                                                                            \
    for (int j = 0; j < NV; j++)                                                                    \
        acc_v[j] += (u32x8)_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)row + j));
#else
#define BODY(VT, HM, NV)                                                                            \
    for (int j = 0; j < NV; j++)                                                                    \
        acc_v[j] += __builtin_convertvector(((const HM *)row)[j], VT);
#endif

/* NV = OB / lanes vectors per window, in the widest vectors the target has registers for. */
#if defined(__AVX512F__)
DEFINE_BLOCK(16, u32x8, u32x8_mem, 2, BODY(u32x8, u16x8_mem, 2))
DEFINE_BLOCK(32, u32x16, u32x16_mem, 2, BODY(u32x16, u16x16_mem, 2))
DEFINE_BLOCK(64, u32x16, u32x16_mem, 4, BODY(u32x16, u16x16_mem, 4))
#elif defined(__AVX2__)
DEFINE_BLOCK(16, u32x8, u32x8_mem, 2, BODY(u32x8, u16x8_mem, 2))
DEFINE_BLOCK(32, u32x8, u32x8_mem, 4, BODY(u32x8, u16x8_mem, 4))
DEFINE_BLOCK(64, u32x8, u32x8_mem, 8, BODY(u32x8, u16x8_mem, 8))
#else /* SSE2, NEON, the portable build */
DEFINE_BLOCK(16, u32x4, u32x4_mem, 4, BODY(u32x4, u16x4_mem, 4))
DEFINE_BLOCK(32, u32x4, u32x4_mem, 8, BODY(u32x4, u16x4_mem, 8))
DEFINE_BLOCK(64, u32x4, u32x4_mem, 16, BODY(u32x4, u16x4_mem, 16))
#endif

/* The kernel's accumulators -> OB sums in output order, in place, plus `extra` each. */
static void finish_sums(uint32_t *dst, int64_t ob, uint32_t extra) {
#if LUTMAC_PAIR_FORM
    uint32_t tmp[64];
    for (int64_t i = 0; i < ob / 2; i++) {
        uint32_t all = dst[i], hi = dst[ob / 2 + i];
        tmp[2 * i] = all - (hi << 16) + extra;
        tmp[2 * i + 1] = hi + extra;
    }
    memcpy(dst, tmp, (size_t)ob * sizeof(uint32_t));
#else
    for (int64_t i = 0; i < ob; i++) dst[i] += extra;
#endif
}

/* The layer's output for rows whose accumulators are done: y = float(s * (acc - z_w * ws[p] - corr[o]))
 * + bias[o], the same IEEE operations, in the same order, as the PyTorch path (double product, one
 * rounding to float, float bias add), so both give identical bits. The integer part is taken in
 * doubles, exact for integers below 2^53 (these stay below 2^35), so that the loops vectorize. */
typedef struct {
    const int32_t *window_sums; /* per row: sum of its window's codes, padding included; or NULL */
    int64_t zw;                 /* weight zero point */
    const double *corr;         /* per output, an integer: z_x sum w - K z_x z_w - table shift * K */
    double scale;               /* s_x * s_w */
    const float *bias;          /* per output, or NULL */
    int64_t o;                  /* outputs per row */
    float *out;                 /* (P, o) */
} epilogue_t;

static void finish(const epilogue_t *e, const uint32_t *acc, int64_t width, int64_t q0, int64_t rows) {
    for (int64_t r = 0; r < rows; r++) {
        const uint32_t *a = acc + r * width;
        float *y = e->out + (q0 + r) * e->o;
        double base = e->window_sums ? (double)(e->zw * (int64_t)e->window_sums[q0 + r]) : 0.0;
        if (e->bias) /* two loops: adding a zero bias would turn -0.0 into +0.0 */
            for (int64_t j = 0; j < e->o; j++) y[j] = (float)((((double)a[j] - base) - e->corr[j]) * e->scale) + e->bias[j];
        else
            for (int64_t j = 0; j < e->o; j++) y[j] = (float)((((double)a[j] - base) - e->corr[j]) * e->scale);
    }
}

/* One activation code, with the same float32 operations as the PyTorch path (ApproxLayer._codes):
 * clamp(round_half_even(v / scale) + zero, lo, hi), as a byte (two's complement when signed). */
static inline uint8_t code_of(float v, float scale, float zero, float lo, float hi) {
    float q = v / scale;
    q = q > 1e6f ? 1e6f : q; /* beyond [lo, hi] either way; keeps the rounding below exact */
    q = q < -1e6f ? -1e6f : q;
    q = (q + 12582912.0f) - 12582912.0f; /* + 1.5 * 2^23: rounds half to even for |q| < 2^22 */
    q += zero;
    q = q < lo ? lo : q;
    q = q > hi ? hi : q;
    q = q == q ? q : lo; /* NaN input */
    return (uint8_t)(int32_t)q;
}

/* m ? a : b, lane by lane (m from a vector comparison: all ones or zero). A macro: a function
 * taking 32-byte vectors has a different ABI with and without AVX (a warning in portable builds). */
#define SELECT8(m, a, b) ((f32x8)(((m) & (i32x8)(a)) | (~(m) & (i32x8)(b))))

/* dst[i] = code_of(src[i]) for i < n: code_of's operations 8 lanes at a time (GCC leaves the
 * scalar loop unvectorized: it turns its selects into branches). */
static void codes_run(const float *src, int64_t n, float scale, float zero, float lo, float hi, uint8_t *dst) {
    int64_t i = 0;
#ifdef HAVE_SHUFFLEVECTOR
    const f32x8 big = {1e6f, 1e6f, 1e6f, 1e6f, 1e6f, 1e6f, 1e6f, 1e6f};
    const f32x8 magic = {12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f,
                         12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f};
    const f32x8 sv = {scale, scale, scale, scale, scale, scale, scale, scale};
    const f32x8 zv = {zero, zero, zero, zero, zero, zero, zero, zero};
    const f32x8 lov = {lo, lo, lo, lo, lo, lo, lo, lo}, hiv = {hi, hi, hi, hi, hi, hi, hi, hi};
    for (; i + 8 <= n; i += 8) {
        f32x8 q = *(const f32x8_mem *)(src + i) / sv;
        q = SELECT8(q > big, big, q);
        q = SELECT8(q < -big, -big, q);
        q = (q + magic) - magic;
        q += zv;
        q = SELECT8(q < lov, lov, q);
        q = SELECT8(q > hiv, hiv, q);
        q = SELECT8(q == q, q, lov);
        u8x32 bytes = (u8x32)__builtin_convertvector(q, i32x8); /* each code in its lane's low byte */
        *(u8x8_mem *)(dst + i) = __builtin_shufflevector(bytes, bytes, 0, 4, 8, 12, 16, 20, 24, 28);
    }
#endif
    for (; i < n; i++) dst[i] = code_of(src[i], scale, zero, lo, hi);
}

#define QBLOCK 64

#ifdef HAVE_SHUFFLEVECTOR
#define LO8(a, b) __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define HI8(a, b) __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
/* dst row j (16 bytes, stride dst_stride) = column j of the 16 x 16 bytes at src (stride 16 * QBLOCK / 16):
 * four rounds of interleaving row k with row k + 8 transpose a 16 x 16 block. */
static inline void transpose16(const uint8_t *src, int64_t src_stride, uint8_t *dst, int64_t dst_stride) {
    u8x16 r[16], t[16];
    for (int k = 0; k < 16; k++) r[k] = *(const u8x16_mem *)(src + k * src_stride);
    for (int round = 0; round < 4; round++) {
        for (int k = 0; k < 8; k++) {
            t[2 * k] = LO8(r[k], r[k + 8]);
            t[2 * k + 1] = HI8(r[k], r[k + 8]);
        }
        memcpy(r, t, sizeof r);
    }
    for (int k = 0; k < 16; k++) *(u8x16_mem *)(dst + k * dst_stride) = r[k];
}
#define HAVE_TRANSPOSE16 1
#endif

/* out[i * out_stride + ch] = tmp[ch][i] for ch < cn, i < in. */
static void transpose_block(uint8_t tmp[QBLOCK][QBLOCK], int64_t cn, int64_t in, uint8_t *out, int64_t out_stride) {
    int64_t c16 = 0, i16 = 0;
#ifdef HAVE_TRANSPOSE16
    c16 = cn / 16 * 16;
    i16 = in / 16 * 16;
    for (int64_t c0 = 0; c0 < c16; c0 += 16)
        for (int64_t i0 = 0; i0 < i16; i0 += 16) transpose16(&tmp[c0][i0], QBLOCK, out + i0 * out_stride + c0, out_stride);
#endif
    for (int64_t i = 0; i < in; i++)  /* what the 16 x 16 blocks left */
        for (int64_t ch = i < i16 ? c16 : 0; ch < cn; ch++) out[i * out_stride + ch] = tmp[ch][i];
}

/* The kernel's input from a layer's float input x (N, C, H, W) at element strides (sn, sc, sy, sx):
 * codes, padded with `pad`, channels last (N, H + 2 ph, W + 2 pw, C), in one pass; and, unless
 * NULL, each padded pixel's sum of codes (N, H + 2 ph, W + 2 pw) for the zero-point correction. */
void quantize_nhwc(const float *x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t sn, int64_t sc,
                   int64_t sy, int64_t sx, int64_t ph, int64_t pw, float scale, float zero, float lo, float hi,
                   uint8_t pad, int64_t threads, uint8_t *out, int32_t *pixel_sums) {
    int64_t hp = h + 2 * ph, wp = w + 2 * pw;
    int is_signed = lo < 0;
    int32_t pad_sum = (int32_t)c * (is_signed ? (int8_t)pad : pad);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (int64_t r = 0; r < n * hp; r++) {
        int64_t y = r % hp - ph;
        uint8_t *o = out + r * wp * c;
        int32_t *ps = pixel_sums ? pixel_sums + r * wp : NULL;
        int64_t x0 = y < 0 || y >= h ? wp : pw, x1 = y < 0 || y >= h ? wp : pw + w; /* interior [x0, x1) */
        memset(o, pad, (size_t)(x0 * c));
        memset(o + x1 * c, pad, (size_t)((wp - x1) * c));
        if (ps) {
            for (int64_t i = 0; i < x0; i++) ps[i] = pad_sum;
            for (int64_t i = x1; i < wp; i++) ps[i] = pad_sum;
            for (int64_t i = x0; i < x1; i++) ps[i] = 0;
        }
        if (x0 == x1) continue;
        const float *xr = x + (r / hp) * sn + y * sy;
        uint8_t *oi = o + x0 * c;
        if (sc == 1) { /* channels-last input: both sides contiguous */
            for (int64_t i = 0; i < w; i++) {
                uint8_t *oc = oi + i * c;
                codes_run(xr + i * sx, c, scale, zero, lo, hi, oc);
                if (ps) {
                    int32_t sum = 0;
                    if (is_signed)
                        for (int64_t ch = 0; ch < c; ch++) sum += (int8_t)oc[ch];
                    else
                        for (int64_t ch = 0; ch < c; ch++) sum += oc[ch];
                    ps[x0 + i] = sum;
                }
            }
            continue;
        }
        uint8_t tmp[QBLOCK][QBLOCK]; /* blocks of channel rows: quantized contiguously, then transposed */
        for (int64_t c0 = 0; c0 < c; c0 += QBLOCK) {
            int64_t cn = c - c0 < QBLOCK ? c - c0 : QBLOCK;
            for (int64_t i0 = 0; i0 < w; i0 += QBLOCK) {
                int64_t in = w - i0 < QBLOCK ? w - i0 : QBLOCK;
                int32_t sums[QBLOCK] = {0}; /* local: the byte stores above cannot alias it */
                for (int64_t ch = 0; ch < cn; ch++) {
                    const float *src = xr + (c0 + ch) * sc + i0 * sx;
                    uint8_t *t = tmp[ch];
                    /* the channel's next image row: 64+ streams are more than the hardware
                     * prefetcher follows (1.65 -> 1.3 ms for 64x64x16x16 on the AVX2 VM) */
                    if (r + 1 < n * hp) __builtin_prefetch(src + sy);
                    if (sx == 1)
                        codes_run(src, in, scale, zero, lo, hi, t);
                    else
                        for (int64_t i = 0; i < in; i++) t[i] = code_of(src[i * sx], scale, zero, lo, hi);
                    if (ps && is_signed)
                        for (int64_t i = 0; i < in; i++) sums[i] += (int8_t)t[i];
                    else if (ps)
                        for (int64_t i = 0; i < in; i++) sums[i] += t[i];
                }
                if (ps)
                    for (int64_t i = 0; i < in; i++) ps[x0 + i0 + i] += sums[i];
                transpose_block(tmp, cn, in, oi + i0 * c + c0, c);
            }
        }
    }
    (void)threads;
}

/* Rows [p0, p1) of the accumulators (P, ob * n_oblocks) uint32, row-major, in tiles of `tile` rows
 * and K slices of `slice` positions. skip: a code whose table rows all equal skip_value, or -1.
 * Without an epilogue the accumulators are written to out; with one, each finished tile is turned
 * into the layer's output (epi->out) and out is not used. Returns 0, -1 for an unsupported argument, -2 when out of memory. */
static int lutmac_rows(const uint8_t *x, int64_t hp, int64_t wp, int64_t c, int64_t ho, int64_t wo,
                       int64_t sh, int64_t sw, const int32_t *offs, int64_t k, const uint16_t *t,
                       int64_t ob, int64_t n_oblocks, int skip, uint32_t skip_value, int64_t slice,
                       int64_t tile, int64_t p0, int64_t p1, const epilogue_t *epi, uint32_t *out) {
    if ((ob != 16 && ob != 32 && ob != 64) || k > 65536 || skip > 255 || slice < 1 ||
        slice > MAX_SLICE || tile < 1)
        return -1;
    int64_t width = ob * n_oblocks;
    if (p1 - p0 < tile) tile = p1 - p0 > 0 ? p1 - p0 : 1;
    int64_t *org = malloc((size_t)tile * sizeof *org);
    uint32_t *skipped = malloc((size_t)tile * sizeof *skipped);
    /* with an epilogue the accumulators live only until their tile is finished: one tile's buffer */
    uint32_t *buf = epi ? malloc((size_t)(tile * width) * sizeof *buf) : NULL;
    if (org == NULL || skipped == NULL || (epi && buf == NULL)) {
        free(org);
        free(skipped);
        free(buf);
        return -2;
    }
    for (int64_t q0 = p0; q0 < p1; q0 += tile) {
        int64_t rows = p1 - q0 < tile ? p1 - q0 : tile;
        uint32_t *tile_acc = epi ? buf : out + q0 * width;
        for (int64_t r = 0; r < rows; r++) org[r] = origin(q0 + r, ho, wo, hp, wp, c, sh, sw);
        for (int64_t b = 0; b < n_oblocks; b++) {
            const uint16_t *tb = t + b * k * 256 * ob;
            uint32_t *acc = tile_acc + b * ob;
            for (int64_t r = 0; r < rows; r++) {
                memset(acc + r * width, 0, (size_t)ob * sizeof(uint32_t));
                skipped[r] = 0;
            }
            for (int64_t k0 = 0; k0 < k; k0 += slice) {
                int64_t k1 = k0 + slice < k ? k0 + slice : k;
                if (ob == 16) block_16(x, org, rows, offs, k0, k1, tb, acc, width, skip, skipped);
                else if (ob == 32) block_32(x, org, rows, offs, k0, k1, tb, acc, width, skip, skipped);
                else block_64(x, org, rows, offs, k0, k1, tb, acc, width, skip, skipped);
            }
            for (int64_t r = 0; r < rows; r++) finish_sums(acc + r * width, ob, skipped[r] * skip_value);
        }
        if (epi) finish(epi, tile_acc, width, q0, rows);
    }
    free(org);
    free(skipped);
    free(buf);
    return 0;
}

typedef struct {
    const uint8_t *x;
    int64_t hp, wp, c, ho, wo, sh, sw;
    const int32_t *offs;
    int64_t k;
    const uint16_t *t;
    int64_t ob, n_oblocks;
    int skip;
    uint32_t skip_value;
    int64_t slice, tile, p0, p1;
    const epilogue_t *epi;
    uint32_t *out;
    int status;
} job_t;

static void *run_job(void *arg) {
    job_t *j = arg;
    j->status = lutmac_rows(j->x, j->hp, j->wp, j->c, j->ho, j->wo, j->sh, j->sw, j->offs, j->k, j->t, j->ob,
                            j->n_oblocks, j->skip, j->skip_value, j->slice, j->tile, j->p0, j->p1, j->epi, j->out);
    return NULL;
}

/* All P rows, split into `threads` contiguous ranges. Built with OpenMP, the ranges run on the
 * process's OpenMP team: loaded into PyTorch, that is PyTorch's own libgomp and threads (same
 * soname), so the kernel does not compete with PyTorch's idle-spinning workers for the cores.
 * Otherwise POSIX threads (the calling thread takes the first range).
 * epi: NULL (accumulators to out) or the layer's output epilogue.
 * Returns the first nonzero status, or -3 when a thread cannot start. */
int lutmac(const uint8_t *x, int64_t hp, int64_t wp, int64_t c, int64_t ho, int64_t wo, int64_t sh,
           int64_t sw, const int32_t *offs, int64_t k, const uint16_t *t, int64_t ob,
           int64_t n_oblocks, int skip, uint32_t skip_value, int64_t slice, int64_t tile, int64_t p,
           int64_t threads, const epilogue_t *epi, uint32_t *out) {
    if (threads < 1 || threads > 256) return -1;
    job_t jobs[256];
    for (int64_t i = 0; i < threads; i++) {
        jobs[i] = (job_t){x, hp, wp, c, ho, wo, sh, sw, offs, k, t, ob, n_oblocks, skip, skip_value, slice,
                          tile, p * i / threads, p * (i + 1) / threads, epi, out, 0};
    }
    int status = 0;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int64_t i = 0; i < threads; i++) run_job(&jobs[i]);
#else
    pthread_t ids[256];
    int started[256] = {0};
    for (int64_t i = 1; i < threads; i++) {
        started[i] = pthread_create(&ids[i], NULL, run_job, &jobs[i]) == 0;
        if (!started[i]) status = -3;
    }
    run_job(&jobs[0]);
    for (int64_t i = 1; i < threads; i++)
        if (started[i]) pthread_join(ids[i], NULL);
#endif
    for (int64_t i = 0; i < threads && status == 0; i++) status = jobs[i].status;
    return status;
}
