// Q4_0 with eight weight rows interleaved (LK_Q4_0X8), included by quantized_matvec.c: the
// activation row layout is that file's.
//
// Group g holds rows 8g..8g+7; its block b (LK_Q4_0X8_BLOCK_BYTES) is the eight rows' f16
// scales, then four vectors of 32 bytes: vector i holds word i (bytes 4i..4i+3) of each row's
// 16 nibble bytes, row after row. Unpacked, the low nibbles of vector i are elements 4i..4i+3
// of the eight rows (one 32-bit lane per row), the high nibbles elements 16+4i..16+4i+3, so
// each meets one broadcast word of the activation block.
//
// Arithmetic at levels 1-2 (AVX2), lane r being row r: the block's exact integer sum
// s = Σ (q - 8)·x over its 32 values (pairs of products in 16 bits, the eight vectors' pairs
// added in 16 bits: at most 8 · 2 · 15 · 127 < 2^15, then pairs of pairs in 32 bits, then
// -8·Σx), then acc[b % 2] += (float)s · (d_w · d_x) by FMA; the row's value is acc[0] + acc[1].
// The several-row path runs the same body for each activation row, so a row's value never
// depends on the rows beside it. At levels 0 and 3 a group is put back in row order and the
// LK_Q4_0 path computes it (that level's arithmetic).

enum { LKQ_X8_ROWS = 8 };

static void x8_block_to_rows(const uint8_t *src, uint8_t *rows[LKQ_X8_ROWS]) {
    for (int r = 0; r < LKQ_X8_ROWS; r++) {
        memcpy(rows[r], src + 2 * r, 2);
        for (int i = 0; i < 4; i++) memcpy(rows[r] + 2 + 4 * i, src + 16 + 32 * i + 4 * r, 4);
    }
}

static void x8_group_to_rows(const uint8_t *src, uint8_t *dst, size_t nb) {
    for (size_t b = 0; b < nb; b++) {
        uint8_t *rows[LKQ_X8_ROWS];
        for (int r = 0; r < LKQ_X8_ROWS; r++) rows[r] = dst + r * nb * LK_Q4_0_BLOCK_BYTES + b * LK_Q4_0_BLOCK_BYTES;
        x8_block_to_rows(src + b * LK_Q4_0X8_BLOCK_BYTES, rows);
    }
}

void lk_interleave_q4_0x8(const void *src, void *dst, size_t rows, size_t k) {
    size_t nb = k / 32, row_bytes = nb * LK_Q4_0_BLOCK_BYTES;
    for (size_t g = 0; g < rows / LKQ_X8_ROWS; g++) {
        const uint8_t *s = (const uint8_t *)src + g * LKQ_X8_ROWS * row_bytes;
        uint8_t *d = (uint8_t *)dst + g * LKQ_X8_ROWS * row_bytes;
        for (size_t b = 0; b < nb; b++, d += LK_Q4_0X8_BLOCK_BYTES) {
            for (int r = 0; r < LKQ_X8_ROWS; r++) {
                const uint8_t *blk = s + r * row_bytes + b * LK_Q4_0_BLOCK_BYTES;
                memcpy(d + 2 * r, blk, 2);
                for (int i = 0; i < 4; i++) memcpy(d + 16 + 32 * i + 4 * r, blk + 2 + 4 * i, 4);
            }
        }
    }
}

void lk_deinterleave_q4_0x8(const void *src, void *dst, size_t rows, size_t k) {
    size_t nb = k / 32, group_bytes = LKQ_X8_ROWS * nb * LK_Q4_0_BLOCK_BYTES;
    for (size_t g = 0; g < rows / LKQ_X8_ROWS; g++)
        x8_group_to_rows((const uint8_t *)src + g * group_bytes, (uint8_t *)dst + g * group_bytes, nb);
}

#ifdef LKQ_X86
/// `lk_dequantize_q4_0x8` with AVX2: each row's 16 nibble bytes gathered from the four vectors,
/// then Q4_0's formula on 8 values at a time (the same exact int-to-float and one rounding).
LKQ_AVX2 static void dequantize_q4_0x8_avx2(const uint8_t *p, float *dst, size_t rows, size_t k) {
    size_t nb = k / 32;
    const __m128i low = _mm_set1_epi8(0x0F);
    const __m256i eight = _mm256_set1_epi32(8);
    for (size_t g = 0; g < rows / LKQ_X8_ROWS; g++) {
        for (size_t b = 0; b < nb; b++, p += LK_Q4_0X8_BLOCK_BYTES) {
            float d[LKQ_X8_ROWS];
            _mm256_storeu_ps(d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)));
            for (int r = 0; r < LKQ_X8_ROWS; r++) {
                int32_t w[4];
                for (int i = 0; i < 4; i++) memcpy(w + i, p + 16 + 32 * i + 4 * r, 4);
                __m128i v = _mm_loadu_si128((const __m128i *)w);
                __m128i q[2] = {_mm_and_si128(v, low), _mm_and_si128(_mm_srli_epi16(v, 4), low)};
                __m256 dv = _mm256_set1_ps(d[r]);
                float *y = dst + (g * LKQ_X8_ROWS + r) * k + b * 32;
                for (int h = 0; h < 2; h++)
                    for (int e = 0; e < 2; e++) {
                        __m256i n = _mm256_sub_epi32(_mm256_cvtepu8_epi32(e ? _mm_srli_si128(q[h], 8) : q[h]), eight);
                        _mm256_storeu_ps(y + 16 * h + 8 * e, _mm256_mul_ps(dv, _mm256_cvtepi32_ps(n)));
                    }
            }
        }
    }
}
#endif

void lk_dequantize_q4_0x8(const void *src, float *dst, size_t rows, size_t k) {
#ifdef LKQ_X86
    if (lk_simd_level() >= 1) { dequantize_q4_0x8_avx2((const uint8_t *)src, dst, rows, k); return; }
#endif
    // Q4_0's formula (quants.c): d * (float)(nibble - 8), element by element.
    size_t nb = k / 32;
    const uint8_t *p = (const uint8_t *)src;
    for (size_t g = 0; g < rows / LKQ_X8_ROWS; g++) {
        for (size_t b = 0; b < nb; b++, p += LK_Q4_0X8_BLOCK_BYTES) {
            for (int r = 0; r < LKQ_X8_ROWS; r++) {
                float d = f16_at(p + 2 * r), *y = dst + (g * LKQ_X8_ROWS + r) * k + b * 32;
                for (int i = 0; i < 4; i++) {
                    const uint8_t *q = p + 16 + 32 * i + 4 * r;
                    for (int t = 0; t < 4; t++) {
                        y[4 * i + t] = d * (float)((int)(q[t] & 0x0F) - 8);
                        y[16 + 4 * i + t] = d * (float)((int)(q[t] >> 4) - 8);
                    }
                }
            }
        }
    }
}

int lk_prefers_q4_0x8(void) {
    int level = lk_simd_level();
    return level == 1 || level == 2;
}

#ifdef LKQ_X86
/// acc[0..7] and acc[8..15] (accumulators 0 and 1, lane r = row r of the group) += blocks
/// [b0, b1) of group `g` against activation row `x`; `boff[b - b0]` is -8 · Σ of block b's codes.
LKQ_AVX2 static void q4_0x8_avx2(const uint8_t *g, lkq_act x, const int32_t *boff, size_t b0, size_t b1, float *acc) {
    __m256 a0 = _mm256_loadu_ps(acc), a1 = _mm256_loadu_ps(acc + 8);
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
#define LKQ_X8_WORD(i)                                                                              \
    {                                                                                              \
        int32_t lo, hi;                                                                            \
        memcpy(&lo, x.codes + bi * 32 + 4 * (i), 4);                                               \
        memcpy(&hi, x.codes + bi * 32 + 16 + 4 * (i), 4);                                          \
        __m256i v = _mm256_loadu_si256((const __m256i *)(p + 16 + 32 * (i)));                      \
        sum = _mm256_add_epi16(sum, _mm256_maddubs_epi16(_mm256_and_si256(v, low), _mm256_set1_epi32(lo))); \
        sum = _mm256_add_epi16(sum, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), low), _mm256_set1_epi32(hi))); \
    }
#define LKQ_X8_STEP(bi_, acc_)                                                                      \
    {                                                                                              \
        size_t bi = (bi_);                                                                         \
        const uint8_t *p = g + bi * LK_Q4_0X8_BLOCK_BYTES;                                         \
        _mm_prefetch((const char *)p + LKQ_AHEAD, _MM_HINT_T0);                                 \
        _mm_prefetch((const char *)p + LKQ_AHEAD + 64, _MM_HINT_T0);                            \
        _mm_prefetch((const char *)p + LKQ_AHEAD + 128, _MM_HINT_T0);                           \
        __m256i sum = _mm256_setzero_si256();                                                      \
        LKQ_X8_WORD(0) LKQ_X8_WORD(1) LKQ_X8_WORD(2) LKQ_X8_WORD(3)                                \
        __m256i s = _mm256_add_epi32(_mm256_madd_epi16(sum, ones), _mm256_set1_epi32(boff[bi - b0]));   \
        __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)), _mm256_set1_ps(x.scale8[bi * 8])); \
        acc_ = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), d, acc_);                                    \
    }
    for (size_t b = b0; b < b1; b += 2) {
        LKQ_X8_STEP(b, a0)
        if (b + 1 < b1) LKQ_X8_STEP(b + 1, a1)
    }
#undef LKQ_X8_STEP
#undef LKQ_X8_WORD
    _mm256_storeu_ps(acc, a0);
    _mm256_storeu_ps(acc + 8, a1);
}
#endif

static size_t mm_blocks(size_t m, size_t nb) { return (m < LKQ_MAX_M ? m : LKQ_MAX_M) * nb; }

/// `lk_matvec_rows_q` on LK_Q4_0X8 weights (m activation rows; m = 1 is `lk_matvec_q`).
static void matvec_rows_q4_0x8(const void *w, const void *xq, float *y, size_t row_begin, size_t row_end,
                               size_t k, size_t m, size_t ldy) {
    size_t nb = k / 32, group_bytes = LKQ_X8_ROWS * nb * LK_Q4_0_BLOCK_BYTES, x_bytes = lk_qact_bytes(k);
    size_t g0 = row_begin / LKQ_X8_ROWS, g1 = (row_end + LKQ_X8_ROWS - 1) / LKQ_X8_ROWS;
#ifdef LKQ_X86
    if (lk_prefers_q4_0x8()) {
        // -8 · Σ codes of every block of the activation rows, once per call.
        int32_t stack[2048], *boff = mm_blocks(m, nb) <= 2048 ? stack : (int32_t *)malloc(mm_blocks(m, nb) * 4);
        if (!boff) abort();
        float acc[LKQ_MAX_M][2 * LKQ_X8_ROWS];
        lkq_act xs[LKQ_MAX_M];
        size_t tile = m == 1 ? nb : LKQ_TILE;
        for (size_t j0 = 0; j0 < m; j0 += LKQ_MAX_M) {
            size_t mm = m - j0 < LKQ_MAX_M ? m - j0 : LKQ_MAX_M;
            for (size_t j = 0; j < mm; j++) {
                xs[j] = act_at((const uint8_t *)xq + (j0 + j) * x_bytes, k);
                for (size_t b = 0; b < nb; b++) {
                    const int32_t *o = xs[j].offset8 + b * 8;
                    boff[j * nb + b] = o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
                }
            }
            for (size_t g = g0; g < g1; g++) {
                const uint8_t *wg = (const uint8_t *)w + g * group_bytes;
                memset(acc, 0, sizeof(acc));
                // A tile of the group's blocks stays in L1 across the activation rows.
                for (size_t t0 = 0; t0 < nb; t0 += tile) {
                    size_t t1 = t0 + tile < nb ? t0 + tile : nb;
                    for (size_t j = 0; j < mm; j++) q4_0x8_avx2(wg, xs[j], boff + j * nb + t0, t0, t1, acc[j]);
                }
                for (size_t r = 0; r < LKQ_X8_ROWS; r++) {
                    size_t row = g * LKQ_X8_ROWS + r;
                    if (row < row_begin || row >= row_end) continue;
                    for (size_t j = 0; j < mm; j++) y[(j0 + j) * ldy + row] = acc[j][r] + acc[j][LKQ_X8_ROWS + r];
                }
            }
        }
        if (boff != stack) free(boff);
        return;
    }
#endif
    // Other levels: each group back in row order, then the LK_Q4_0 path.
    uint8_t *rows = (uint8_t *)malloc(group_bytes);
    if (!rows) abort();
    for (size_t g = g0; g < g1; g++) {
        x8_group_to_rows((const uint8_t *)w + g * group_bytes, rows, nb);
        size_t lo = g * LKQ_X8_ROWS < row_begin ? row_begin - g * LKQ_X8_ROWS : 0;
        size_t hi = (g + 1) * LKQ_X8_ROWS > row_end ? row_end - g * LKQ_X8_ROWS : LKQ_X8_ROWS;
        if (m == 1) lk_matvec_q(LK_Q4_0, rows, xq, y + g * LKQ_X8_ROWS, lo, hi, k);
        else lk_matvec_rows_q(LK_Q4_0, rows, xq, y + g * LKQ_X8_ROWS, lo, hi, k, m, ldy);
    }
    free(rows);
}
