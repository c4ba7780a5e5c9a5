// Hot loops that BLAS does not cover: widening f16/bf16 weights and dot
// products of a weight row with an f32 vector (one-token decode). Each entry
// point picks an AVX2+FMA+F16C body at run time when the CPU has one, and a
// portable C body otherwise.
#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Element type codes shared with Swift's `DType`.
enum { LK_F32 = 0, LK_F16 = 1, LK_BF16 = 2, LK_Q8_0 = 3, LK_Q4_0 = 4, LK_Q4_K = 5, LK_Q6_K = 6, LK_Q4_0X8 = 7, LK_Q4_KX8 = 8, LK_Q8_0X8 = 9 };

/// Bytes of one ggml block: Q8_0 (f16 scale + 32 int8) and Q4_0 (f16 scale + 32 nibbles).
enum { LK_Q8_0_BLOCK_BYTES = 34, LK_Q4_0_BLOCK_BYTES = 18, LK_QBLOCK = 32 };
/// Bytes of one K-quant superblock of 256 values: Q4_K (d, dmin, 12 bytes of 6-bit scales and
/// mins, 128 bytes of nibbles) and Q6_K (128 bytes of low nibbles, 64 of 2-bit highs, 16 int8
/// scales, d).
enum { LK_Q4_K_BLOCK_BYTES = 144, LK_Q6_K_BLOCK_BYTES = 210 };
/// Q4_0 with eight weight rows interleaved for the AVX2 decode kernel (LK_Q4_0X8): per group of
/// eight rows and block of 32 columns, the rows' eight f16 scales, then four vectors of 32
/// bytes (vector i: bytes 4i..4i+3 of each row's nibbles, row after row). A group's blocks
/// follow each other; groups take the bytes of their eight rows, so the tensor is the size of
/// its Q4_0 form.
enum { LK_Q4_0X8_BLOCK_BYTES = 144 };

/// Q4_0 rows (a multiple of 8, each k values) to and from LK_Q4_0X8, and widened to f32 with
/// the values Q4_0's dequantisation gives.
void lk_interleave_q4_0x8(const void *src, void *dst, size_t rows, size_t k);
void lk_deinterleave_q4_0x8(const void *src, void *dst, size_t rows, size_t k);
void lk_dequantize_q4_0x8(const void *src, float *dst, size_t rows, size_t k);
/// 1 when the decode kernels read LK_Q4_0X8 and LK_Q4_KX8 with bodies of their own at this
/// CPU's level (any with AVX2: on an AVX-512 VNNI Xeon too they beat the 512-bit row bodies,
/// 7B Q4_0 decode 3.45 -> 4.18 tok/s), faster than Q4_0 / Q4_K; at the portable level the
/// interleaved types compute what the plain ones do.
int lk_prefers_q4_0x8(void);
/// Q4_K with eight weight rows interleaved for the AVX2 decode kernel (LK_Q4_KX8): per group of
/// eight rows and superblock of 256 columns, the rows' eight f16 d, eight f16 dmin, their 6-bit
/// sub-block scales and mins decoded to bytes (8 sub-blocks × 8 rows each), then the nibbles in
/// 32 vectors of 32 bytes (quantized_matvec_x8.h). 1184 bytes where Q4_K takes 1152: a tensor
/// is 148/144 of its Q4_K size (+2.8%).
enum { LK_Q4_KX8_BLOCK_BYTES = 1184 };
/// Q4_K rows (a multiple of 8, each k values, k a multiple of 256) to and from LK_Q4_KX8, and
/// widened to f32 with the values Q4_K's dequantisation gives.
void lk_interleave_q4_kx8(const void *src, void *dst, size_t rows, size_t k);
void lk_deinterleave_q4_kx8(const void *src, void *dst, size_t rows, size_t k);
void lk_dequantize_q4_kx8(const void *src, float *dst, size_t rows, size_t k);
/// Q8_0 with eight weight rows interleaved (LK_Q8_0X8): per group of eight rows and block of 32
/// columns, the rows' eight f16 scales, then eight vectors of 32 bytes (vector i: bytes
/// 4i..4i+3 of each row's codes, row after row), each code stored as code + 128 so that VNNI
/// multiplies it unsigned. The tensor is the size of its Q8_0 form.
enum { LK_Q8_0X8_BLOCK_BYTES = 272 };
/// Q8_0 rows (a multiple of 8, each k values) to and from LK_Q8_0X8, and widened to f32 with
/// the values Q8_0's dequantisation gives.
void lk_interleave_q8_0x8(const void *src, void *dst, size_t rows, size_t k);
void lk_deinterleave_q8_0x8(const void *src, void *dst, size_t rows, size_t k);
void lk_dequantize_q8_0x8(const void *src, float *dst, size_t rows, size_t k);

/// Quantises `k` floats (a multiple of 32) to Q8_0 or Q4_0 blocks, as ggml's reference
/// quantisers do (Q8_0: scale max|x|/127, round to nearest; Q4_0: scale max/-8 of the value
/// with the largest magnitude, codes min(15, trunc(x/d + 8.5))).
void lk_quantize_q8_0(const float *x, void *out, size_t k);
void lk_quantize_q4_0(const float *x, void *out, size_t k);
/// Quantises `k` floats (a multiple of 256) to Q4_K or Q6_K superblocks, with each sub-block's
/// scale (and Q4_K's min) from its range; llama.cpp reads them as its own.
void lk_quantize_q4_k(const float *x, void *out, size_t k);
void lk_quantize_q6_k(const float *x, void *out, size_t k);

/// Bytes of one activation row of `k` values (a multiple of 32) quantised for the Q8_0/Q4_0
/// kernels: ggml's Q8_0 codes and scales, laid out for them.
size_t lk_qact_bytes(size_t k);
/// Quantises `k` floats into an activation row (`lk_qact_bytes(k)` bytes at `out`) with the
/// values `lk_quantize_q8_0` gives.
void lk_quantize_activation(const float *x, void *out, size_t k);

/// y[r] = dot(W[r, :], x) for a quantised W (LK_Q8_0, LK_Q8_0X8, LK_Q4_0, LK_Q4_0X8, or LK_Q4_K / LK_Q6_K /
/// LK_Q4_KX8 with k a multiple of 256), rows [row_begin, row_end),
/// with x an activation row (`lk_quantize_activation`): integer dot products per block,
/// scaled by both blocks' scales, summed in f32.
void lk_matvec_q(int dtype, const void *w, const void *xq, float *y,
                 size_t row_begin, size_t row_end, size_t k);

/// `lk_matvec_q` for m activation rows (`lk_qact_bytes(k)` bytes apart): y[j * ldy + r].
/// Each weight block is read once for all m rows, and each value is computed exactly as
/// `lk_matvec_q` computes it alone.
void lk_matvec_rows_q(int dtype, const void *w, const void *xq, float *y,
                      size_t row_begin, size_t row_end, size_t k, size_t m, size_t ldy);

/// Widens `n` halfs / bfloat16s to f32.
void lk_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void lk_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
/// Narrows f32 to half (IEEE round-to-nearest-even) or bfloat16 (round-to-nearest-even, NaN kept).
void lk_f32_to_f16(const float *src, uint16_t *dst, size_t n);
void lk_f32_to_bf16(const float *src, uint16_t *dst, size_t n);

/// y[r] = dot(W[r, :], x) for r in [row_begin, row_end); W is rows × k of `dtype`, row stride k.
void lk_matvec(int dtype, const void *w, const float *x, float *y,
               size_t row_begin, size_t row_end, size_t k);

/// Several activation rows against one weight: y[j * ldy + r] = dot(W[r, :], x[j * k ...]) for
/// r in [row_begin, row_end) and j < m. Each weight row is read from memory once for all m
/// rows, and every y value is computed with exactly the arithmetic of `lk_matvec`, so a
/// row's result never depends on how many rows run beside it (batch invariance).
void lk_matvec_rows(int dtype, const void *w, const float *x, float *y,
                    size_t row_begin, size_t row_end, size_t k, size_t m, size_t ldy);

/// Expands `n` values of ggml type `type` (its GGUF number) to f32; `n` is a whole number of
/// blocks. Returns -1 for a type it does not know, 0 otherwise.
int lk_dequantize_ggml(uint32_t type, const void *src, float *dst, size_t n);

/// Dot product of two f32 vectors.
float lk_dot_f32(const float *a, const float *b, size_t n);
/// y += a * x over n floats.
void lk_axpy_f32(float a, const float *x, float *y, size_t n);
/// The f16-weight dot product of `lk_matvec` (a widened exactly), for one row.
float lk_dot_f16(const uint16_t *a, const float *b, size_t n);
/// y += a · x, x f16 widened exactly.
void lk_axpy_f16(float a, const uint16_t *x, float *y, size_t n);

/// e^x (elementwise.c): within 2 ulp, the same bits at every SIMD level; +inf above ~88.72,
/// subnormals then 0 below ~-87.3, NaN for NaN. y may be x.
void lk_exp(const float *x, float *y, size_t n);
/// In-place softmax over n values, max-subtracted; the sum's order depends on the level's width.
void lk_softmax(float *x, size_t n);
/// out = x · σ(a·x) · up = x / (1 + e^(-a·x)) · up (up NULL: no factor). SiLU gate of SwiGLU
/// (a = 1), CLIP's quick GELU (a = 1.702). out may be x or up.
void lk_sigmoid_gate(float *out, const float *x, const float *up, float a, size_t n);
/// SwiGLU backward with s = σ(gate): dGate = dOut·up·s·(1 + gate(1 − s)), dUp = dOut·gate·s,
/// added to what dGate and dUp hold when `accumulate`, written over it otherwise. dUp may be dOut.
void lk_swiglu_backward(float *dGate, float *dUp, const float *dOut, const float *gate, const float *up,
                        size_t n, int accumulate);
/// Quick GELU backward, accumulating: dx += dy · (s + 1.702 · x · s(1 − s)), s = σ(1.702x).
void lk_quick_gelu_backward(float *dx, const float *dy, const float *x, size_t n);

/// Lets freed large blocks stay in the process heap (glibc) so they are reused without page faults.
void lk_retain_freed_memory(void);

/// One task of a pool job: `task` runs from 0 to the job's task count - 1.
typedef void (*lk_pool_task)(void *ctx, size_t task);
/// Runs fn(ctx, 0) on the calling thread and fn(ctx, i) on the pool's worker i for i in
/// 1..<tasks (workers start on first use), returning when all are done. Returns -1 without
/// running anything when the pool is already running a job (another thread's, or the caller's
/// own from inside a task) or a worker cannot start: the caller runs the job some other way.
int lk_pool_run(size_t tasks, lk_pool_task fn, void *ctx);
/// How long an idle worker spins waiting for the next job before it sleeps (200 µs at start).
void lk_pool_set_spin(long nanoseconds);

/// When OpenBLAS fell back to its generic SSE3 kernels on a CPU it did not recognise, its kernels
/// are reselected by instruction set (AVX-512: Skylake-X, AVX2: Haswell) as the program loads,
/// before any BLAS call; returns the name chosen then, NULL when nothing changed (a known CPU,
/// OPENBLAS_CORETYPE set, or another BLAS).
const char *lk_select_blas_kernels(void);

/// 1 when the AVX2/FMA/F16C bodies are in use.
int lk_has_avx2(void);
/// 1 when the several-row kernels may also use AVX-512VL's 32 vector registers.
int lk_has_avx512vl(void);
/// Caps the instruction sets the kernels pick at run time (0: portable C, 1: AVX2, 2: AVX2 with
/// AVX-512VL's registers, 3: all the CPU has, 512-bit bodies included), so tests can run every
/// body. The dot products' arithmetic depends on the level (8 or 16 lanes per accumulator);
/// within one level every entry point computes a row exactly alike.
void lk_limit_simd(int level);
/// The level the kernels run at now (0-3, as in `lk_limit_simd`).
int lk_simd_level(void);

#endif
