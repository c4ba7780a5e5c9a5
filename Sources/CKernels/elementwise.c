// Element-wise kernels built on one exponential: softmax, the sigmoid gates (SiLU of SwiGLU,
// CLIP's quick GELU) and their backward passes.
//
// `lk_exp` is e^x by Cody–Waite reduction and a degree-7 polynomial: x = n·ln2 + r, |r| ≲ ln2/2,
// e^r by Horner's rule in fused multiply-adds, times 2^n as two exact power-of-two factors (so
// results that overflow become +inf and those that underflow go through the subnormals to 0).
// Within 2 ulp of e^x (measured against double precision over the whole range). Every level
// computes it with the same operations in the same order, so it is the same function bit for
// bit in portable C, with AVX2 and with AVX-512; the gates and their gradients, being element-
// wise, are too. Softmax sums its exponentials in one partial sum per lane, then the lanes in
// order, so its sum (only) depends on the level's width.
//
// The bodies are written once over GCC/Clang vector types and instantiated for 4 (portable),
// 8 (AVX2) and 16 (AVX-512) lanes; a tail shorter than a vector runs as a padded vector, so a
// value never depends on where it falls in the array.
#include "CKernels.h"
#include <math.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) || defined(__i386__)
#define LKE_X86 1
#endif

typedef float lke_f4 __attribute__((vector_size(16)));
typedef int32_t lke_i4 __attribute__((vector_size(16)));
typedef float lke_f8 __attribute__((vector_size(32)));
typedef int32_t lke_i8 __attribute__((vector_size(32)));
typedef float lke_f16 __attribute__((vector_size(64)));
typedef int32_t lke_i16 __attribute__((vector_size(64)));

// ln 2 split so that n · LN2_HI is exact for |n| ≤ 2^15.
#define LKE_LOG2E 1.44269504088896341f
#define LKE_LN2_HI 0.693359375f
#define LKE_LN2_LO -2.12194440e-4f

// One level's bodies. VF/VI: float and int32 vectors of W lanes; TARGET: its instruction set.
#define LKE_BODIES(SUFFIX, TARGET, VF, VI, W)                                                       \
TARGET static inline VF exp_##SUFFIX(VF x) {                                                        \
    VI nan = x != x;                                                                                \
    VF c = __builtin_elementwise_min(__builtin_elementwise_max(x, (VF){} - 104.0f), (VF){} + 89.0f); \
    VF n = __builtin_elementwise_roundeven(c * LKE_LOG2E);                                          \
    VF r = __builtin_elementwise_fma(-n, (VF){} + LKE_LN2_HI, c);                                   \
    r = __builtin_elementwise_fma(-n, (VF){} + LKE_LN2_LO, r);                                      \
    VF p = (VF){} + 1.0f / 5040;                                                                    \
    p = __builtin_elementwise_fma(p, r, (VF){} + 1.0f / 720);                                       \
    p = __builtin_elementwise_fma(p, r, (VF){} + 1.0f / 120);                                       \
    p = __builtin_elementwise_fma(p, r, (VF){} + 1.0f / 24);                                        \
    p = __builtin_elementwise_fma(p, r, (VF){} + 1.0f / 6);                                         \
    p = __builtin_elementwise_fma(p, r, (VF){} + 0.5f);                                             \
    p = __builtin_elementwise_fma(p, r, (VF){} + 1.0f);                                             \
    p = __builtin_elementwise_fma(p, r, (VF){} + 1.0f);                                             \
    VI ni = __builtin_convertvector(n, VI), n1 = ni >> 1, n2 = ni - n1;                             \
    VF s1 = (VF)((n1 + 127) << 23), s2 = (VF)((n2 + 127) << 23);                                    \
    VF e = p * s1 * s2;                                                                             \
    return (VF)((nan & (VI)x) | (~nan & (VI)e));                                                    \
}                                                                                                   \
                                                                                                    \
/* Loads/stores the first `m` (< W) lanes; the others read as `fill`. */                            \
TARGET static inline VF load_part_##SUFFIX(const float *p, size_t m, float fill) {                  \
    float t[W];                                                                                     \
    for (size_t i = 0; i < W; i++) t[i] = i < m ? p[i] : fill;                                      \
    VF v;                                                                                           \
    memcpy(&v, t, sizeof v);                                                                        \
    return v;                                                                                       \
}                                                                                                   \
TARGET static inline void store_part_##SUFFIX(float *p, VF v, size_t m) {                           \
    for (size_t i = 0; i < m; i++) p[i] = v[i];                                                     \
}                                                                                                   \
TARGET static inline VF load_##SUFFIX(const float *p, size_t m) {                                   \
    VF v;                                                                                           \
    if (m >= W) memcpy(&v, p, sizeof v); else v = load_part_##SUFFIX(p, m, 0);                      \
    return v;                                                                                       \
}                                                                                                   \
TARGET static inline void store_##SUFFIX(float *p, VF v, size_t m) {                                \
    if (m >= W) memcpy(p, &v, sizeof v); else store_part_##SUFFIX(p, v, m);                         \
}                                                                                                   \
                                                                                                    \
TARGET static void exp_array_##SUFFIX(const float *x, float *y, size_t n) {                         \
    for (size_t i = 0; i < n; i += W) store_##SUFFIX(y + i, exp_##SUFFIX(load_##SUFFIX(x + i, n - i)), n - i); \
}                                                                                                   \
                                                                                                    \
/* out = x · σ(a·x) · up (up NULL: 1), i.e. x / (1 + e^(-a·x)) · up. */                             \
TARGET static void sigmoid_gate_##SUFFIX(float *out, const float *x, const float *up, float a, size_t n) { \
    for (size_t i = 0; i < n; i += W) {                                                             \
        VF v = load_##SUFFIX(x + i, n - i);                                                         \
        VF g = v / (1.0f + exp_##SUFFIX(-(a * v)));                                                 \
        if (up) g = g * load_##SUFFIX(up + i, n - i);                                               \
        store_##SUFFIX(out + i, g, n - i);                                                          \
    }                                                                                               \
}                                                                                                   \
                                                                                                    \
/* s = σ(g): dGate (+)= dOut·up·s·(1 + g(1 − s)), dUp (+)= dOut·g·s. dUp may be dOut. */           \
TARGET static void swiglu_backward_##SUFFIX(float *dGate, float *dUp, const float *dOut, const float *gate, \
                                            const float *up, size_t n, int accumulate) {            \
    for (size_t i = 0; i < n; i += W) {                                                             \
        size_t m = n - i;                                                                           \
        VF g = load_##SUFFIX(gate + i, m), u = load_##SUFFIX(up + i, m), d = load_##SUFFIX(dOut + i, m); \
        VF s = 1.0f / (1.0f + exp_##SUFFIX(-g));                                                    \
        VF dg = d * u * s * (1.0f + g * (1.0f - s)), du = d * g * s;                                \
        if (accumulate) {                                                                           \
            dg = load_##SUFFIX(dGate + i, m) + dg;                                                  \
            du = load_##SUFFIX(dUp + i, m) + du;                                                    \
        }                                                                                           \
        store_##SUFFIX(dGate + i, dg, m);                                                           \
        store_##SUFFIX(dUp + i, du, m);                                                             \
    }                                                                                               \
}                                                                                                   \
                                                                                                    \
/* s = σ(1.702x): dx += dy · (s + 1.702 · x · s · (1 − s)). */                                      \
TARGET static void quick_gelu_backward_##SUFFIX(float *dx, const float *dy, const float *x, size_t n) { \
    for (size_t i = 0; i < n; i += W) {                                                             \
        size_t m = n - i;                                                                           \
        VF v = load_##SUFFIX(x + i, m);                                                             \
        VF s = 1.0f / (1.0f + exp_##SUFFIX(-(1.702f * v)));                                         \
        VF g = load_##SUFFIX(dy + i, m) * (s + 1.702f * v * s * (1.0f - s));                        \
        store_##SUFFIX(dx + i, load_##SUFFIX(dx + i, m) + g, m);                                    \
    }                                                                                               \
}                                                                                                   \
                                                                                                    \
TARGET static void softmax_##SUFFIX(float *x, size_t n) {                                           \
    VF mv = (VF){} - INFINITY;                                                                      \
    for (size_t i = 0; i < n; i += W)                                                               \
        mv = __builtin_elementwise_max(mv, n - i >= W ? load_##SUFFIX(x + i, W)                     \
                                                      : load_part_##SUFFIX(x + i, n - i, -INFINITY)); \
    float m = mv[0];                                                                                \
    for (int j = 1; j < W; j++) m = mv[j] > m ? mv[j] : m;                                          \
    VF sv = {};                                                                                     \
    for (size_t i = 0; i < n; i += W) {                                                             \
        size_t c = n - i;                                                                           \
        VF e = exp_##SUFFIX(load_##SUFFIX(x + i, c) - m);                                           \
        if (c < W) e = load_part_##SUFFIX((const float *)&e, c, 0);                                 \
        store_##SUFFIX(x + i, e, c);                                                                \
        sv += e;                                                                                    \
    }                                                                                               \
    float sum = 0;                                                                                  \
    for (int j = 0; j < W; j++) sum += sv[j];                                                       \
    float inv = 1 / sum;                                                                            \
    for (size_t i = 0; i < n; i += W) store_##SUFFIX(x + i, load_##SUFFIX(x + i, n - i) * inv, n - i); \
}

LKE_BODIES(c, , lke_f4, lke_i4, 4)

#ifdef LKE_X86
LKE_BODIES(avx2, __attribute__((target("avx2,fma"))), lke_f8, lke_i8, 8)
LKE_BODIES(avx512, __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"))), lke_f16, lke_i16, 16)
#define LKE_DISPATCH(NAME, ...)                                                                     \
    do {                                                                                            \
        int level = lk_simd_level();                                                                \
        if (level >= 3) { NAME##_avx512(__VA_ARGS__); return; }                                     \
        if (level >= 1) { NAME##_avx2(__VA_ARGS__); return; }                                       \
        NAME##_c(__VA_ARGS__);                                                                      \
    } while (0)
#else
#define LKE_DISPATCH(NAME, ...) NAME##_c(__VA_ARGS__)
#endif

void lk_exp(const float *x, float *y, size_t n) { LKE_DISPATCH(exp_array, x, y, n); }

void lk_softmax(float *x, size_t n) {
    if (n == 0) return;
    LKE_DISPATCH(softmax, x, n);
}

void lk_sigmoid_gate(float *out, const float *x, const float *up, float a, size_t n) {
    LKE_DISPATCH(sigmoid_gate, out, x, up, a, n);
}

void lk_swiglu_backward(float *dGate, float *dUp, const float *dOut, const float *gate, const float *up,
                        size_t n, int accumulate) {
    LKE_DISPATCH(swiglu_backward, dGate, dUp, dOut, gate, up, n, accumulate);
}

void lk_quick_gelu_backward(float *dx, const float *dy, const float *x, size_t n) {
    LKE_DISPATCH(quick_gelu_backward, dx, dy, x, n);
}
