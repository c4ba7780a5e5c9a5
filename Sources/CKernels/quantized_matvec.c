// Decode kernels on ggml's Q8_0 and Q4_0 blocks, read where they lie: the activation row is
// quantised to Q8_0 once per call, then each weight block meets its activation block as an
// integer dot product (AVX2: |w| · sign-adjusted x with maddubs, pairs summed with madd),
// scaled by the two f16 scales and accumulated in f32. Portable C does the same arithmetic
// per block with plain integers.
#include "CKernels.h"
#include <math.h>
#include <string.h>

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

// MARK: - portable bodies

static float dot_q8_0_c(const uint8_t *w, const uint8_t *x, size_t nb) {
    float sum = 0;
    for (size_t i = 0; i < nb; i++, w += LK_Q8_0_BLOCK_BYTES, x += LK_Q8_0_BLOCK_BYTES) {
        int s = 0;
        for (int j = 0; j < 32; j++) s += (int)(int8_t)w[2 + j] * (int)(int8_t)x[2 + j];
        sum += (float)s * (f16_at(w) * f16_at(x));
    }
    return sum;
}

static float dot_q4_0_c(const uint8_t *w, const uint8_t *x, size_t nb) {
    float sum = 0;
    for (size_t i = 0; i < nb; i++, w += LK_Q4_0_BLOCK_BYTES, x += LK_Q8_0_BLOCK_BYTES) {
        int s = 0;
        for (int j = 0; j < 16; j++) {
            s += ((int)(w[2 + j] & 0x0F) - 8) * (int)(int8_t)x[2 + j];
            s += ((int)(w[2 + j] >> 4) - 8) * (int)(int8_t)x[2 + j + 16];
        }
        sum += (float)s * (f16_at(w) * f16_at(x));
    }
    return sum;
}

// MARK: - AVX2 bodies

#ifdef LKQ_X86
#define LKQ_TARGET __attribute__((target("avx2,fma,f16c")))

LKQ_TARGET static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Σ of the 32 products of signed bytes a and b, as 8 int32 lanes turned to floats.
LKQ_TARGET static inline __m256 block_dot(__m256i a, __m256i b) {
    __m256i products = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(products, _mm256_set1_epi16(1)));
}

LKQ_TARGET static inline float scale_of(const uint8_t *w, const uint8_t *x) {
    uint16_t hw, hx;
    memcpy(&hw, w, 2);
    memcpy(&hx, x, 2);
    return _cvtsh_ss(hw) * _cvtsh_ss(hx);
}

LKQ_TARGET static float dot_q8_0_avx(const uint8_t *w, const uint8_t *x, size_t nb) {
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < nb; i++, w += LK_Q8_0_BLOCK_BYTES, x += LK_Q8_0_BLOCK_BYTES) {
        __m256i qw = _mm256_loadu_si256((const __m256i *)(w + 2));
        __m256i qx = _mm256_loadu_si256((const __m256i *)(x + 2));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(scale_of(w, x)), block_dot(qw, qx), acc);
    }
    return hsum8(acc);
}

/// 32 Q4_0 codes as signed bytes -8..7, element order (low nibbles 0..15, high 16..31).
LKQ_TARGET static inline __m256i unpack_q4(const uint8_t *qs) {
    __m128i packed = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(packed), _mm_srli_epi16(packed, 4), 1);
    return _mm256_sub_epi8(_mm256_and_si256(both, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(8));
}

LKQ_TARGET static float dot_q4_0_avx(const uint8_t *w, const uint8_t *x, size_t nb) {
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < nb; i++, w += LK_Q4_0_BLOCK_BYTES, x += LK_Q8_0_BLOCK_BYTES) {
        __m256i qx = _mm256_loadu_si256((const __m256i *)(x + 2));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(scale_of(w, x)), block_dot(unpack_q4(w + 2), qx), acc);
    }
    return hsum8(acc);
}
#endif

static float dot_q(int dtype, const uint8_t *row, const uint8_t *xq, size_t nb, int avx) {
#ifdef LKQ_X86
    if (avx) return dtype == LK_Q8_0 ? dot_q8_0_avx(row, xq, nb) : dot_q4_0_avx(row, xq, nb);
#endif
    (void)avx;
    return dtype == LK_Q8_0 ? dot_q8_0_c(row, xq, nb) : dot_q4_0_c(row, xq, nb);
}

void lk_matvec_q(int dtype, const void *w, const void *xq, float *y,
                 size_t row_begin, size_t row_end, size_t k) {
    size_t nb = k / 32, row_bytes = nb * (dtype == LK_Q8_0 ? LK_Q8_0_BLOCK_BYTES : LK_Q4_0_BLOCK_BYTES);
    int avx = lk_has_avx2();
    for (size_t r = row_begin; r < row_end; r++)
        y[r] = dot_q(dtype, (const uint8_t *)w + r * row_bytes, (const uint8_t *)xq, nb, avx);
}

void lk_matvec_rows_q(int dtype, const void *w, const void *xq, float *y,
                      size_t row_begin, size_t row_end, size_t k, size_t m, size_t ldy) {
    size_t nb = k / 32, row_bytes = nb * (dtype == LK_Q8_0 ? LK_Q8_0_BLOCK_BYTES : LK_Q4_0_BLOCK_BYTES);
    size_t x_bytes = nb * LK_Q8_0_BLOCK_BYTES;
    int avx = lk_has_avx2();
    for (size_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + r * row_bytes;
        for (size_t j = 0; j < m; j++)
            y[j * ldy + r] = dot_q(dtype, row, (const uint8_t *)xq + j * x_bytes, nb, avx);
    }
}
