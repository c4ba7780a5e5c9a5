#include "CKernels.h"
#include <string.h>
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LK_X86 1
#endif

// MARK: - portable scalar conversions

static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { // subnormal: renormalise
            int e = -1;
            do { e++; man <<= 1; } while ((man & 0x400) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000 | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffff;
    if (absx >= 0x7f800000) { // inf or nan
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0));
    }
    if (absx >= 0x477ff000) return (uint16_t)(sign | 0x7c00); // rounds to inf
    if (absx < 0x38800000) { // subnormal half or zero
        // value = absx as float; half subnormal unit is 2^-24
        float a; memcpy(&a, &absx, 4);
        float scaled = a * 16777216.0f; // 2^24
        // round to nearest even
        uint32_t m = (uint32_t)nearbyintf(scaled);
        return (uint16_t)(sign | m);
    }
    uint32_t exp = (absx >> 23) - 127 + 15;
    uint32_t man = absx & 0x7fffff;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h += 1;
    return (uint16_t)(sign | h);
}

static inline float bf16_to_float(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t float_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40); // quiet nan
    uint32_t lsb = (x >> 16) & 1;
    x += 0x7fff + lsb;
    return (uint16_t)(x >> 16);
}

// MARK: - portable bodies

static void f16_to_f32_c(const uint16_t *s, float *d, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = half_to_float(s[i]);
}

static float dot_f32_c(const float *a, const float *b, size_t n) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0;
    for (; i < n; i++) s += a[i] * b[i];
    for (int j = 0; j < 8; j++) s += acc[j];
    return s;
}

static float dot_f16_c(const uint16_t *w, const float *x, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n; i++) s += half_to_float(w[i]) * x[i];
    return s;
}

static float dot_bf16_c(const uint16_t *w, const float *x, size_t n) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += bf16_to_float(w[i + j]) * x[i + j];
    float s = 0;
    for (; i < n; i++) s += bf16_to_float(w[i]) * x[i];
    for (int j = 0; j < 8; j++) s += acc[j];
    return s;
}

// MARK: - AVX2 + FMA + F16C bodies

#ifdef LK_X86
#define LK_TARGET __attribute__((target("avx2,fma,f16c")))

LK_TARGET static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    __m128 sums = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, sums);
    sums = _mm_add_ss(sums, sh);
    return _mm_cvtss_f32(sums);
}

LK_TARGET static void f16_to_f32_avx(const uint16_t *s, float *d, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    for (; i < n; i++) d[i] = half_to_float(s[i]);
}

LK_TARGET static void bf16_to_f32_avx(const uint16_t *s, float *d, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i)));
        _mm256_storeu_ps(d + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    }
    for (; i < n; i++) d[i] = bf16_to_float(s[i]);
}

LK_TARGET static inline __m256 load_bf16x8(const uint16_t *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

LK_TARGET static void axpy_avx(float a, const float *x, float *y, size_t n) {
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

LK_TARGET static void axpy_f16_avx(float a, const uint16_t *x, float *y, size_t n) {
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, xv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * half_to_float(x[i]);
}

// MARK: - dot products of weight rows with activation rows (AVX2 / AVX-512)
//
// One arithmetic for every decode path, so that a row's result never depends on how many
// rows run beside it. With AVX2 a dot product keeps four 8-lane accumulators, each fed by one
// FMA per 32 elements in order (`accumulate`); the elements past the last multiple of 32 go
// into the first accumulator 8 at a time, the four are summed pairwise, reduced across lanes
// and the last products added one by one (`finish`). With AVX-512 it keeps one 16-lane
// accumulator (see the 512-bit bodies below). The single-row mat-vec, the several-row kernel
// and `lk_dot_f32` all run the same pair of functions for the CPU; the several-row kernel only
// changes which loop is outermost (weight rows in groups, k in tiles) so that each weight
// element is loaded and widened once for several activation rows and the activation tile
// stays in L1. Accumulators wait in memory between tiles; storing and reloading them does not
// change a bit.

LK_TARGET static inline __m256 load_f32x8_at(const void *w, size_t i) { return _mm256_loadu_ps((const float *)w + i); }
LK_TARGET static inline __m256 load_f16x8_at(const void *w, size_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
}
LK_TARGET static inline __m256 load_bf16x8_at(const void *w, size_t i) { return load_bf16x8((const uint16_t *)w + i); }

#define LK_F32_AT(w, i) (((const float *)(w))[i])
#define LK_F16_AT(w, i) half_to_float(((const uint16_t *)(w))[i])
#define LK_BF16_AT(w, i) bf16_to_float(((const uint16_t *)(w))[i])

/// acc[j][0..4L) += the products of w[i0..i1) with activation row j (x + j * ldx), for R rows;
/// i0 and i1 are multiples of 4L. (`wbytes` and `accstride` are for the two-weight-row bodies.)
#define LK_ACCUMULATE(NAME, TARGET, VEC, L, LOADU, STOREU, FMA, LOAD, R)                            \
TARGET static void NAME(const void *wv, size_t wbytes, const float *x, size_t ldx, size_t i0,     \
                        size_t i1, float *acc, size_t accstride) {                                 \
    (void)wbytes; (void)accstride;                                                                 \
    VEC a[R][4];                                                                                   \
    for (int j = 0; j < R; j++)                                                                    \
        for (int q = 0; q < 4; q++) a[j][q] = LOADU(acc + j * 4 * L + q * L);                      \
    for (size_t i = i0; i < i1; i += 4 * L) {                                                      \
        VEC w0 = LOAD(wv, i), w1 = LOAD(wv, i + L), w2 = LOAD(wv, i + 2 * L), w3 = LOAD(wv, i + 3 * L); \
        for (int j = 0; j < R; j++) {                                                              \
            const float *xj = x + j * ldx + i;                                                     \
            a[j][0] = FMA(w0, LOADU(xj), a[j][0]);                                                 \
            a[j][1] = FMA(w1, LOADU(xj + L), a[j][1]);                                             \
            a[j][2] = FMA(w2, LOADU(xj + 2 * L), a[j][2]);                                         \
            a[j][3] = FMA(w3, LOADU(xj + 3 * L), a[j][3]);                                         \
        }                                                                                          \
    }                                                                                              \
    for (int j = 0; j < R; j++)                                                                    \
        for (int q = 0; q < 4; q++) STOREU(acc + j * 4 * L + q * L, a[j][q]);                      \
}

/// The dot product's value from its accumulators and the elements from k4l (k rounded down
/// to a multiple of 4L) on.
#define LK_FINISH(NAME, TARGET, VEC, L, LOADU, ADD, FMA, HSUM, LOAD, SCALAR)                        \
TARGET static float NAME(const void *wv, const float *x, size_t k4l, size_t k, const float *acc) { \
    VEC a0 = LOADU(acc), a1 = LOADU(acc + L), a2 = LOADU(acc + 2 * L), a3 = LOADU(acc + 3 * L);    \
    size_t i = k4l;                                                                                \
    for (; i + L <= k; i += L) a0 = FMA(LOAD(wv, i), LOADU(x + i), a0);                            \
    float s = HSUM(ADD(ADD(a0, a1), ADD(a2, a3)));                                                 \
    for (; i < k; i++) s += SCALAR(wv, i) * x[i];                                                  \
    return s;                                                                                      \
}

// Four AVX2 rows need 16 accumulators + 4 weight vectors: AVX-512VL's 32 vector registers
// hold them (the instructions stay 256-bit, the arithmetic the AVX2 bodies').
#define LK_TARGET_VL __attribute__((target("avx2,fma,f16c,avx512f,avx512vl")))
#define LK_TARGET_512 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq")))

#define LK_AVX2_BODIES(T, LOAD, SCALAR)                                                             \
LK_ACCUMULATE(acc1_##T##_256, LK_TARGET, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, LOAD, 1) \
LK_ACCUMULATE(acc2_##T##_256, LK_TARGET, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, LOAD, 2) \
LK_ACCUMULATE(acc4_##T##_256, LK_TARGET_VL, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, LOAD, 4) \
LK_FINISH(finish_##T##_256, LK_TARGET, __m256, 8, _mm256_loadu_ps, _mm256_add_ps, _mm256_fmadd_ps, hsum256, LOAD, SCALAR)

LK_AVX2_BODIES(f32, load_f32x8_at, LK_F32_AT)
LK_AVX2_BODIES(f16, load_f16x8_at, LK_F16_AT)
LK_AVX2_BODIES(bf16, load_bf16x8_at, LK_BF16_AT)

LK_TARGET_512 static inline __m512 load_f32x16_at(const void *w, size_t i) { return _mm512_loadu_ps((const float *)w + i); }
LK_TARGET_512 static inline __m512 load_f16x16_at(const void *w, size_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i)));
}
LK_TARGET_512 static inline __m512 load_bf16x16_at(const void *w, size_t i) {
    __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}
/// Lanes summed as halves: 16 → 8 (low + high), then `hsum256`'s order.
LK_TARGET_512 static inline float hsum512(__m512 v) {
    __m256 lo = _mm512_castps512_ps256(v), hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return hsum256(_mm256_add_ps(lo, hi));
}

// AVX-512: one 16-lane accumulator per (weight row, activation row), fed every 16 elements
// in order; the value is its lanes summed as `hsum512` does, then the last k mod 16 products
// one by one. Bodies take one or two weight rows (wv, wv + wbytes; accumulators at acc and
// acc + accstride) and RA activation rows, so that one activation load feeds two FMAs and one
// widened weight vector feeds up to eight.
#define LK_ACC512(NAME, LOAD, RW, RA)                                                              \
LK_TARGET_512 static void NAME(const void *wv, size_t wbytes, const float *x, size_t ldx, size_t i0, \
                               size_t i1, float *acc, size_t accstride) {                          \
    __m512 a[RW][RA];                                                                              \
    for (int r = 0; r < RW; r++)                                                                   \
        for (int j = 0; j < RA; j++) a[r][j] = _mm512_loadu_ps(acc + r * accstride + j * 16);      \
    for (size_t i = i0; i < i1; i += 16) {                                                         \
        __m512 w[RW];                                                                              \
        for (int r = 0; r < RW; r++) w[r] = LOAD((const char *)wv + r * wbytes, i);                \
        for (int j = 0; j < RA; j++) {                                                             \
            __m512 xj = _mm512_loadu_ps(x + j * ldx + i);                                          \
            for (int r = 0; r < RW; r++) a[r][j] = _mm512_fmadd_ps(w[r], xj, a[r][j]);             \
        }                                                                                          \
    }                                                                                              \
    for (int r = 0; r < RW; r++)                                                                   \
        for (int j = 0; j < RA; j++) _mm512_storeu_ps(acc + r * accstride + j * 16, a[r][j]);      \
}

#define LK_FINISH512(NAME, SCALAR)                                                                 \
LK_TARGET_512 static float NAME(const void *wv, const float *x, size_t kc, size_t k, const float *acc) { \
    float s = hsum512(_mm512_loadu_ps(acc));                                                       \
    for (size_t i = kc; i < k; i++) s += SCALAR(wv, i) * x[i];                                     \
    return s;                                                                                      \
}

#define LK_AVX512_BODIES(T, LOAD, SCALAR)                                                          \
LK_ACC512(acc1_##T##_512, LOAD, 1, 1)                                                              \
LK_ACC512(acc2_##T##_512, LOAD, 1, 2)                                                              \
LK_ACC512(acc4_##T##_512, LOAD, 1, 4)                                                              \
LK_ACC512(acc8_##T##_512, LOAD, 1, 8)                                                              \
LK_ACC512(acc2x4_##T##_512, LOAD, 2, 4)                                                            \
LK_ACC512(acc2x8_##T##_512, LOAD, 2, 8)                                                            \
LK_ACC512(acc4x1_##T##_512, LOAD, 4, 1)                                                            \
LK_FINISH512(finish_##T##_512, SCALAR)

LK_AVX512_BODIES(f32, load_f32x16_at, LK_F32_AT)
LK_AVX512_BODIES(f16, load_f16x16_at, LK_F16_AT)
LK_AVX512_BODIES(bf16, load_bf16x16_at, LK_BF16_AT)

typedef void (*lk_accumulate_fn)(const void *, size_t, const float *, size_t, size_t, size_t, float *, size_t);
typedef float (*lk_finish_fn)(const void *, const float *, size_t, size_t, const float *);

/// The bodies for one weight type on this CPU: `chunk` elements per accumulator step (and
/// floats of accumulators per dot product); a NULL body is one this CPU's registers cannot
/// hold, `acc2x4`/`acc2x8` take two weight rows and `acc4x1` four weight rows of one activation
/// row (four independent FMA chains where `acc1` has one, each row's sums in the same order).
typedef struct {
    lk_accumulate_fn acc1, acc2, acc4, acc8, acc2x4, acc2x8, acc4x1;
    lk_finish_fn finish;
    size_t chunk;
} lk_dot_bodies;

static int lk_has_avx512(void);
int lk_has_avx512vl(void);

static lk_dot_bodies dot_bodies(int dtype) {
#define LK_512(T) (lk_dot_bodies){acc1_##T##_512, acc2_##T##_512, acc4_##T##_512, acc8_##T##_512, \
                                  acc2x4_##T##_512, acc2x8_##T##_512, acc4x1_##T##_512, \
                                  finish_##T##_512, 16}
#define LK_256(T, VL) (lk_dot_bodies){acc1_##T##_256, acc2_##T##_256, (VL) ? acc4_##T##_256 : NULL, NULL, \
                                      NULL, NULL, NULL, finish_##T##_256, 32}
    if (lk_has_avx512()) {
        switch (dtype) {
        case LK_F32: return LK_512(f32);
        case LK_F16: return LK_512(f16);
        default: return LK_512(bf16);
        }
    }
    int vl = lk_has_avx512vl();
    switch (dtype) {
    case LK_F32: return LK_256(f32, vl);
    case LK_F16: return LK_256(f16, vl);
    default: return LK_256(bf16, vl);
    }
#undef LK_512
#undef LK_256
}

static float dot_avx(lk_dot_bodies b, const void *w, const float *x, size_t k) {
    float acc[64] = {0};
    size_t kc = k - k % b.chunk;
    b.acc1(w, 0, x, 0, 0, kc, acc, 0);
    return b.finish(w, x, kc, k, acc);
}

static float dot_f32_avx(const float *a, const float *b, size_t n) {
    return dot_avx(dot_bodies(LK_F32), a, b, n);
}
#endif

// MARK: - dispatch

static int lk_avx2_state = -1, lk_avx512vl_state = -1, lk_avx512_state = -1, lk_simd_limit = 3;

int lk_has_avx2(void) {
    if (lk_simd_limit < 1) return 0;
    if (lk_avx2_state < 0) {
#ifdef LK_X86
        __builtin_cpu_init();
        lk_avx2_state = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
            && __builtin_cpu_supports("f16c");
#else
        lk_avx2_state = 0;
#endif
    }
    return lk_avx2_state;
}

int lk_has_avx512vl(void) {
    if (lk_simd_limit < 2 || !lk_has_avx2()) return 0;
    if (lk_avx512vl_state < 0) {
#ifdef LK_X86
        lk_avx512vl_state = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#else
        lk_avx512vl_state = 0;
#endif
    }
    return lk_avx512vl_state;
}

/// 512-bit bodies: AVX-512 F, VL, BW and DQ.
static int lk_has_avx512(void) {
    if (lk_simd_limit < 3 || !lk_has_avx512vl()) return 0;
    if (lk_avx512_state < 0) {
#ifdef LK_X86
        lk_avx512_state = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#else
        lk_avx512_state = 0;
#endif
    }
    return lk_avx512_state;
}

void lk_limit_simd(int level) { lk_simd_limit = level; }

int lk_simd_level(void) {
    if (lk_has_avx512()) return 3;
    if (lk_has_avx512vl()) return 2;
    return lk_has_avx2();
}

void lk_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
#ifdef LK_X86
    if (lk_has_avx2()) { f16_to_f32_avx(src, dst, n); return; }
#endif
    f16_to_f32_c(src, dst, n);
}

void lk_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
#ifdef LK_X86
    if (lk_has_avx2()) { bf16_to_f32_avx(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_float(src[i]);
}

#ifdef LK_X86
/// F16C's rounding (to nearest even, overflow to infinity) is `float_to_half`'s for every
/// number; eight floats holding a NaN go the scalar way, which keeps no payload.
LK_TARGET static void f32_to_f16_avx(const float *s, uint16_t *d, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(s + i);
        if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))) {
            for (size_t j = i; j < i + 8; j++) d[j] = float_to_half(s[j]);
        } else {
            _mm_storeu_si128((__m128i *)(d + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
        }
    }
    for (; i < n; i++) d[i] = float_to_half(s[i]);
}
#endif

void lk_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
#ifdef LK_X86
    if (lk_has_avx2()) { f32_to_f16_avx(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = float_to_half(src[i]);
}

void lk_f32_to_bf16(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = float_to_bf16(src[i]);
}

float lk_dot_f32(const float *a, const float *b, size_t n) {
#ifdef LK_X86
    if (lk_has_avx2()) return dot_f32_avx(a, b, n);
#endif
    return dot_f32_c(a, b, n);
}

float lk_dot_f16(const uint16_t *a, const float *b, size_t n) {
#ifdef LK_X86
    if (lk_has_avx2()) return dot_avx(dot_bodies(LK_F16), a, b, n);
#endif
    return dot_f16_c(a, b, n);
}

void lk_axpy_f16(float a, const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
#ifdef LK_X86
    if (lk_has_avx2()) { axpy_f16_avx(a, x, y, n); return; }
#endif
    for (; i < n; i++) y[i] += a * half_to_float(x[i]);
}

void lk_axpy_f32(float a, const float *x, float *y, size_t n) {
#ifdef LK_X86
    if (lk_has_avx2()) { axpy_avx(a, x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

void lk_matvec(int dtype, const void *w, const float *x, float *y,
               size_t row_begin, size_t row_end, size_t k) {
    size_t esize = dtype == LK_F32 ? 4 : 2;
#ifdef LK_X86
    if (lk_has_avx2()) {
        lk_dot_bodies b = dot_bodies(dtype);
        size_t r = row_begin, rb = k * esize;
        if (b.acc4x1) {
            // Four rows at a time: a one-row body waits on its single accumulator's FMA latency.
            size_t kc = k - k % b.chunk;
            for (; r + 4 <= row_end; r += 4) {
                const char *w4 = (const char *)w + r * rb;
                float acc[4 * 16] = {0};
                b.acc4x1(w4, rb, x, 0, 0, kc, acc, 16);
                for (int i = 0; i < 4; i++) y[r + i] = b.finish(w4 + i * rb, x, kc, k, acc + 16 * i);
            }
        }
        for (; r < row_end; r++) y[r] = dot_avx(b, (const char *)w + r * rb, x, k);
        return;
    }
#endif
    for (size_t r = row_begin; r < row_end; r++) {
        const void *row = (const char *)w + r * k * esize;
        switch (dtype) {
        case LK_F32: y[r] = dot_f32_c(row, x, k); break;
        case LK_F16: y[r] = dot_f16_c(row, x, k); break;
        default: y[r] = dot_bf16_c(row, x, k); break;
        }
    }
}

// MARK: - several rows at once (batched decode)

/// Weight rows per group and k elements per tile of the several-row kernel: a group's tile of
/// every activation row (at most LK_ROWS_MAX_M × LK_ROWS_TILE floats, 16 KB) stays in L1 while
/// the group's weight rows stream past it.
#ifndef LK_ROWS_GROUP
#define LK_ROWS_GROUP 8
#endif
#ifndef LK_ROWS_TILE
#define LK_ROWS_TILE 512
#endif
#define LK_ROWS_MAX_M 8

void lk_matvec_rows(int dtype, const void *w, const float *x, float *y,
                    size_t row_begin, size_t row_end, size_t k, size_t m, size_t ldy) {
    size_t esize = dtype == LK_F32 ? 4 : 2;
#ifdef LK_X86
    if (lk_has_avx2()) {
        lk_dot_bodies b = dot_bodies(dtype);
        size_t kc = k - k % b.chunk;
        // (weight row r, activation row j) keeps its accumulators at acc + (r * MAX_M + j) * chunk.
        float acc[LK_ROWS_GROUP * LK_ROWS_MAX_M * 32];
        size_t row_bytes = k * esize, pair_stride = LK_ROWS_MAX_M * b.chunk;
#define LK_ACC(r, j) (acc + ((r) * LK_ROWS_MAX_M + (j)) * b.chunk)
        for (size_t r0 = row_begin; r0 < row_end; r0 += LK_ROWS_GROUP) {
            size_t rows = row_end - r0 < LK_ROWS_GROUP ? row_end - r0 : LK_ROWS_GROUP;
            for (size_t j0 = 0; j0 < m; j0 += LK_ROWS_MAX_M) {
                size_t mm = m - j0 < LK_ROWS_MAX_M ? m - j0 : LK_ROWS_MAX_M;
                const float *xb = x + j0 * k;
                for (size_t r = 0; r < rows; r++) memset(LK_ACC(r, 0), 0, mm * b.chunk * sizeof(float));
                for (size_t t0 = 0; t0 < kc; t0 += LK_ROWS_TILE) {
                    size_t t1 = t0 + LK_ROWS_TILE < kc ? t0 + LK_ROWS_TILE : kc;
                    for (size_t r = 0; r < rows;) {
                        const char *row = (const char *)w + (r0 + r) * row_bytes;
                        size_t j = 0, pair = b.acc2x8 && r + 1 < rows ? 2 : 1;
                        if (pair == 2) {
                            for (; j + 8 <= mm; j += 8) b.acc2x8(row, row_bytes, xb + j * k, k, t0, t1, LK_ACC(r, j), pair_stride);
                            for (; j + 4 <= mm; j += 4) b.acc2x4(row, row_bytes, xb + j * k, k, t0, t1, LK_ACC(r, j), pair_stride);
                        }
                        for (size_t p = 0; p < pair; p++) {
                            size_t jj = j;
                            const char *wr = row + p * row_bytes;
                            if (b.acc8) for (; jj + 8 <= mm; jj += 8) b.acc8(wr, 0, xb + jj * k, k, t0, t1, LK_ACC(r + p, jj), 0);
                            if (b.acc4) for (; jj + 4 <= mm; jj += 4) b.acc4(wr, 0, xb + jj * k, k, t0, t1, LK_ACC(r + p, jj), 0);
                            for (; jj + 2 <= mm; jj += 2) b.acc2(wr, 0, xb + jj * k, k, t0, t1, LK_ACC(r + p, jj), 0);
                            for (; jj < mm; jj++) b.acc1(wr, 0, xb + jj * k, k, t0, t1, LK_ACC(r + p, jj), 0);
                        }
                        r += pair;
                    }
                }
                for (size_t r = 0; r < rows; r++) {
                    const void *row = (const char *)w + (r0 + r) * k * esize;
                    for (size_t j = 0; j < mm; j++)
                        y[(j0 + j) * ldy + r0 + r] = b.finish(row, xb + j * k, kc, k, LK_ACC(r, j));
                }
            }
        }
#undef LK_ACC
        return;
    }
#endif
    for (size_t j = 0; j < m; j++) lk_matvec(dtype, w, x + j * k, y + j * ldy, row_begin, row_end, k);
}
