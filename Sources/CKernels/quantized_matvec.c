// Decode kernels on ggml's Q8_0 and Q4_0 blocks, read where they lie. Each activation row is
// quantised once per call to 8-bit codes with one scale per block of 32 (ggml's Q8_0 values),
// kept in a layout of our own (`lk_qact_bytes`); each weight block then meets its activation
// block as an integer dot product, scaled by the product of the two scales and accumulated in
// f32.
//
// One arithmetic per instruction-set level, shared by the single-row and several-row paths,
// as in kernels.c, so a row's result never depends on the rows decoded beside it:
//   level 0 (portable C): a block's exact integer sum s; sum += (float)s * (dw * dx).
//   levels 1-2 (256-bit): a block gives 8 int32 lanes, each the exact sum of 4 neighbouring
//     products; block b adds cvt(lanes) * (dw * dx) into accumulator b % 2 by FMA. AVX2 gets
//     the lanes with maddubs on |w| and sign-adjusted x; with AVX-512 VNNI (VL) one vpdpbusd
//     gives the same lanes, so both levels compute the same bits.
//   level 3 (512-bit, VNNI): blocks go in pairs, lanes 0-7 from the even block and 8-15 from
//     the odd one; pair p adds into accumulator p % 2.
// The value is the two accumulators' sum, its lanes summed in one fixed order (`finish`).
// The several-row kernel only changes which loop is outermost (weight rows in groups, blocks
// in tiles) so that each weight block is loaded and unpacked once for several activation rows.
#include "CKernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LKQ_X86 1
#endif

static inline float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    float f;
    lk_f16_to_f32(&h, &f, 1);
    return f;
}

static inline void store_f16(uint8_t *p, float f) {
    uint16_t h;
    lk_f32_to_f16(&f, &h, 1);
    memcpy(p, &h, 2);
}

void lk_quantize_q8_0(const float *x, void *out, size_t k) {
    uint8_t *b = (uint8_t *)out;
    for (size_t i = 0; i < k / 32; i++, x += 32, b += LK_Q8_0_BLOCK_BYTES) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        store_f16(b, d);
        for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

void lk_quantize_q4_0(const float *x, void *out, size_t k) {
    uint8_t *b = (uint8_t *)out;
    for (size_t i = 0; i < k / 32; i++, x += 32, b += LK_Q4_0_BLOCK_BYTES) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        }
        float d = max / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
        store_f16(b, d);
        for (int j = 0; j < 16; j++) {
            int lo = (int)(x[j] * id + 8.5f), hi = (int)(x[j + 16] * id + 8.5f);
            lo = lo > 15 ? 15 : lo;
            hi = hi > 15 ? 15 : hi;
            b[2 + j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

// MARK: - activation rows

// An activation row of k values (nb = k / 32 blocks):
//   int8  codes[k]        element order, as in Q8_0
//   float scale8[nb][8]   the block's scale (rounded to f16, as Q8_0 stores it), 8 times over
//   int32 offset8[nb][8]  -8 × the sum of each 4 neighbouring codes: Q4_0's nibbles are
//                         code + 8, and VNNI multiplies them unsigned
typedef struct {
    const int8_t *codes;
    const float *scale8;
    const int32_t *offset8;
} lkq_act;

size_t lk_qact_bytes(size_t k) { return k + k / 32 * 64; }

static inline lkq_act act_at(const void *xq, size_t k) {
    const uint8_t *p = (const uint8_t *)xq;
    return (lkq_act){(const int8_t *)p, (const float *)(p + k), (const int32_t *)(p + k + k / 32 * 32)};
}

static int has_vnni(void);
static void quantize_activation_512(const float *x, int8_t *codes, float *scale8, int32_t *offset8, size_t nb);

void lk_quantize_activation(const float *x, void *out, size_t k) {
    uint8_t *p = (uint8_t *)out;
    int8_t *codes = (int8_t *)p;
    float *scale8 = (float *)(p + k);
    int32_t *offset8 = (int32_t *)(p + k + k / 32 * 32);
#ifdef LKQ_X86
    if (lk_simd_level() >= 3 && has_vnni()) {
        quantize_activation_512(x, codes, scale8, offset8, k / 32);
        return;
    }
#endif
    uint8_t block[LK_Q8_0_BLOCK_BYTES];
    for (size_t b = 0; b < k / 32; b++) {
        lk_quantize_q8_0(x + b * 32, block, 32);
        memcpy(codes + b * 32, block + 2, 32);
        float d = f16_at(block);
        for (int l = 0; l < 8; l++) {
            const int8_t *c = codes + b * 32 + 4 * l;
            scale8[b * 8 + l] = d;
            offset8[b * 8 + l] = -8 * ((int32_t)c[0] + c[1] + c[2] + c[3]);
        }
    }
}

/// The dot product's value from its two accumulators of `lanes` floats each: lanes added
/// pairwise, then halves added until one is left.
static float finish(const float *acc, size_t lanes) {
    float t[16];
    for (size_t i = 0; i < lanes; i++) t[i] = acc[i] + acc[lanes + i];
    for (size_t h = lanes / 2; h > 0; h /= 2)
        for (size_t i = 0; i < h; i++) t[i] = t[i] + t[i + h];
    return t[0];
}

// MARK: - portable bodies

static inline size_t block_bytes(int dtype) { return dtype == LK_Q8_0 ? LK_Q8_0_BLOCK_BYTES : LK_Q4_0_BLOCK_BYTES; }

/// Bytes of a weight row of k values.
static size_t row_bytes_of(int dtype, size_t k) {
    switch (dtype) {
    case LK_Q4_K: return k / 256 * LK_Q4_K_BLOCK_BYTES;
    case LK_Q6_K: return k / 256 * LK_Q6_K_BLOCK_BYTES;
    default: return k / 32 * block_bytes(dtype);
    }
}

static float dot_q4_k_c(const uint8_t *w, lkq_act x, size_t superblocks);
static float dot_q6_k_c(const uint8_t *w, lkq_act x, size_t superblocks);

static int32_t block_sum(int dtype, const uint8_t *w, const int8_t *x) {
    int32_t s = 0;
    if (dtype == LK_Q8_0) {
        for (int j = 0; j < 32; j++) s += (int32_t)(int8_t)w[2 + j] * x[j];
    } else {
        for (int j = 0; j < 16; j++) {
            s += ((int32_t)(w[2 + j] & 0x0F) - 8) * x[j];
            s += ((int32_t)(w[2 + j] >> 4) - 8) * x[j + 16];
        }
    }
    return s;
}

static float dot_c(int dtype, const uint8_t *w, lkq_act x, size_t nb) {
    if (dtype == LK_Q4_K) return dot_q4_k_c(w, x, nb / 8);
    if (dtype == LK_Q6_K) return dot_q6_k_c(w, x, nb / 8);
    float sum = 0;
    size_t bb = block_bytes(dtype);
    for (size_t b = 0; b < nb; b++, w += bb)
        sum += (float)block_sum(dtype, w, x.codes + b * 32) * (f16_at(w) * x.scale8[b * 8]);
    return sum;
}

// MARK: - 256-bit bodies (AVX2; VNNI's vpdpbusd where present)

#ifdef LKQ_X86
#define LKQ_AVX2 __attribute__((target("avx2,fma,f16c")))
#define LKQ_VL __attribute__((target("avx2,fma,f16c,avx512f,avx512vl")))
#define LKQ_VNNI256 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))
/// How far ahead of the block being read the 256-bit bodies prefetch the weight stream: the
/// hardware prefetchers alone leave half the memory bandwidth unused on an AMD EPYC (Zen 3)
/// with two threads (Q4_0x8 mat-vec at 2 KB ahead: 26 → 38 GB/s).
#define LKQ_AHEAD 2048
#define LKQ_512 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni")))

/// The 32 codes of a Q4_0 block as unsigned nibbles 0..15, element order (low nibbles are
/// elements 0..15, high ones 16..31).
#define LKQ_NIBBLES(qs) _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(qs))), \
    _mm_srli_epi16(_mm_loadu_si128((const __m128i *)(qs)), 4), 1), _mm256_set1_epi8(0x0F))

/// AVX2 lanes: Σ of 4 products of signed bytes w and x, via |w| · (x with w's sign).
#define LKQ_LANES_SIGN(w, x) _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)), \
    _mm256_set1_epi16(1))

/// A weight block's codes ready for LKQ_LANES: Q8_0 as signed bytes, Q4_0 as signed (AVX2)
/// or as unsigned nibbles (VNNI, offset by the activation's offset8).
#define LKQ_PREP_Q8_0_SIGN(p) _mm256_loadu_si256((const __m256i *)((p) + 2))
#define LKQ_PREP_Q4_0_SIGN(p) _mm256_sub_epi8(LKQ_NIBBLES((p) + 2), _mm256_set1_epi8(8))
#define LKQ_PREP_Q8_0_VNNI(p) LKQ_PREP_Q8_0_SIGN(p)
#define LKQ_PREP_Q4_0_VNNI(p) LKQ_NIBBLES((p) + 2)
#define LKQ_LANES_Q8_0_SIGN(w, x, off) LKQ_LANES_SIGN(w, x)
#define LKQ_LANES_Q4_0_SIGN(w, x, off) LKQ_LANES_SIGN(w, x)
#define LKQ_LANES_Q8_0_VNNI(w, x, off) _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w))
#define LKQ_LANES_Q4_0_VNNI(w, x, off) _mm256_dpbusd_epi32(_mm256_loadu_si256((const __m256i *)(off)), w, x)

/// A 256-bit body's frame: acc[j] (2 × 8 floats per activation row j < R) loaded into a[j],
/// activation rows x[j] (`xstride` bytes apart) found, the loop (the variadic argument) run,
/// a[j] stored back.
#define LKQ_FRAME256(NAME, TARGET, R, ...)                                                          \
TARGET static void NAME(const uint8_t *w, size_t wstride, const uint8_t *xq, size_t xstride,       \
                        size_t k, size_t b0, size_t b1, float *acc, size_t accstride) {             \
    (void)wstride; (void)accstride;                                                                \
    lkq_act x[R];                                                                                  \
    __m256 a[R][2];                                                                                \
    for (int j = 0; j < R; j++) {                                                                  \
        x[j] = act_at(xq + j * xstride, k);                                                        \
        a[j][0] = _mm256_loadu_ps(acc + j * 16);                                                   \
        a[j][1] = _mm256_loadu_ps(acc + j * 16 + 8);                                               \
    }                                                                                              \
    __VA_ARGS__                                                                                    \
    for (int j = 0; j < R; j++) {                                                                  \
        _mm256_storeu_ps(acc + j * 16, a[j][0]);                                                   \
        _mm256_storeu_ps(acc + j * 16 + 8, a[j][1]);                                               \
    }                                                                                              \
}

/// acc[j] += blocks [b0, b1) of weight row w against activation row j, block b into
/// accumulator b % 2.
#define LKQ_BODY256(NAME, TARGET, T, MODE, BB, R)                                                   \
LKQ_FRAME256(NAME, TARGET, R,                                                                      \
    for (size_t b = b0; b < b1; b += 2) {                                                          \
        LKQ_STEP256(T, MODE, BB, R, b, 0)                                                          \
        if (b + 1 < b1) { LKQ_STEP256(T, MODE, BB, R, b + 1, 1) }                                  \
    })

/// Block `bi` into accumulator h of every activation row.
#define LKQ_STEP256(T, MODE, BB, R, bi, h)                                                          \
    {                                                                                              \
        const uint8_t *p = w + (bi) * BB;                                                          \
        _mm_prefetch((const char *)p + LKQ_AHEAD, _MM_HINT_T0);                                    \
        __m256i q = LKQ_PREP_##T##_##MODE(p);                                                      \
        uint16_t hw;                                                                               \
        memcpy(&hw, p, 2);                                                                         \
        __m256 ws = _mm256_cvtph_ps(_mm_set1_epi16((short)hw));                                    \
        for (int j = 0; j < R; j++) {                                                              \
            __m256i xv = _mm256_loadu_si256((const __m256i *)(x[j].codes + (bi) * 32));            \
            __m256i l = LKQ_LANES_##T##_##MODE(q, xv, x[j].offset8 + (bi) * 8);                    \
            __m256 s = _mm256_mul_ps(ws, _mm256_loadu_ps(x[j].scale8 + (bi) * 8));                 \
            a[j][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(l), s, a[j][h]);                          \
        }                                                                                          \
    }

LKQ_BODY256(q8_0_avx2_1, LKQ_AVX2, Q8_0, SIGN, LK_Q8_0_BLOCK_BYTES, 1)
LKQ_BODY256(q8_0_avx2_2, LKQ_AVX2, Q8_0, SIGN, LK_Q8_0_BLOCK_BYTES, 2)
LKQ_BODY256(q8_0_vl_4, LKQ_VL, Q8_0, SIGN, LK_Q8_0_BLOCK_BYTES, 4)
LKQ_BODY256(q4_0_avx2_1, LKQ_AVX2, Q4_0, SIGN, LK_Q4_0_BLOCK_BYTES, 1)
LKQ_BODY256(q4_0_avx2_2, LKQ_AVX2, Q4_0, SIGN, LK_Q4_0_BLOCK_BYTES, 2)
LKQ_BODY256(q4_0_vl_4, LKQ_VL, Q4_0, SIGN, LK_Q4_0_BLOCK_BYTES, 4)
LKQ_BODY256(q8_0_vnni256_1, LKQ_VNNI256, Q8_0, VNNI, LK_Q8_0_BLOCK_BYTES, 1)
LKQ_BODY256(q8_0_vnni256_2, LKQ_VNNI256, Q8_0, VNNI, LK_Q8_0_BLOCK_BYTES, 2)
LKQ_BODY256(q8_0_vnni256_4, LKQ_VNNI256, Q8_0, VNNI, LK_Q8_0_BLOCK_BYTES, 4)
LKQ_BODY256(q4_0_vnni256_1, LKQ_VNNI256, Q4_0, VNNI, LK_Q4_0_BLOCK_BYTES, 1)
LKQ_BODY256(q4_0_vnni256_2, LKQ_VNNI256, Q4_0, VNNI, LK_Q4_0_BLOCK_BYTES, 2)
LKQ_BODY256(q4_0_vnni256_4, LKQ_VNNI256, Q4_0, VNNI, LK_Q4_0_BLOCK_BYTES, 4)

// MARK: - 512-bit bodies (AVX-512 BW + VNNI), two blocks per vector

/// `lk_quantize_activation` 32 values at a time, with the same float operations: the codes
/// are roundf(x * id), rounded half away from zero.
LKQ_512 static void quantize_activation_512(const float *x, int8_t *codes, float *scale8, int32_t *offset8, size_t nb) {
    const __m512 half = _mm512_set1_ps(0.5f);
    for (size_t b = 0; b < nb; b++, x += 32) {
        __m512 v[2] = {_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16)};
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v[0]), _mm512_abs_ps(v[1])));
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        __m128i q[2];
        for (int i = 0; i < 2; i++) {
            __m512 y = _mm512_mul_ps(v[i], _mm512_set1_ps(id));
            __m512 t = _mm512_roundscale_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            // |y - trunc(y)| is exact; at 0.5 or more, one step away from zero.
            __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(y, t)), half, _CMP_GE_OQ);
            __m512 step = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(y, _mm512_set1_ps(-0.0f)));
            t = _mm512_mask_add_ps(t, up, t, step);
            q[i] = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(t));
        }
        __m256i c = _mm256_set_m128i(q[1], q[0]);
        _mm256_storeu_si256((__m256i *)(codes + b * 32), c);
        float dh = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
        _mm256_storeu_ps(scale8 + b * 8, _mm256_set1_ps(dh));
        __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), c);
        _mm256_storeu_si256((__m256i *)(offset8 + b * 8), _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 3)));
    }
}

/// A pair of weight blocks (or one, `both` false) as unsigned or signed bytes in element
/// order, with their scales as [dA × 8, dB × 8]. The loads are masked to the pair's bytes, so
/// the last block of a tensor is never read past.
typedef struct { __m512i q; __m512 d; } lkq_pair;

LKQ_512 static inline lkq_pair pair_q4_0(const uint8_t *p, int both) {
    // Words of the pair: dA = 0, A's nibbles 1..8, dB = 9, B's nibbles 10..17.
    __m512i raw = _mm512_maskz_loadu_epi8(both ? 0xFFFFFFFFFull : 0x3FFFFull, p);
    const __m512i spread = _mm512_set_epi16(17, 16, 15, 14, 13, 12, 11, 10, 17, 16, 15, 14, 13, 12, 11, 10,
                                            8, 7, 6, 5, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1);
    const __m512i scales = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                            9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0);
    // [A, A, B, B] in 128-bit lanes; the second copy of each shifted to its high nibbles.
    __m512i q = _mm512_permutexvar_epi16(spread, raw);
    q = _mm512_srlv_epi64(q, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0));
    q = _mm512_and_si512(q, _mm512_set1_epi8(0x0F));
    __m512 d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(scales, raw)));
    return (lkq_pair){q, d};
}

LKQ_512 static inline lkq_pair pair_q8_0(const uint8_t *p, int both) {
    // Words of the pair: dA = 0, A's codes 1..16, dB = 17, B's codes 18..33.
    __m512i lo = _mm512_maskz_loadu_epi8(both ? ~0ull : 0x3FFFFFFFFull, p);
    __m512i hi = _mm512_maskz_loadu_epi8(both ? 0xFull : 0, p + 64);
    __m512i codes = _mm512_set_epi16(33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18,
                                     16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    const __m512i scales = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                            17, 17, 17, 17, 17, 17, 17, 17, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512i q = _mm512_permutex2var_epi16(lo, codes, hi);
    __m512 d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(scales, lo)));
    return (lkq_pair){q, d};
}

/// A 512-bit body's frame: acc (2 × 16 floats per (weight row r < RW, activation row j < RA);
/// weight rows `accstride` floats apart, activation rows 32) loaded into a[r][j], activation
/// rows x[j] (`xstride` bytes apart) found, the loop (the variadic argument) run, a stored back.
#define LKQ_FRAME512(NAME, RW, RA, ...)                                                             \
LKQ_512 static void NAME(const uint8_t *w, size_t wstride, const uint8_t *xq, size_t xstride,      \
                         size_t k, size_t b0, size_t b1, float *acc, size_t accstride) {            \
    lkq_act x[RA];                                                                                 \
    __m512 a[RW][RA][2];                                                                           \
    for (int j = 0; j < RA; j++) x[j] = act_at(xq + j * xstride, k);                               \
    for (int r = 0; r < RW; r++)                                                                   \
        for (int j = 0; j < RA; j++)                                                               \
            for (int h = 0; h < 2; h++) a[r][j][h] = _mm512_loadu_ps(acc + r * accstride + j * 32 + h * 16); \
    __VA_ARGS__                                                                                    \
    for (int r = 0; r < RW; r++)                                                                   \
        for (int j = 0; j < RA; j++)                                                               \
            for (int h = 0; h < 2; h++) _mm512_storeu_ps(acc + r * accstride + j * 32 + h * 16, a[r][j][h]); \
}

/// acc[r][j] += blocks [b0, b1) (b0 even) of weight row r against activation row j, pairs of
/// blocks into accumulators 0 and 1 in turn.
#define LKQ_BODY512(NAME, T, BB, RW, RA)                                                            \
LKQ_FRAME512(NAME, RW, RA, {                                                                       \
    size_t b = b0;                                                                                 \
    for (; b + 4 <= b1; b += 4) {                                                                  \
        LKQ_STEP512(T, BB, RW, RA, b, 1, 0)                                                        \
        LKQ_STEP512(T, BB, RW, RA, b + 2, 1, 1)                                                    \
    }                                                                                              \
    if (b < b1) { LKQ_STEP512(T, BB, RW, RA, b, b + 1 < b1, 0) }                                   \
    if (b + 2 < b1) { LKQ_STEP512(T, BB, RW, RA, b + 2, b + 3 < b1, 1) }                           \
    })

/// The pair of blocks from `bi` (only block bi when `two` is false) into accumulator h.
#define LKQ_STEP512(T, BB, RW, RA, bi, two, h)                                                      \
    {                                                                                              \
        int both = (two);                                                                          \
        __mmask16 lanes = both ? 0xFFFF : 0x00FF;                                                  \
        __mmask64 bytes = both ? ~0ull : 0xFFFFFFFFull;                                            \
        lkq_pair wp[RW];                                                                           \
        for (int r = 0; r < RW; r++) wp[r] = pair_##T(w + r * wstride + (bi) * BB, both);          \
        for (int j = 0; j < RA; j++) {                                                             \
            __m512i xv = _mm512_maskz_loadu_epi8(bytes, x[j].codes + (bi) * 32);                   \
            __m512 xs = _mm512_maskz_loadu_ps(lanes, x[j].scale8 + (bi) * 8);                      \
            LKQ_X512_##T(bi)                                                                       \
            for (int r = 0; r < RW; r++) {                                                         \
                __m512i l = LKQ_LANES512_##T(wp[r].q);                                             \
                __m512 s = _mm512_mul_ps(wp[r].d, xs);                                             \
                a[r][j][h] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(l), s, a[r][j][h]);                \
            }                                                                                      \
        }                                                                                          \
    }

// Q4_0: unsigned nibbles times signed codes, started from the activation's offsets.
#define LKQ_X512_q4_0(bi) __m512i off = _mm512_maskz_loadu_epi32(lanes, x[j].offset8 + (bi) * 8);
#define LKQ_LANES512_q4_0(q) _mm512_dpbusd_epi32(off, q, xv)
// Q8_0: |w| times x with w's sign.
#define LKQ_X512_q8_0(bi)
#define LKQ_LANES512_q8_0(q) _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(q), \
    _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(q), _mm512_setzero_si512(), xv))

LKQ_BODY512(q8_0_512_1, q8_0, LK_Q8_0_BLOCK_BYTES, 1, 1)
LKQ_BODY512(q8_0_512_2, q8_0, LK_Q8_0_BLOCK_BYTES, 1, 2)
LKQ_BODY512(q8_0_512_4, q8_0, LK_Q8_0_BLOCK_BYTES, 1, 4)
LKQ_BODY512(q8_0_512_2x4, q8_0, LK_Q8_0_BLOCK_BYTES, 2, 4)
LKQ_BODY512(q4_0_512_1, q4_0, LK_Q4_0_BLOCK_BYTES, 1, 1)
LKQ_BODY512(q4_0_512_2, q4_0, LK_Q4_0_BLOCK_BYTES, 1, 2)
LKQ_BODY512(q4_0_512_4, q4_0, LK_Q4_0_BLOCK_BYTES, 1, 4)
LKQ_BODY512(q4_0_512_2x4, q4_0, LK_Q4_0_BLOCK_BYTES, 2, 4)
#endif

#include "quantized_matvec_k.h"

// MARK: - dispatch

typedef void (*lkq_body_fn)(const uint8_t *, size_t, const uint8_t *, size_t, size_t, size_t, size_t, float *, size_t);

/// The bodies for one weight type at this CPU's level: `acc1/2/4` take 1, 2 or 4 activation
/// rows (NULL when the registers cannot hold them), `acc2x4` two weight rows and four
/// activation rows; `lanes` floats per accumulator. No bodies (lanes 0): portable C.
typedef struct {
    lkq_body_fn acc1, acc2, acc4, acc2x4;
    size_t lanes;
} lkq_bodies;

static int vnni_state = -1;

static int has_vnni(void) {
    if (vnni_state < 0) {
#ifdef LKQ_X86
        __builtin_cpu_init();
        vnni_state = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
#else
        vnni_state = 0;
#endif
    }
    return vnni_state;
}

static lkq_bodies bodies(int dtype) {
    int level = lk_simd_level();
#ifdef LKQ_X86
    int q8 = dtype == LK_Q8_0;
    if (dtype == LK_Q4_K || dtype == LK_Q6_K) {
        // K-quants: 512-bit VNNI bodies, AVX2 ones below that, else portable C.
        if (level >= 3 && has_vnni())
            return dtype == LK_Q4_K ? (lkq_bodies){q4_k_512_1, q4_k_512_2, q4_k_512_4, q4_k_512_2x4, 16}
                                    : (lkq_bodies){q6_k_512_1, q6_k_512_2, q6_k_512_4, q6_k_512_2x4, 16};
        if (level < 1) return (lkq_bodies){NULL, NULL, NULL, NULL, 0};
        return dtype == LK_Q4_K ? (lkq_bodies){q4_k_avx2_1, q4_k_avx2_2, NULL, NULL, 8}
                                : (lkq_bodies){q6_k_avx2_1, q6_k_avx2_2, NULL, NULL, 8};
    }
    if (level >= 3 && has_vnni())
        return q8 ? (lkq_bodies){q8_0_512_1, q8_0_512_2, q8_0_512_4, q8_0_512_2x4, 16}
                  : (lkq_bodies){q4_0_512_1, q4_0_512_2, q4_0_512_4, q4_0_512_2x4, 16};
    if (level >= 2 && has_vnni())
        return q8 ? (lkq_bodies){q8_0_vnni256_1, q8_0_vnni256_2, q8_0_vnni256_4, NULL, 8}
                  : (lkq_bodies){q4_0_vnni256_1, q4_0_vnni256_2, q4_0_vnni256_4, NULL, 8};
    if (level >= 1)
        return q8 ? (lkq_bodies){q8_0_avx2_1, q8_0_avx2_2, level >= 2 ? q8_0_vl_4 : NULL, NULL, 8}
                  : (lkq_bodies){q4_0_avx2_1, q4_0_avx2_2, level >= 2 ? q4_0_vl_4 : NULL, NULL, 8};
#endif
    (void)dtype; (void)level;
    return (lkq_bodies){NULL, NULL, NULL, NULL, 0};
}

static void matvec_rows_x8(int dtype, const void *w, const void *xq, float *y, size_t row_begin, size_t row_end,
                           size_t k, size_t m, size_t ldy);

void lk_matvec_q(int dtype, const void *w, const void *xq, float *y,
                 size_t row_begin, size_t row_end, size_t k) {
    if (dtype == LK_Q4_0X8 || dtype == LK_Q4_KX8 || dtype == LK_Q8_0X8) { matvec_rows_x8(dtype, w, xq, y, row_begin, row_end, k, 1, 0); return; }
    size_t nb = k / 32, row_bytes = row_bytes_of(dtype, k);
    lkq_bodies b = bodies(dtype);
    for (size_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + r * row_bytes;
        if (b.lanes == 0) {
            y[r] = dot_c(dtype, row, act_at(xq, k), nb);
        } else {
            float acc[32] = {0};
            b.acc1(row, 0, xq, 0, k, 0, nb, acc, 0);
            y[r] = finish(acc, b.lanes);
        }
    }
}

/// Weight rows per group and blocks per tile of the several-row kernel: a tile of up to
/// LKQ_MAX_M activation rows (16 blocks each, 1.6 KB) stays in L1 while the group's weight
/// rows stream past it.
#define LKQ_GROUP 8
#define LKQ_TILE 16
#define LKQ_MAX_M 8

#include "quantized_matvec_x8.h"
#include "quantized_gemm_x8.h"

void lk_matvec_rows_q(int dtype, const void *w, const void *xq, float *y,
                      size_t row_begin, size_t row_end, size_t k, size_t m, size_t ldy) {
    if (dtype == LK_Q4_0X8 || dtype == LK_Q4_KX8 || dtype == LK_Q8_0X8) { matvec_rows_x8(dtype, w, xq, y, row_begin, row_end, k, m, ldy); return; }
    size_t nb = k / 32, row_bytes = row_bytes_of(dtype, k), x_bytes = lk_qact_bytes(k);
    lkq_bodies b = bodies(dtype);
    if (b.lanes == 0) {
        for (size_t r = row_begin; r < row_end; r++)
            for (size_t j = 0; j < m; j++)
                y[j * ldy + r] = dot_c(dtype, (const uint8_t *)w + r * row_bytes,
                                       act_at((const uint8_t *)xq + j * x_bytes, k), nb);
        return;
    }
    // (weight row r, activation row j) keeps its two accumulators at acc + (r * MAX_M + j) * 2 * lanes.
    float acc[LKQ_GROUP * LKQ_MAX_M * 32];
    size_t per = 2 * b.lanes, row_stride = LKQ_MAX_M * per;
    for (size_t r0 = row_begin; r0 < row_end; r0 += LKQ_GROUP) {
        size_t rows = row_end - r0 < LKQ_GROUP ? row_end - r0 : LKQ_GROUP;
        for (size_t j0 = 0; j0 < m; j0 += LKQ_MAX_M) {
            size_t mm = m - j0 < LKQ_MAX_M ? m - j0 : LKQ_MAX_M;
            const uint8_t *xb = (const uint8_t *)xq + j0 * x_bytes;
            memset(acc, 0, sizeof(acc));
            for (size_t t0 = 0; t0 < nb; t0 += LKQ_TILE) {
                size_t t1 = t0 + LKQ_TILE < nb ? t0 + LKQ_TILE : nb;
                for (size_t r = 0; r < rows;) {
                    const uint8_t *wr = (const uint8_t *)w + (r0 + r) * row_bytes;
                    float *ar = acc + r * row_stride;
                    size_t j = 0, pair = b.acc2x4 && r + 1 < rows && mm >= 4 ? 2 : 1;
                    if (pair == 2)
                        for (; j + 4 <= mm; j += 4) b.acc2x4(wr, row_bytes, xb + j * x_bytes, x_bytes, k, t0, t1, ar + j * per, row_stride);
                    for (size_t p = 0; p < pair; p++) {
                        const uint8_t *wp = wr + p * row_bytes;
                        float *ap = ar + p * row_stride;
                        size_t jj = j;
                        if (b.acc4) for (; jj + 4 <= mm; jj += 4) b.acc4(wp, 0, xb + jj * x_bytes, x_bytes, k, t0, t1, ap + jj * per, 0);
                        for (; jj + 2 <= mm; jj += 2) b.acc2(wp, 0, xb + jj * x_bytes, x_bytes, k, t0, t1, ap + jj * per, 0);
                        for (; jj < mm; jj++) b.acc1(wp, 0, xb + jj * x_bytes, 0, k, t0, t1, ap + jj * per, 0);
                    }
                    r += pair;
                }
            }
            for (size_t r = 0; r < rows; r++)
                for (size_t j = 0; j < mm; j++)
                    y[(j0 + j) * ldy + r0 + r] = finish(acc + r * row_stride + j * per, b.lanes);
        }
    }
}
