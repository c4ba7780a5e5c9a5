// Q4_0 with four weight rows interleaved (LK_Q4_0X4), included by quantized_matvec.c: the
// activation row, accumulator and `finish` conventions are that file's.
//
// Group g holds rows 4g..4g+3; its block b (LK_Q4_0X4_BLOCK_BYTES) is the four rows' f16
// scales, then two halves of 32 bytes: half c holds, row after row, bytes 8c..8c+7 of each
// row's 16 nibble bytes. Unpacked, the low nibbles of half 0 are elements 0..7 of the four
// rows (chunks 0 and 1, a lane of 4 per row and chunk), its high nibbles elements 16..23
// (chunks 4, 5); half 1 gives chunks 2, 3 and 6, 7. One unpacked vector thus meets one
// broadcast 8 bytes of the activation block and yields, lane for lane, the very sums of 4
// products that the row-at-a-time AVX2 body yields, scaled and accumulated by the same
// operations into the same accumulator lanes: every value is bit-identical to LK_Q4_0's at
// levels 1-2, where the row-at-a-time body reads each block's 16 bytes and unpacks them once
// per row, and this one reads 64 contiguous bytes and unpacks them once per four rows.
// At levels 0 and 3 a group is put back in row order and the LK_Q4_0 path computes it.

enum { LKQ_X4_ROWS = 4 };

static void x4_block_to_rows(const uint8_t *src, uint8_t *rows[LKQ_X4_ROWS]) {
    for (int r = 0; r < LKQ_X4_ROWS; r++) {
        memcpy(rows[r], src + 2 * r, 2);
        for (int c = 0; c < 2; c++) memcpy(rows[r] + 2 + 8 * c, src + 8 + 32 * c + 8 * r, 8);
    }
}

static void x4_group_to_rows(const uint8_t *src, uint8_t *dst, size_t nb) {
    for (size_t b = 0; b < nb; b++) {
        uint8_t *rows[LKQ_X4_ROWS];
        for (int r = 0; r < LKQ_X4_ROWS; r++) rows[r] = dst + r * nb * LK_Q4_0_BLOCK_BYTES + b * LK_Q4_0_BLOCK_BYTES;
        x4_block_to_rows(src + b * LK_Q4_0X4_BLOCK_BYTES, rows);
    }
}

void lk_interleave_q4_0x4(const void *src, void *dst, size_t rows, size_t k) {
    size_t nb = k / 32, row_bytes = nb * LK_Q4_0_BLOCK_BYTES;
    for (size_t g = 0; g < rows / LKQ_X4_ROWS; g++) {
        const uint8_t *s = (const uint8_t *)src + g * LKQ_X4_ROWS * row_bytes;
        uint8_t *d = (uint8_t *)dst + g * LKQ_X4_ROWS * row_bytes;
        for (size_t b = 0; b < nb; b++, d += LK_Q4_0X4_BLOCK_BYTES) {
            for (int r = 0; r < LKQ_X4_ROWS; r++) {
                const uint8_t *blk = s + r * row_bytes + b * LK_Q4_0_BLOCK_BYTES;
                memcpy(d + 2 * r, blk, 2);
                for (int c = 0; c < 2; c++) memcpy(d + 8 + 32 * c + 8 * r, blk + 2 + 8 * c, 8);
            }
        }
    }
}

void lk_deinterleave_q4_0x4(const void *src, void *dst, size_t rows, size_t k) {
    size_t nb = k / 32, group_bytes = LKQ_X4_ROWS * nb * LK_Q4_0_BLOCK_BYTES;
    for (size_t g = 0; g < rows / LKQ_X4_ROWS; g++)
        x4_group_to_rows((const uint8_t *)src + g * group_bytes, (uint8_t *)dst + g * group_bytes, nb);
}

void lk_dequantize_q4_0x4(const void *src, float *dst, size_t rows, size_t k) {
    // Q4_0's formula (quants.c): d * (float)(nibble - 8), element by element.
    size_t nb = k / 32;
    const uint8_t *p = (const uint8_t *)src;
    for (size_t g = 0; g < rows / LKQ_X4_ROWS; g++) {
        for (size_t b = 0; b < nb; b++, p += LK_Q4_0X4_BLOCK_BYTES) {
            for (int r = 0; r < LKQ_X4_ROWS; r++) {
                float d = f16_at(p + 2 * r), *y = dst + (g * LKQ_X4_ROWS + r) * k + b * 32;
                for (int c = 0; c < 2; c++) {
                    const uint8_t *q = p + 8 + 32 * c + 8 * r;
                    for (int t = 0; t < 8; t++) {
                        y[8 * c + t] = d * (float)((int)(q[t] & 0x0F) - 8);
                        y[16 + 8 * c + t] = d * (float)((int)(q[t] >> 4) - 8);
                    }
                }
            }
        }
    }
}

int lk_prefers_q4_0x4(void) {
    int level = lk_simd_level();
    return level == 1 || level == 2;
}

#ifdef LKQ_X86
/// acc (4 rows × 2 accumulators × 8 lanes, row r at acc + 16 r, as the row-at-a-time bodies
/// keep them) += blocks [b0, b1) of group `g` against activation row `xq`. In registers,
/// a[h][v] lane 2r + i is row r's lane 2v + i of accumulator h.
LKQ_AVX2 static void q4_0x4_avx2(const uint8_t *g, const uint8_t *xq, size_t k, size_t b0, size_t b1, float *acc) {
    lkq_act x = act_at(xq, k);
    __m256 a[2][4];
    float t[8];
    for (int h = 0; h < 2; h++)
        for (int v = 0; v < 4; v++) {
            for (int r = 0; r < LKQ_X4_ROWS; r++) memcpy(t + 2 * r, acc + 16 * r + 8 * h + 2 * v, 8);
            a[h][v] = _mm256_loadu_ps(t);
        }
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const __m256i pairs = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
#define LKQ_X4_CHUNKS(v, nib, byte)                                                                 \
    {                                                                                              \
        int64_t xc, xo;                                                                            \
        memcpy(&xc, x.codes + bi * 32 + (byte), 8);                                                \
        memcpy(&xo, x.offset8 + bi * 8 + (byte) / 4, 8);                                           \
        __m256i l = _mm256_madd_epi16(_mm256_maddubs_epi16(nib, _mm256_set1_epi64x(xc)), ones);   \
        l = _mm256_add_epi32(l, _mm256_set1_epi64x(xo));                                           \
        a[h][v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(l), s, a[h][v]);                              \
    }
#define LKQ_X4_STEP(bi_, h_)                                                                        \
    {                                                                                              \
        size_t bi = (bi_);                                                                         \
        int h = (h_);                                                                              \
        const uint8_t *p = g + bi * LK_Q4_0X4_BLOCK_BYTES;                                         \
        __m256 dw = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)p))), pairs); \
        __m256 s = _mm256_mul_ps(dw, _mm256_loadu_ps(x.scale8 + bi * 8));                          \
        __m256i q0 = _mm256_loadu_si256((const __m256i *)(p + 8));                                 \
        __m256i q1 = _mm256_loadu_si256((const __m256i *)(p + 40));                                \
        LKQ_X4_CHUNKS(0, _mm256_and_si256(q0, low), 0)                                             \
        LKQ_X4_CHUNKS(1, _mm256_and_si256(q1, low), 8)                                             \
        LKQ_X4_CHUNKS(2, _mm256_and_si256(_mm256_srli_epi16(q0, 4), low), 16)                      \
        LKQ_X4_CHUNKS(3, _mm256_and_si256(_mm256_srli_epi16(q1, 4), low), 24)                      \
    }
    for (size_t b = b0; b < b1; b += 2) {
        LKQ_X4_STEP(b, 0)
        if (b + 1 < b1) LKQ_X4_STEP(b + 1, 1)
    }
#undef LKQ_X4_STEP
#undef LKQ_X4_CHUNKS
    for (int h = 0; h < 2; h++)
        for (int v = 0; v < 4; v++) {
            _mm256_storeu_ps(t, a[h][v]);
            for (int r = 0; r < LKQ_X4_ROWS; r++) memcpy(acc + 16 * r + 8 * h + 2 * v, t + 2 * r, 8);
        }
}
#endif

/// `lk_matvec_rows_q` on LK_Q4_0X4 weights (m activation rows; m = 1 is `lk_matvec_q`).
static void matvec_rows_q4_0x4(const void *w, const void *xq, float *y, size_t row_begin, size_t row_end,
                               size_t k, size_t m, size_t ldy) {
    size_t nb = k / 32, group_bytes = LKQ_X4_ROWS * nb * LK_Q4_0_BLOCK_BYTES, x_bytes = lk_qact_bytes(k);
    size_t g0 = row_begin / LKQ_X4_ROWS, g1 = (row_end + LKQ_X4_ROWS - 1) / LKQ_X4_ROWS;
#ifdef LKQ_X86
    if (lk_prefers_q4_0x4()) {
        // Activation rows in tiles of blocks, so a group's tile stays in L1 across them.
        float acc[LKQ_MAX_M][LKQ_X4_ROWS * 16];
        for (size_t g = g0; g < g1; g++) {
            const uint8_t *wg = (const uint8_t *)w + g * group_bytes;
            for (size_t j0 = 0; j0 < m; j0 += LKQ_MAX_M) {
                size_t mm = m - j0 < LKQ_MAX_M ? m - j0 : LKQ_MAX_M;
                memset(acc, 0, sizeof(acc));
                size_t tile = m == 1 ? nb : LKQ_TILE;
                for (size_t t0 = 0; t0 < nb; t0 += tile) {
                    size_t t1 = t0 + tile < nb ? t0 + tile : nb;
                    for (size_t j = 0; j < mm; j++)
                        q4_0x4_avx2(wg, (const uint8_t *)xq + (j0 + j) * x_bytes, k, t0, t1, acc[j]);
                }
                for (size_t r = 0; r < LKQ_X4_ROWS; r++) {
                    size_t row = g * LKQ_X4_ROWS + r;
                    if (row < row_begin || row >= row_end) continue;
                    for (size_t j = 0; j < mm; j++) y[(j0 + j) * ldy + row] = finish(acc[j] + 16 * r, 8);
                }
            }
        }
        return;
    }
#endif
    // Other levels: each group back in row order, then the LK_Q4_0 path.
    uint8_t *rows = (uint8_t *)malloc(group_bytes);
    if (!rows) abort();
    for (size_t g = g0; g < g1; g++) {
        x4_group_to_rows((const uint8_t *)w + g * group_bytes, rows, nb);
        size_t lo = g * LKQ_X4_ROWS < row_begin ? row_begin - g * LKQ_X4_ROWS : 0;
        size_t hi = (g + 1) * LKQ_X4_ROWS > row_end ? row_end - g * LKQ_X4_ROWS : LKQ_X4_ROWS;
        if (m == 1) lk_matvec_q(LK_Q4_0, rows, xq, y + g * LKQ_X4_ROWS, lo, hi, k);
        else lk_matvec_rows_q(LK_Q4_0, rows, xq, y + g * LKQ_X4_ROWS, lo, hi, k, m, ldy);
    }
    free(rows);
}
