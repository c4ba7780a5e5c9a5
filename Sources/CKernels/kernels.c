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

LK_TARGET static float dot_f32_avx(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

LK_TARGET static float dot_f16_avx(const uint16_t *w, const float *x, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))), _mm256_loadu_ps(x + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 16))), _mm256_loadu_ps(x + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 24))), _mm256_loadu_ps(x + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += half_to_float(w[i]) * x[i];
    return s;
}

LK_TARGET static inline __m256 load_bf16x8(const uint16_t *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

LK_TARGET static float dot_bf16_avx(const uint16_t *w, const float *x, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(load_bf16x8(w + i), _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(load_bf16x8(w + i + 8), _mm256_loadu_ps(x + i + 8), s1);
        s2 = _mm256_fmadd_ps(load_bf16x8(w + i + 16), _mm256_loadu_ps(x + i + 16), s2);
        s3 = _mm256_fmadd_ps(load_bf16x8(w + i + 24), _mm256_loadu_ps(x + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(load_bf16x8(w + i), _mm256_loadu_ps(x + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += bf16_to_float(w[i]) * x[i];
    return s;
}

LK_TARGET static void axpy_avx(float a, const float *x, float *y, size_t n) {
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}
#endif

// MARK: - dispatch

static int lk_avx2_state = -1;

int lk_has_avx2(void) {
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

void lk_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
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

void lk_axpy_f32(float a, const float *x, float *y, size_t n) {
#ifdef LK_X86
    if (lk_has_avx2()) { axpy_avx(a, x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

void lk_matvec(int dtype, const void *w, const float *x, float *y,
               size_t row_begin, size_t row_end, size_t k) {
    int avx = lk_has_avx2();
    for (size_t r = row_begin; r < row_end; r++) {
        switch (dtype) {
        case LK_F32: {
            const float *row = (const float *)w + r * k;
#ifdef LK_X86
            y[r] = avx ? dot_f32_avx(row, x, k) : dot_f32_c(row, x, k);
#else
            y[r] = dot_f32_c(row, x, k);
#endif
            break;
        }
        case LK_F16: {
            const uint16_t *row = (const uint16_t *)w + r * k;
#ifdef LK_X86
            y[r] = avx ? dot_f16_avx(row, x, k) : dot_f16_c(row, x, k);
#else
            y[r] = dot_f16_c(row, x, k);
#endif
            break;
        }
        default: {
            const uint16_t *row = (const uint16_t *)w + r * k;
#ifdef LK_X86
            y[r] = avx ? dot_bf16_avx(row, x, k) : dot_bf16_c(row, x, k);
#else
            y[r] = dot_bf16_c(row, x, k);
#endif
            break;
        }
        }
    }
    (void)avx;
}

// MARK: - several rows at once (batched decode)

/// One weight row's dot products with `m` activation rows. The pair bodies below run the
/// single-row bodies' exact sequence of operations for each of their two rows, sharing
/// only the weight loads, so results are bit-identical to `lk_matvec`.
#ifdef LK_X86
#define LK_PAIR_DOT(NAME, LOAD, SCALAR)                                                                \
LK_TARGET static void NAME(const void *wv, const float *x0, const float *x1, size_t n,            \
                           float *out0, float *out1) {                                             \
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                     \
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();                                     \
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();                                     \
    __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();                                     \
    size_t i = 0;                                                                                  \
    for (; i + 32 <= n; i += 32) {                                                                 \
        __m256 w0 = LOAD(wv, i), w1 = LOAD(wv, i + 8), w2 = LOAD(wv, i + 16), w3 = LOAD(wv, i + 24); \
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + i), a0);                                     \
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x0 + i + 8), a1);                                 \
        a2 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x0 + i + 16), a2);                                \
        a3 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x0 + i + 24), a3);                                \
        b0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + i), b0);                                     \
        b1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x1 + i + 8), b1);                                 \
        b2 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x1 + i + 16), b2);                                \
        b3 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x1 + i + 24), b3);                                \
    }                                                                                              \
    for (; i + 8 <= n; i += 8) {                                                                   \
        __m256 w0 = LOAD(wv, i);                                                                   \
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + i), a0);                                     \
        b0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + i), b0);                                     \
    }                                                                                              \
    float sa = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));               \
    float sb = hsum256(_mm256_add_ps(_mm256_add_ps(b0, b1), _mm256_add_ps(b2, b3)));               \
    for (size_t t = i; t < n; t++) sa += SCALAR(wv, t) * x0[t];                                    \
    for (size_t t = i; t < n; t++) sb += SCALAR(wv, t) * x1[t];                                    \
    *out0 = sa; *out1 = sb;                                                                        \
}

LK_TARGET static inline __m256 load_f32x8_at(const void *w, size_t i) { return _mm256_loadu_ps((const float *)w + i); }
LK_TARGET static inline __m256 load_f16x8_at(const void *w, size_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
}
LK_TARGET static inline __m256 load_bf16x8_at(const void *w, size_t i) { return load_bf16x8((const uint16_t *)w + i); }

// The scalar tail (k not a multiple of 8), written as the single-row bodies write it.
#define LK_F32_AT(w, i) (((const float *)(w))[i])
#define LK_F16_AT(w, i) half_to_float(((const uint16_t *)(w))[i])
#define LK_BF16_AT(w, i) bf16_to_float(((const uint16_t *)(w))[i])

LK_PAIR_DOT(pair_f32_avx, load_f32x8_at, LK_F32_AT)
LK_PAIR_DOT(pair_f16_avx, load_f16x8_at, LK_F16_AT)
LK_PAIR_DOT(pair_bf16_avx, load_bf16x8_at, LK_BF16_AT)
#endif

static float dot_any(int dtype, const void *row, const float *x, size_t k) {
    float out;
    lk_matvec(dtype, row, x, &out, 0, 1, k);
    return out;
}

void lk_matvec_rows(int dtype, const void *w, const float *x, float *y,
                    size_t row_begin, size_t row_end, size_t k, size_t m, size_t ldy) {
    size_t esize = dtype == LK_F32 ? 4 : 2;
    int avx = lk_has_avx2();
    for (size_t r = row_begin; r < row_end; r++) {
        const void *row = (const char *)w + r * k * esize;
        size_t j = 0;
#ifdef LK_X86
        if (avx) {
            for (; j + 2 <= m; j += 2) {
                const float *x0 = x + j * k, *x1 = x + (j + 1) * k;
                float s0, s1;
                switch (dtype) {
                case LK_F32: pair_f32_avx(row, x0, x1, k, &s0, &s1); break;
                case LK_F16: pair_f16_avx(row, x0, x1, k, &s0, &s1); break;
                default: pair_bf16_avx(row, x0, x1, k, &s0, &s1); break;
                }
                y[j * ldy + r] = s0;
                y[(j + 1) * ldy + r] = s1;
            }
        }
#endif
        for (; j < m; j++) y[j * ldy + r] = dot_any(dtype, row, x + j * k, k);
    }
    (void)avx;
}
