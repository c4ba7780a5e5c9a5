// Expanding ggml's quantised blocks to f32, one formula per type, written from the block
// layouts of the GGUF format. Each value is computed with the same float operations, in the
// same order, as the reference dequantisation (multiply, then add or subtract; never fused),
// so results match it bit for bit.
#include "CKernels.h"
#include <string.h>

#pragma clang fp contract(off)

static inline float h2f(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    float f;
    lk_f16_to_f32(&h, &f, 1);
    return f;
}

static void q4_0(const uint8_t *b, float *y) {        // d, 16 bytes: low nibbles 0..15, high 16..31
    float d = h2f(b);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((int)(b[2 + j] & 0x0F) - 8);
        y[j + 16] = d * (float)((int)(b[2 + j] >> 4) - 8);
    }
}

static void q4_1(const uint8_t *b, float *y) {        // d, m, 16 bytes of nibbles
    float d = h2f(b), m = h2f(b + 2);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b[4 + j] & 0x0F) + m;
        y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
    }
}

static void q5_0(const uint8_t *b, float *y) {        // d, 32 high bits, 16 bytes of nibbles
    float d = h2f(b);
    uint32_t qh;
    memcpy(&qh, b + 2, 4);
    for (int j = 0; j < 16; j++) {
        int lo = (b[6 + j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
        int hi = (b[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        y[j] = d * (float)(lo - 16);
        y[j + 16] = d * (float)(hi - 16);
    }
}

static void q5_1(const uint8_t *b, float *y) {        // d, m, 32 high bits, 16 bytes of nibbles
    float d = h2f(b), m = h2f(b + 2);
    uint32_t qh;
    memcpy(&qh, b + 4, 4);
    for (int j = 0; j < 16; j++) {
        int lo = (b[8 + j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
        int hi = (b[8 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        y[j] = d * (float)lo + m;
        y[j + 16] = d * (float)hi + m;
    }
}

static void q8_0(const uint8_t *b, float *y) {        // d, 32 int8
    float d = h2f(b);
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

/// The 6-bit scale and min of sub-block j (0..7) from K-quants' 12 packed bytes.
static inline void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/// The scales and mins of a 64-value chunk of Q4_K/Q5_K: sub-blocks 2c (low nibbles) and 2c+1 (high).
static void chunk_scales_k4(int chunk, float d, float dmin, const uint8_t *scales,
                            float *d1, float *m1, float *d2, float *m2) {
    uint8_t sc, m;
    scale_min_k4(2 * chunk, scales, &sc, &m);
    *d1 = d * (float)sc; *m1 = dmin * (float)m;
    scale_min_k4(2 * chunk + 1, scales, &sc, &m);
    *d2 = d * (float)sc; *m2 = dmin * (float)m;
}

static void q4_k(const uint8_t *b, float *y) {        // d, dmin, 12 scale bytes, 128 bytes of nibbles
    float d = h2f(b), dmin = h2f(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int chunk = 0; chunk < 4; chunk++) {          // 32 bytes: sub-blocks 2c (low) and 2c+1 (high)
        float d1, m1, d2, m2;
        chunk_scales_k4(chunk, d, dmin, scales, &d1, &m1, &d2, &m2);
        for (int l = 0; l < 32; l++) {
            y[l] = d1 * (float)(q[l] & 0x0F) - m1;
            y[l + 32] = d2 * (float)(q[l] >> 4) - m2;
        }
        q += 32;
        y += 64;
    }
}

static void q5_k(const uint8_t *b, float *y) {        // as Q4_K, with 32 bytes of fifth bits before the nibbles
    float d = h2f(b), dmin = h2f(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *q = b + 48;
    for (int chunk = 0; chunk < 4; chunk++) {
        float d1, m1, d2, m2;
        chunk_scales_k4(chunk, d, dmin, scales, &d1, &m1, &d2, &m2);
        for (int l = 0; l < 32; l++) {
            int lo = (q[l] & 0x0F) | (((qh[l] >> (2 * chunk)) & 1) << 4);
            int hi = (q[l] >> 4) | (((qh[l] >> (2 * chunk + 1)) & 1) << 4);
            y[l] = d1 * (float)lo - m1;
            y[l + 32] = d2 * (float)hi - m2;
        }
        q += 32;
        y += 64;
    }
}

static void q6_k(const uint8_t *b, float *y) {        // 128 low nibbles, 64 bytes of 2-bit highs, 16 int8 scales, d
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = h2f(b + 208);
    for (int half = 0; half < 2; half++) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = (int)((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = (int)((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = (d * (float)sc[is + 0]) * (float)q1;
            y[l + 32] = (d * (float)sc[is + 2]) * (float)q2;
            y[l + 64] = (d * (float)sc[is + 4]) * (float)q3;
            y[l + 96] = (d * (float)sc[is + 6]) * (float)q4;
        }
        ql += 64;
        qh += 32;
        sc += 8;
        y += 128;
    }
}

int lk_dequantize_ggml(uint32_t type, const void *src, float *dst, size_t n) {
    const uint8_t *b = (const uint8_t *)src;
    switch (type) {
    case 0: memcpy(dst, src, n * 4); return 0;
    case 1: lk_f16_to_f32((const uint16_t *)src, dst, n); return 0;
    case 30: lk_bf16_to_f32((const uint16_t *)src, dst, n); return 0;
    case 2: for (size_t i = 0; i < n / 32; i++) q4_0(b + i * 18, dst + i * 32); return 0;
    case 3: for (size_t i = 0; i < n / 32; i++) q4_1(b + i * 20, dst + i * 32); return 0;
    case 6: for (size_t i = 0; i < n / 32; i++) q5_0(b + i * 22, dst + i * 32); return 0;
    case 7: for (size_t i = 0; i < n / 32; i++) q5_1(b + i * 24, dst + i * 32); return 0;
    case 8: for (size_t i = 0; i < n / 32; i++) q8_0(b + i * 34, dst + i * 32); return 0;
    case 12: for (size_t i = 0; i < n / 256; i++) q4_k(b + i * 144, dst + i * 256); return 0;
    case 13: for (size_t i = 0; i < n / 256; i++) q5_k(b + i * 176, dst + i * 256); return 0;
    case 14: for (size_t i = 0; i < n / 256; i++) q6_k(b + i * 210, dst + i * 256); return 0;
    default: return -1;
    }
}
