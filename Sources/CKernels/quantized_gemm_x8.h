// Many activation rows against an interleaved weight (LK_Q4_0X8, LK_Q4_KX8): the prompt's
// GEMM, included by quantized_matvec.c after quantized_matvec_x8.h (whose layouts, activation
// rows and per-block terms it reads).
//
// A tile is one group of eight weight rows × RA activation rows (RA = 4 with AVX-512VL's 32
// registers, 2 with AVX2's 16). Each weight vector is loaded and its nibbles unpacked once per
// tile, then meets the RA activation rows' broadcast words, where the one-row body
// (quantized_matvec_x8.h) unpacks it again for every activation row.
//
// Every output value is computed with the one-row body's arithmetic, bit for bit: the same
// exact integer block sums (AVX2: maddubs pairs in 16 bits, then madd; VNNI: vpdpbusd, which
// gives the same exact 32-bit lane sums) and the same float operations in the same order
// (block b into accumulator b % 2, the superblock's min term last). So a prompt row gets what
// decode computes for it, and `lk_matvec_rows_q` stays batch invariant whichever path it takes.
//
// Loop order: the thread's groups in blocks of about 5/8 of L2 of weight (kept there), for each
// block the activation rows in tiles of RA (their codes, a few KB per 1024 columns, stay in L1
// across the block's groups), so the activations are read from memory once per weight block
// and the weight once per call.

/// Most blocks of 32 columns the GEMM takes (the per-block terms of a tile live on the stack).
#define LKQ_GEMM_MAX_NB 2048
#define LKQ_GEMM_MAX_RA 4

/// Bytes of weight per block: about 5/8 of the L2 cache, the rest left to a tile's activation
/// rows. Larger blocks also recompute the activation rows' per-block terms less often (once per
/// block and tile): on the 7B 4096 × 11008 shape (Ice Lake, 1.25 MB L2) 768 KB blocks ran
/// 140-260 ms against 250-300 ms with 256 KB.
static size_t gemm_block_bytes(void) {
    static size_t bytes = 0;
    if (!bytes) {
        long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
        size_t b = l2 > 0 ? (size_t)l2 / 8 * 5 : 256 << 10;
        bytes = b < (256 << 10) ? 256 << 10 : b > (1 << 20) ? 1 << 20 : b;
    }
    return bytes;
}

typedef void (*lkq_x8_gemm_fn)(const uint8_t *g, const lkq_act *x, const void *pre, size_t nb, float *acc);

#ifdef LKQ_X86
/// s += the unsigned nibbles q times the broadcast signed activation word at c (4 products per
/// 32-bit lane): 16-bit pairs with AVX2 (folded into 32 bits by `LKQ_G_FOLD`), 32-bit lanes
/// with VNNI.
#define LKQ_G_MAC_AVX2(s, q, c) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(q, _mm256_set1_epi32(word_at(c))))
#define LKQ_G_MAC_VNNI(s, q, c) s = _mm256_dpbusd_epi32(s, q, _mm256_set1_epi32(word_at(c)))
#define LKQ_G_FOLD_AVX2(s) _mm256_madd_epi16(s, _mm256_set1_epi16(1))
#define LKQ_G_FOLD_VNNI(s) (s)
/// Two partial sums joined: 16-bit pairs (at most 8 · 2 · 15 · 127 < 2^15 together) or 32-bit lanes.
#define LKQ_G_JOIN_AVX2(u, v) _mm256_add_epi16(u, v)
#define LKQ_G_JOIN_VNNI(u, v) _mm256_add_epi32(u, v)

static inline int32_t word_at(const int8_t *c) {
    int32_t w;
    memcpy(&w, c, 4);
    return w;
}

/// Q4_0X8, one group × RA activation rows over all nb blocks: acc[j * 16 + r] and
/// acc[j * 16 + 8 + r] are activation row j's two accumulators for weight row r, as
/// `q4_0x8_avx2` leaves them; `pre` holds each row's -8 · Σ codes per block, nb apart.
#define LKQ_GEMM_Q4_0X8(NAME, TARGET, RA, MAC)                                                      \
TARGET static void NAME(const uint8_t *g, const lkq_act *x, const void *pre_, size_t nb, float *acc) { \
    const int32_t *pre = (const int32_t *)pre_;                                                    \
    const __m256i low = _mm256_set1_epi8(0x0F);                                                    \
    __m256 a[RA][2];                                                                               \
    for (int j = 0; j < RA; j++) a[j][0] = a[j][1] = _mm256_setzero_ps();                          \
    size_t b = 0;                                                                                  \
    for (; b + 2 <= nb; b += 2) {                                                                  \
        LKQ_GEMM_Q4_0X8_STEP(RA, MAC, b, 0)                                                        \
        LKQ_GEMM_Q4_0X8_STEP(RA, MAC, b + 1, 1)                                                    \
    }                                                                                              \
    if (b < nb) { LKQ_GEMM_Q4_0X8_STEP(RA, MAC, b, 0) }                                            \
    for (int j = 0; j < RA; j++) {                                                                 \
        _mm256_storeu_ps(acc + j * 16, a[j][0]);                                                   \
        _mm256_storeu_ps(acc + j * 16 + 8, a[j][1]);                                               \
    }                                                                                              \
}

/// Block bi into accumulator h: the low and high nibbles' products in two integer chains per
/// activation row (their sum is the same exact integer, with half the latency).
#define LKQ_GEMM_Q4_0X8_STEP(RA, MAC, bi, h)                                                        \
    {                                                                                              \
        const uint8_t *p = g + (bi) * LK_Q4_0X8_BLOCK_BYTES;                                       \
        __m256i s[RA][2];                                                                          \
        for (int j = 0; j < RA; j++) s[j][0] = s[j][1] = _mm256_setzero_si256();                   \
        for (int i = 0; i < 4; i++) {                                                              \
            __m256i v = _mm256_loadu_si256((const __m256i *)(p + 16 + 32 * i));                    \
            __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low); \
            for (int j = 0; j < RA; j++) {                                                         \
                LKQ_G_MAC_##MAC(s[j][0], lo, x[j].codes + (bi) * 32 + 4 * i);                      \
                LKQ_G_MAC_##MAC(s[j][1], hi, x[j].codes + (bi) * 32 + 16 + 4 * i);                 \
            }                                                                                      \
        }                                                                                          \
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));                          \
        for (int j = 0; j < RA; j++) {                                                             \
            __m256i t = _mm256_add_epi32(LKQ_G_FOLD_##MAC(LKQ_G_JOIN_##MAC(s[j][0], s[j][1])), \
                                         _mm256_set1_epi32(pre[j * nb + (bi)]));                   \
            __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(x[j].scale8[(bi) * 8]));                   \
            a[j][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), d, a[j][h]);                          \
        }                                                                                          \
    }

/// Q4_KX8 likewise (nb a multiple of 8), as `q4_kx8_avx2` computes it; `pre` holds each row's
/// dxC per block.
#define LKQ_GEMM_Q4_KX8(NAME, TARGET, RA, MAC)                                                      \
TARGET static void NAME(const uint8_t *g, const lkq_act *x, const void *pre_, size_t nb, float *acc) { \
    const float *dxc = (const float *)pre_;                                                        \
    const __m256i low = _mm256_set1_epi8(0x0F);                                                    \
    __m256 a[RA][2];                                                                               \
    for (int j = 0; j < RA; j++) a[j][0] = a[j][1] = _mm256_setzero_ps();                          \
    for (size_t sb = 0; sb < nb / 8; sb++) {                                                       \
        const uint8_t *p = g + sb * LK_Q4_KX8_BLOCK_BYTES;                                         \
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)), t[RA];                    \
        for (int j = 0; j < RA; j++) t[j] = _mm256_setzero_ps();                                   \
        for (int q = 0; q < 4; q++) {                                                              \
            const uint8_t *v = p + 160 + 256 * q;                                                  \
            __m256i s[RA][2];                                                                      \
            for (int j = 0; j < RA; j++) s[j][0] = s[j][1] = _mm256_setzero_si256();               \
            for (int i = 0; i < 8; i++) {                                                          \
                __m256i w = _mm256_loadu_si256((const __m256i *)(v + 32 * i));                     \
                __m256i lo = _mm256_and_si256(w, low), hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), low); \
                for (int j = 0; j < RA; j++) {                                                     \
                    const int8_t *c = x[j].codes + sb * 256 + 64 * q + 4 * i;                      \
                    LKQ_G_MAC_##MAC(s[j][0], lo, c);                                               \
                    LKQ_G_MAC_##MAC(s[j][1], hi, c + 32);                                          \
                }                                                                                  \
            }                                                                                      \
            for (int h = 0; h < 2; h++) {                                                          \
                size_t sub = 2 * q + h, blk = sb * 8 + sub;                                        \
                __m256 dsc = _mm256_mul_ps(d, x8_bytes_ps(p + 32 + 8 * sub));                      \
                __m256 mins = x8_bytes_ps(p + 96 + 8 * sub);                                       \
                for (int j = 0; j < RA; j++) {                                                     \
                    __m256 f = _mm256_mul_ps(dsc, _mm256_loadu_ps(x[j].scale8 + blk * 8));         \
                    a[j][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(LKQ_G_FOLD_##MAC(s[j][h])), f, a[j][h]); \
                    t[j] = _mm256_fmadd_ps(mins, _mm256_set1_ps(dxc[j * nb + blk]), t[j]);         \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));                 \
        for (int j = 0; j < RA; j++) a[j][1] = _mm256_fnmadd_ps(dmin, t[j], a[j][1]);              \
    }                                                                                              \
    for (int j = 0; j < RA; j++) {                                                                 \
        _mm256_storeu_ps(acc + j * 16, a[j][0]);                                                   \
        _mm256_storeu_ps(acc + j * 16 + 8, a[j][1]);                                               \
    }                                                                                              \
}

LKQ_GEMM_Q4_0X8(q4_0x8_gemm_avx2, LKQ_AVX2, 2, AVX2)
LKQ_GEMM_Q4_0X8(q4_0x8_gemm_vl, LKQ_VL, 4, AVX2)
LKQ_GEMM_Q4_0X8(q4_0x8_gemm_vnni, LKQ_VNNI256, 4, VNNI)
LKQ_GEMM_Q4_KX8(q4_kx8_gemm_avx2, LKQ_AVX2, 2, AVX2)
LKQ_GEMM_Q4_KX8(q4_kx8_gemm_vl, LKQ_VL, 4, AVX2)
LKQ_GEMM_Q4_KX8(q4_kx8_gemm_vnni, LKQ_VNNI256, 4, VNNI)
#undef LKQ_GEMM_Q4_0X8
#undef LKQ_GEMM_Q4_0X8_STEP
#undef LKQ_GEMM_Q4_KX8
#endif

/// The tile body for `dtype` at this level and its activation rows, or rows 0 (none: levels
/// without the interleaved bodies).
typedef struct {
    lkq_x8_gemm_fn body;
    size_t rows;
} lkq_x8_gemm;

static lkq_x8_gemm x8_gemm_body(int dtype) {
#ifdef LKQ_X86
    int level = lk_simd_level(), k4 = dtype == LK_Q4_KX8;
    if (dtype == LK_Q8_0X8) return (lkq_x8_gemm){NULL, 0};
    if (level >= 2 && has_vnni()) return (lkq_x8_gemm){k4 ? q4_kx8_gemm_vnni : q4_0x8_gemm_vnni, 4};
    if (level >= 2 && lk_has_avx512vl()) return (lkq_x8_gemm){k4 ? q4_kx8_gemm_vl : q4_0x8_gemm_vl, 4};
    if (level >= 1) return (lkq_x8_gemm){k4 ? q4_kx8_gemm_avx2 : q4_0x8_gemm_avx2, 2};
#endif
    (void)dtype;
    return (lkq_x8_gemm){NULL, 0};
}

/// y[j * ldy + row] for m activation rows and the weight rows in [row_begin, row_end) of an
/// interleaved weight, by tiles (see the top of this file); a last tile of fewer than RA rows
/// runs the one-row body, which computes the same values. Returns 0 without writing anything
/// when this level has no tile body or the rows are too long for the stack's per-block terms.
static int x8_gemm(int dtype, const void *w, const void *xq, float *y, size_t row_begin, size_t row_end,
                   size_t k, size_t m, size_t ldy) {
    const lkq_x8_kind *t = x8_kind(dtype);
    lkq_x8_gemm tile = x8_gemm_body(dtype);
    size_t nb = k / 32;
    if (!tile.body || !t->body || nb > LKQ_GEMM_MAX_NB) return 0;
    size_t group_bytes = nb * t->unit, x_bytes = lk_qact_bytes(k);
    size_t g0 = row_begin / LKQ_X8_ROWS, g1 = (row_end + LKQ_X8_ROWS - 1) / LKQ_X8_ROWS;
    size_t per_block = gemm_block_bytes() / group_bytes > 1 ? gemm_block_bytes() / group_bytes : 1;
    int32_t pre[LKQ_GEMM_MAX_RA * LKQ_GEMM_MAX_NB];
    float acc[LKQ_GEMM_MAX_RA * 2 * LKQ_X8_ROWS];
    lkq_act xs[LKQ_GEMM_MAX_RA];
    for (size_t gb0 = g0; gb0 < g1; gb0 += per_block) {
        size_t gb1 = gb0 + per_block < g1 ? gb0 + per_block : g1;
        for (size_t j0 = 0; j0 < m; j0 += tile.rows) {
            size_t mm = m - j0 < tile.rows ? m - j0 : tile.rows;
            for (size_t j = 0; j < mm; j++) {
                xs[j] = act_at((const uint8_t *)xq + (j0 + j) * x_bytes, k);
                t->prep(xs[j], nb, pre + j * nb);
            }
            for (size_t g = gb0; g < gb1; g++) {
                const uint8_t *wg = (const uint8_t *)w + g * group_bytes;
                if (mm == tile.rows) {
                    tile.body(wg, xs, pre, nb, acc);
                } else {
                    memset(acc, 0, sizeof(acc));
                    for (size_t j = 0; j < mm; j++) t->body(wg, xs[j], pre + j * nb, 0, nb, acc + j * 16);
                }
                for (size_t r = 0; r < LKQ_X8_ROWS; r++) {
                    size_t row = g * LKQ_X8_ROWS + r;
                    if (row < row_begin || row >= row_end) continue;
                    for (size_t j = 0; j < mm; j++) y[(j0 + j) * ldy + row] = acc[j * 16 + r] + acc[j * 16 + 8 + r];
                }
            }
        }
    }
    return 1;
}
