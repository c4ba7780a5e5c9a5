// One prefill linear on an interleaved Q4 weight, three ways, 2 threads:
//   widen: blocks of rows widened to f32, then OpenBLAS SGEMM (the path before the integer GEMM)
//   gemm:  activation rows quantised, then lk_matvec_rows_q (tiles of 8 weight rows × RA rows)
//   rows:  the same per activation row (lk_matvec_q), checked bit for bit against gemm
// cc -O3 -ISources/CKernels/include scripts/bench_prefill_gemm.c Sources/CKernels/*.c -lopenblas -lpthread -lm
// ./a.out N K M [q4_0|q4_k]
#include "CKernels.h"
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

typedef struct { int code; const void *w; const uint8_t *xq; float *y; size_t r0, r1, k, m, ldy; const float *x;  double cpu; } job;

static void *run_gemm(void *p) {
    job *j = p;
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    lk_matvec_rows_q(j->code, j->w, j->xq, j->y, j->r0, j->r1, j->k, j->m, j->ldy);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    j->cpu = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
    return NULL;
}
static void *run_quant(void *p) {
    job *j = p;
    size_t xb = lk_qact_bytes(j->k);
    for (size_t i = j->r0; i < j->r1; i++) lk_quantize_activation(j->x + i * j->k, (uint8_t *)j->xq + i * xb, j->k);
    return NULL;
}
static double two(void *(*f)(void *), job a, job b) {
    pthread_t t; pthread_create(&t, NULL, f, &a); f(&b); pthread_join(t, NULL);
    return a.cpu + b.cpu;
}

int main(int argc, char **argv) {
    size_t n = atoi(argv[1]), k = atoi(argv[2]), m = atoi(argv[3]);
    const char *type = argc > 4 ? argv[4] : "q4_0";
    int q4k = !strcmp(type, "q4_k"), q8 = !strcmp(type, "q8_0"), q6k = !strcmp(type, "q6_k");
    int code = q8 ? LK_Q8_0 : q6k ? LK_Q6_K : q4k ? LK_Q4_KX8 : LK_Q4_0X8;
    float *wf = malloc(n * k * 4), *x = malloc(m * k * 4), *y = malloc(m * n * 4), *y2 = malloc(m * n * 4);
    srand(1);
    for (size_t i = 0; i < n * k; i++) wf[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < m * k; i++) x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    size_t rb = q8 ? k / 32 * LK_Q8_0_BLOCK_BYTES : q6k ? k / 256 * LK_Q6_K_BLOCK_BYTES
              : q4k ? k / 256 * LK_Q4_K_BLOCK_BYTES : k / 32 * LK_Q4_0_BLOCK_BYTES;
    uint8_t *plain = malloc(n * rb), *w = malloc(n * rb * 148 / 144 + 64);
    void (*quant)(const float *, void *, size_t) = q8 ? lk_quantize_q8_0 : q6k ? lk_quantize_q6_k : q4k ? lk_quantize_q4_k : lk_quantize_q4_0;
    for (size_t r = 0; r < n; r++) quant(wf + r * k, plain + r * rb, k);
    if (q8 || q6k) memcpy(w, plain, n * rb);
    else (q4k ? lk_interleave_q4_kx8 : lk_interleave_q4_0x8)(plain, w, n, k);
    size_t xb = lk_qact_bytes(k);
    uint8_t *xq = malloc(m * xb);
    size_t half = n / 16 * 8;
    openblas_set_num_threads(2);
    // widen + sgemm, blocks of 8 MB of f32
    size_t block = (8 << 20) / (4 * k) / 8 * 8;
    float *wide = malloc(block * k * 4);
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (size_t n0 = 0; n0 < n; n0 += block) {
            size_t nb = n - n0 < block ? n - n0 : block;
            size_t gb = q8 || q6k ? 8 * rb : q4k ? k / 256 * LK_Q4_KX8_BLOCK_BYTES : k / 32 * LK_Q4_0X8_BLOCK_BYTES;
            if (q8 || q6k) lk_dequantize_ggml(q8 ? 8 : 14, w + n0 / 8 * gb, wide, nb * k);
            else (q4k ? lk_dequantize_q4_kx8 : lk_dequantize_q4_0x8)(w + n0 / 8 * gb, wide, nb, k);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, nb, k, 1, x, k, wide, k, 0, y2 + n0, n);
        }
        double t1 = now();
        two(run_quant, (job){.x = x, .xq = xq, .k = k, .r0 = 0, .r1 = m / 2}, (job){.x = x, .xq = xq, .k = k, .r0 = m / 2, .r1 = m});
        double t2 = now();
        double cpu = two(run_gemm, (job){code, w, xq, y, 0, half, k, m, n}, (job){code, w, xq, y, half, n, k, m, n});
        double t3 = now();
        double flop = 2.0 * n * k * m;
        printf("%s %zux%zu m=%zu  widen+sgemm %.1f ms (%.0f GFLOP/s)  quantize %.1f ms  int gemm %.1f ms (%.0f GOP/s, %.0f per CPU-second per thread)\n",
               type, n, k, m, (t1 - t0) * 1e3, flop / (t1 - t0) * 1e-9, (t2 - t1) * 1e3, (t3 - t2) * 1e3,
               flop / (t3 - t2) * 1e-9, flop / (cpu / 2) * 1e-9 / 2);
    }
    // exactness against the one-row mat-vec, and closeness to the f32 result
    size_t bad = 0; double maxrel = 0;
    float *row = malloc(n * 4);
    for (size_t j = 0; j < m; j += (m > 40 ? 37 : 1)) {
        lk_matvec_q(code, w, xq + j * xb, row, 0, n, k);
        for (size_t r = 0; r < n; r++) {
            if (memcmp(&row[r], &y[j * n + r], 4)) bad++;
            double e = y[j * n + r] - y2[j * n + r]; e = e < 0 ? -e : e;
            double s = y2[j * n + r] < 0 ? -y2[j * n + r] : y2[j * n + r];
            if (e / (s + 1) > maxrel) maxrel = e / (s + 1);
        }
    }
    printf("mismatches vs one-row mat-vec: %zu; max |gemm - f32| / (|f32| + 1): %.2e\n", bad, maxrel);
    return bad != 0;
}
