// Quantising f32 to ggml's K-quant superblocks (Q4_K, Q6_K) so llama.cpp and our kernels read
// them: written from the block layouts, with a direct choice of scales (each sub-block's range
// split evenly) rather than ggml's search for the scale of least error.
#include "CKernels.h"
#include <math.h>
#include <string.h>

static inline float round_f16(float f, uint8_t *p) {
    uint16_t h;
    lk_f32_to_f16(&f, &h, 1);
    memcpy(p, &h, 2);
    float back;
    lk_f16_to_f32(&h, &back, 1);
    return back;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/// Q4_K: per 32 values, x ≈ d·sc·q − dmin·m with q in 0..15, sc and m 6-bit, d and dmin f16.
void lk_quantize_q4_k(const float *x, void *out, size_t k) {
    uint8_t *b = (uint8_t *)out;
    for (size_t s = 0; s < k / 256; s++, x += 256, b += LK_Q4_K_BLOCK_BYTES) {
        float scale[8], lowest[8], maxs = 0, maxm = 0;
        for (int j = 0; j < 8; j++) {
            float lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) { lo = fminf(lo, x[32 * j + l]); hi = fmaxf(hi, x[32 * j + l]); }
            scale[j] = (hi - lo) / 15;
            lowest[j] = -lo;
            maxs = fmaxf(maxs, scale[j]);
            maxm = fmaxf(maxm, lowest[j]);
        }
        float d = round_f16(maxs / 63, b), dmin = round_f16(maxm / 63, b + 2);
        uint8_t sc[8], m[8];
        for (int j = 0; j < 8; j++) {
            sc[j] = d > 0 ? (uint8_t)clampi((int)lroundf(scale[j] / d), 0, 63) : 0;
            m[j] = dmin > 0 ? (uint8_t)clampi((int)lroundf(lowest[j] / dmin), 0, 63) : 0;
        }
        uint8_t *packed = b + 4;
        for (int j = 0; j < 4; j++) {
            packed[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
            packed[j + 4] = (uint8_t)(m[j] | ((m[j + 4] >> 4) << 6));
            packed[j + 8] = (uint8_t)((sc[j + 4] & 0x0F) | ((m[j + 4] & 0x0F) << 4));
        }
        uint8_t *qs = b + 16;
        memset(qs, 0, 128);
        for (int j = 0; j < 8; j++) {
            float ds = d * (float)sc[j], dm = dmin * (float)m[j];
            for (int l = 0; l < 32; l++) {
                int q = ds > 0 ? clampi((int)lroundf((x[32 * j + l] + dm) / ds), 0, 15) : 0;
                qs[32 * (j / 2) + l] |= (uint8_t)(j & 1 ? q << 4 : q);
            }
        }
    }
}

/// Q6_K: per 16 values, x ≈ d·sc·(q − 32) with q in 0..63, sc a signed byte, d f16.
void lk_quantize_q6_k(const float *x, void *out, size_t k) {
    uint8_t *b = (uint8_t *)out;
    for (size_t s = 0; s < k / 256; s++, x += 256, b += LK_Q6_K_BLOCK_BYTES) {
        float scale[16], maxabs = 0;
        for (int g = 0; g < 16; g++) {
            float far = 0;  // the value of largest magnitude maps to code -32
            for (int l = 0; l < 16; l++) if (fabsf(x[16 * g + l]) > fabsf(far)) far = x[16 * g + l];
            scale[g] = far / -32;
            maxabs = fmaxf(maxabs, fabsf(scale[g]));
        }
        float d = round_f16(maxabs / 127, b + 208);
        int8_t *sc = (int8_t *)(b + 192);
        uint8_t *ql = b, *qh = b + 128;
        memset(b, 0, 192);
        for (int g = 0; g < 16; g++) {
            sc[g] = d > 0 ? (int8_t)clampi((int)lroundf(scale[g] / d), -127, 127) : 0;
            float ds = d * (float)sc[g];
            for (int l = 0; l < 16; l++) {
                int i = 16 * g + l, q = ds != 0 ? clampi((int)lroundf(x[i] / ds), -32, 31) + 32 : 32;
                int half = i / 128, quad = (i % 128) / 32, e = i % 32;
                uint8_t *low = ql + 64 * half + e + (quad & 1 ? 32 : 0);
                *low |= (uint8_t)(quad >= 2 ? (q & 0x0F) << 4 : q & 0x0F);
                qh[32 * half + e] |= (uint8_t)((q >> 4) << (2 * quad));
            }
        }
    }
}
