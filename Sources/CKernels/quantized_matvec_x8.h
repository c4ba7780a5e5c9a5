// Q4_0, Q4_K and Q8_0 with eight weight rows interleaved (LK_Q4_0X8, LK_Q4_KX8, LK_Q8_0X8), included by
// quantized_matvec.c: the activation row layout is that file's. Group g holds rows 8g..8g+7.
//
// LK_Q4_0X8: block b of a group (LK_Q4_0X8_BLOCK_BYTES) is the eight rows' f16 scales, then
// four vectors of 32 bytes: vector i holds word i (bytes 4i..4i+3) of each row's 16 nibble
// bytes, row after row. Unpacked, the low nibbles of vector i are elements 4i..4i+3 of the
// eight rows (one 32-bit lane per row), the high nibbles elements 16+4i..16+4i+3, so each
// meets one broadcast word of the activation block.
//
// LK_Q8_0X8: as LK_Q4_0X8 with eight vectors of 32 bytes, vector i holding bytes 4i..4i+3 of
// each row's 32 codes; a code q is stored as q + 128 (one XOR), unsigned for VNNI.
//
// LK_Q4_KX8: superblock s of a group (LK_Q4_KX8_BLOCK_BYTES = 1184) is
//   [0, 16)     the eight rows' f16 d
//   [16, 32)    the eight rows' f16 dmin
//   [32, 96)    sc[j][r]: sub-block j's 6-bit scale in row r, one byte each (decoded from
//               Q4_K's 12 packed bytes, so the body reads them with one zero-extension)
//   [96, 160)   m[j][r]: the mins, likewise
//   [160, 1184) pair p (sub-blocks 2p and 2p+1, Q4_K's nibble bytes 32p..32p+31) at
//               160 + 256p: vector i (32 bytes) holds bytes 4i..4i+3 of each row's pair.
// Low nibbles of vector i are elements 4i..4i+3 of sub-block 2p, high ones of 2p+1, as in
// LK_Q4_0X8. The decoded scales cost 32 bytes per 1152 (+2.8%).
//
// Arithmetic at levels 1-2 (AVX2), lane r being row r:
//   Q4_0X8: the block's exact integer sum s = Σ (q - 8)·x over its 32 values (pairs of
//     products in 16 bits, the eight vectors' pairs added in 16 bits: at most 8 · 2 · 15 · 127
//     < 2^15, then pairs of pairs in 32 bits, then -8·Σx), then acc[b % 2] += (float)s ·
//     (d_w · d_x) by FMA.
//   Q4_KX8: per superblock, for sub-block j = 0..7 (activation block with scale dx_j, codes
//     c): S_j = Σ q·c exactly (as Q4_0X8's sums, without the offset), then
//     acc[j % 2] += (float)S_j · ((d · (float)sc_j) · dx_j) by FMA and
//     t = fma((float)m_j, dxC_j, t) from t = 0, dxC_j = dx_j · (float)Σc computed once per
//     activation row; after sub-block 7, acc[1] -= dmin · t by FMA.
//   Q8_0X8: the block's exact integer sum s = Σ q·x (AVX2: |q| times x with q's sign in 16
//     bits, pairs in 32; VNNI: Σ (q + 128)·x in 32 bits, then -128·Σx), then as Q4_0X8.
//   With VNNI (levels 2-3) the Q4 bodies take their nibble products straight to 32 bits; the
//   sums are the same integers, so every level from 1 up gives the same bits.
// The row's value is acc[0] + acc[1]. The several-row path runs the same body for each
// activation row (or, for several rows, the tiles of quantized_gemm_x8.h with the same
// arithmetic), so a row's value never depends on the rows beside it. At level 0 a
// group is put back in row order and the LK_Q4_0 / LK_Q4_K path computes it (that level's
// arithmetic). Widening puts a group back in row order and widens that (quants.c), so the
// values are the plain type's bit for bit.

enum { LKQ_X8_ROWS = 8 };

// MARK: - layouts

static void q4_0x8_group_to_rows(const uint8_t *src, uint8_t *dst, size_t nb) {
    for (size_t b = 0; b < nb; b++, src += LK_Q4_0X8_BLOCK_BYTES) {
        for (int r = 0; r < LKQ_X8_ROWS; r++) {
            uint8_t *row = dst + (r * nb + b) * LK_Q4_0_BLOCK_BYTES;
            memcpy(row, src + 2 * r, 2);
            for (int i = 0; i < 4; i++) memcpy(row + 2 + 4 * i, src + 16 + 32 * i + 4 * r, 4);
        }
    }
}

static void q4_0x8_group_from_rows(const uint8_t *src, uint8_t *dst, size_t nb) {
    for (size_t b = 0; b < nb; b++, dst += LK_Q4_0X8_BLOCK_BYTES) {
        for (int r = 0; r < LKQ_X8_ROWS; r++) {
            const uint8_t *row = src + (r * nb + b) * LK_Q4_0_BLOCK_BYTES;
            memcpy(dst + 2 * r, row, 2);
            for (int i = 0; i < 4; i++) memcpy(dst + 16 + 32 * i + 4 * r, row + 2 + 4 * i, 4);
        }
    }
}

static void q8_0x8_group_to_rows(const uint8_t *src, uint8_t *dst, size_t nb) {
    for (size_t b = 0; b < nb; b++, src += LK_Q8_0X8_BLOCK_BYTES) {
        for (int r = 0; r < LKQ_X8_ROWS; r++) {
            uint8_t *row = dst + (r * nb + b) * LK_Q8_0_BLOCK_BYTES;
            memcpy(row, src + 2 * r, 2);
            for (int i = 0; i < 8; i++)
                for (int e = 0; e < 4; e++) row[2 + 4 * i + e] = src[16 + 32 * i + 4 * r + e] ^ 0x80;
        }
    }
}

static void q8_0x8_group_from_rows(const uint8_t *src, uint8_t *dst, size_t nb) {
    for (size_t b = 0; b < nb; b++, dst += LK_Q8_0X8_BLOCK_BYTES) {
        for (int r = 0; r < LKQ_X8_ROWS; r++) {
            const uint8_t *row = src + (r * nb + b) * LK_Q8_0_BLOCK_BYTES;
            memcpy(dst + 2 * r, row, 2);
            for (int i = 0; i < 8; i++)
                for (int e = 0; e < 4; e++) dst[16 + 32 * i + 4 * r + e] = row[2 + 4 * i + e] ^ 0x80;
        }
    }
}

/// Q4_K's 12 packed bytes from the 6-bit scales and mins (the inverse of `q4_k_scales`).
static void q4_k_pack_scales(const uint8_t *sc, const uint8_t *m, uint8_t *q) {
    for (int j = 0; j < 4; j++) {
        q[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        q[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        q[j + 8] = (uint8_t)((sc[j + 4] & 0x0F) | (m[j + 4] & 0x0F) << 4);
    }
}

/// `nb` blocks of 32 columns (nb / 8 superblocks).
static void q4_kx8_group_to_rows(const uint8_t *src, uint8_t *dst, size_t nb) {
    for (size_t s = 0; s < nb / 8; s++, src += LK_Q4_KX8_BLOCK_BYTES) {
        for (int r = 0; r < LKQ_X8_ROWS; r++) {
            uint8_t *row = dst + (r * (nb / 8) + s) * LK_Q4_K_BLOCK_BYTES, sc[8], m[8];
            memcpy(row, src + 2 * r, 2);
            memcpy(row + 2, src + 16 + 2 * r, 2);
            for (int j = 0; j < 8; j++) { sc[j] = src[32 + 8 * j + r]; m[j] = src[96 + 8 * j + r]; }
            q4_k_pack_scales(sc, m, row + 4);
            for (int p = 0; p < 4; p++)
                for (int i = 0; i < 8; i++) memcpy(row + 16 + 32 * p + 4 * i, src + 160 + 256 * p + 32 * i + 4 * r, 4);
        }
    }
}

static void q4_kx8_group_from_rows(const uint8_t *src, uint8_t *dst, size_t nb) {
    for (size_t s = 0; s < nb / 8; s++, dst += LK_Q4_KX8_BLOCK_BYTES) {
        for (int r = 0; r < LKQ_X8_ROWS; r++) {
            const uint8_t *row = src + (r * (nb / 8) + s) * LK_Q4_K_BLOCK_BYTES;
            uint8_t sc[8], m[8];
            memcpy(dst + 2 * r, row, 2);
            memcpy(dst + 16 + 2 * r, row + 2, 2);
            q4_k_scales(row + 4, sc, m);
            for (int j = 0; j < 8; j++) { dst[32 + 8 * j + r] = sc[j]; dst[96 + 8 * j + r] = m[j]; }
            for (int p = 0; p < 4; p++)
                for (int i = 0; i < 8; i++) memcpy(dst + 160 + 256 * p + 32 * i + 4 * r, row + 16 + 32 * p + 4 * i, 4);
        }
    }
}

typedef void (*lkq_x8_regroup_fn)(const uint8_t *src, uint8_t *dst, size_t nb);
typedef void (*lkq_x8_prep_fn)(lkq_act x, size_t nb, void *pre);
typedef void (*lkq_x8_body_fn)(const uint8_t *g, lkq_act x, const void *pre, size_t b0, size_t b1, float *acc);

/// One interleaved type: its plain type (and ggml's code for it), the bytes of a group per
/// block of 32 columns, its regrouping both ways, and at levels 1-2 its body and the
/// per-block term of each activation row the body reads (4 bytes per block).
typedef struct {
    int plain;
    uint32_t ggml;
    size_t unit;
    lkq_x8_regroup_fn to_rows, from_rows;
    lkq_x8_prep_fn prep;
    lkq_x8_body_fn body;
} lkq_x8_kind;

static const lkq_x8_kind *x8_kind(int dtype);

/// Plain rows (a multiple of 8) to the interleaved layout (`to_layout`) or back.
static void x8_regroup(int dtype, const void *src, void *dst, size_t rows, size_t k, int to_layout) {
    const lkq_x8_kind *t = x8_kind(dtype);
    size_t nb = k / 32, group_bytes = nb * t->unit, plain_bytes = LKQ_X8_ROWS * row_bytes_of(t->plain, k);
    for (size_t g = 0; g < rows / LKQ_X8_ROWS; g++) {
        if (to_layout) t->from_rows((const uint8_t *)src + g * plain_bytes, (uint8_t *)dst + g * group_bytes, nb);
        else t->to_rows((const uint8_t *)src + g * group_bytes, (uint8_t *)dst + g * plain_bytes, nb);
    }
}

/// Each group put back in row order and widened by quants.c, so the floats are the plain type's.
static void x8_dequantize(int dtype, const void *src, float *dst, size_t rows, size_t k) {
    const lkq_x8_kind *t = x8_kind(dtype);
    size_t nb = k / 32, group_bytes = nb * t->unit;
    uint8_t *plain = (uint8_t *)malloc(LKQ_X8_ROWS * row_bytes_of(t->plain, k));
    if (!plain) abort();
    for (size_t g = 0; g < rows / LKQ_X8_ROWS; g++) {
        t->to_rows((const uint8_t *)src + g * group_bytes, plain, nb);
        lk_dequantize_ggml(t->ggml, plain, dst + g * LKQ_X8_ROWS * k, LKQ_X8_ROWS * k);
    }
    free(plain);
}

void lk_interleave_q4_0x8(const void *src, void *dst, size_t rows, size_t k) { x8_regroup(LK_Q4_0X8, src, dst, rows, k, 1); }
void lk_deinterleave_q4_0x8(const void *src, void *dst, size_t rows, size_t k) { x8_regroup(LK_Q4_0X8, src, dst, rows, k, 0); }
#ifdef LKQ_X86
/// `lk_dequantize_q4_0x8` with AVX2: each row's 16 nibble bytes gathered from the four vectors,
/// then quants.c's Q4_0 formula on 8 values at a time (the same exact int-to-float and one
/// rounding), without putting the group back in row order first.
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
    x8_dequantize(LK_Q4_0X8, src, dst, rows, k);
}
void lk_interleave_q4_kx8(const void *src, void *dst, size_t rows, size_t k) { x8_regroup(LK_Q4_KX8, src, dst, rows, k, 1); }
void lk_deinterleave_q4_kx8(const void *src, void *dst, size_t rows, size_t k) { x8_regroup(LK_Q4_KX8, src, dst, rows, k, 0); }
void lk_dequantize_q4_kx8(const void *src, float *dst, size_t rows, size_t k) { x8_dequantize(LK_Q4_KX8, src, dst, rows, k); }

void lk_interleave_q8_0x8(const void *src, void *dst, size_t rows, size_t k) { x8_regroup(LK_Q8_0X8, src, dst, rows, k, 1); }
void lk_deinterleave_q8_0x8(const void *src, void *dst, size_t rows, size_t k) { x8_regroup(LK_Q8_0X8, src, dst, rows, k, 0); }
#ifdef LKQ_X86
/// `lk_dequantize_q8_0x8` with AVX2: each row's codes gathered from the eight vectors, then
/// Q8_0's formula (code times scale, one rounding) on 8 values at a time.
LKQ_AVX2 static void dequantize_q8_0x8_avx2(const uint8_t *p, float *dst, size_t rows, size_t k) {
    size_t nb = k / 32;
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (size_t g = 0; g < rows / LKQ_X8_ROWS; g++) {
        for (size_t b = 0; b < nb; b++, p += LK_Q8_0X8_BLOCK_BYTES) {
            float d[LKQ_X8_ROWS];
            _mm256_storeu_ps(d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)));
            for (int r = 0; r < LKQ_X8_ROWS; r++) {
                // Word i of row r sits at 16 + 32i + 4r: a gather of eight words 32 bytes apart.
                __m256i q = _mm256_xor_si256(_mm256_i32gather_epi32((const int *)(p + 16 + 4 * r),
                                                                    _mm256_setr_epi32(0, 8, 16, 24, 32, 40, 48, 56), 4), flip);
                __m256 dv = _mm256_set1_ps(d[r]);
                float *y = dst + (g * LKQ_X8_ROWS + r) * k + b * 32;
                for (int e = 0; e < 4; e++) {
                    __m256i n = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const uint8_t *)&q + 8 * e)));
                    _mm256_storeu_ps(y + 8 * e, _mm256_mul_ps(dv, _mm256_cvtepi32_ps(n)));
                }
            }
        }
    }
}
#endif

void lk_dequantize_q8_0x8(const void *src, float *dst, size_t rows, size_t k) {
#ifdef LKQ_X86
    if (lk_simd_level() >= 1) { dequantize_q8_0x8_avx2((const uint8_t *)src, dst, rows, k); return; }
#endif
    x8_dequantize(LK_Q8_0X8, src, dst, rows, k);
}

int lk_prefers_q4_0x8(void) {
    return lk_simd_level() >= 1;
}

// MARK: - bodies (AVX2)

/// Σ of each block's offset8 (-8 · Σ of its codes).
static void q4_0x8_prep(lkq_act x, size_t nb, void *pre) {
    int32_t *boff = (int32_t *)pre;
    for (size_t b = 0; b < nb; b++) {
        const int32_t *o = x.offset8 + b * 8;
        boff[b] = o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
    }
}

/// dx · Σ of each block's codes (dxC of the header).
static void q4_kx8_prep(lkq_act x, size_t nb, void *pre) {
    float *dxc = (float *)pre;
    for (size_t b = 0; b < nb; b++) {
        const int32_t *o = x.offset8 + b * 8;
        int32_t sum = -(o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7]) / 8;
        dxc[b] = x.scale8[b * 8] * (float)sum;
    }
}

/// -128 · Σ of each block's codes: the VNNI body's correction for codes stored as q + 128.
static void q8_0x8_prep(lkq_act x, size_t nb, void *pre) {
    int32_t *boff = (int32_t *)pre;
    for (size_t b = 0; b < nb; b++) {
        const int32_t *o = x.offset8 + b * 8;
        boff[b] = 16 * (o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7]);
    }
}

#ifdef LKQ_X86
/// sum (16-bit lanes) += the nibbles of vector v (low ones, or high ones when `shift` is 4)
/// times the broadcast activation word at c: lane pair r gets row r's 4 products.
#define LKQ_X8_MADD(sum, v, shift, c)                                                               \
    {                                                                                              \
        int32_t word;                                                                              \
        memcpy(&word, c, 4);                                                                       \
        sum = _mm256_add_epi16(sum, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, shift), low), \
                                                         _mm256_set1_epi32(word)));                \
    }

/// acc[0..7] and acc[8..15] (accumulators 0 and 1, lane r = row r of the group) += blocks
/// [b0, b1) of group `g` against activation row `x`; `pre[b - b0]` is -8 · Σ of block b's codes.
LKQ_AVX2 static void q4_0x8_avx2(const uint8_t *g, lkq_act x, const void *pre, size_t b0, size_t b1, float *acc) {
    const int32_t *boff = (const int32_t *)pre;
    __m256 a0 = _mm256_loadu_ps(acc), a1 = _mm256_loadu_ps(acc + 8);
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
#define LKQ_X8_STEP(bi_, acc_)                                                                      \
    {                                                                                              \
        size_t bi = (bi_);                                                                         \
        const uint8_t *p = g + bi * LK_Q4_0X8_BLOCK_BYTES;                                         \
        _mm_prefetch((const char *)p + LKQ_AHEAD, _MM_HINT_T0);                                    \
        _mm_prefetch((const char *)p + LKQ_AHEAD + 64, _MM_HINT_T0);                               \
        _mm_prefetch((const char *)p + LKQ_AHEAD + 128, _MM_HINT_T0);                              \
        __m256i sum = _mm256_setzero_si256();                                                      \
        for (int i = 0; i < 4; i++) {                                                              \
            __m256i v = _mm256_loadu_si256((const __m256i *)(p + 16 + 32 * i));                    \
            LKQ_X8_MADD(sum, v, 0, x.codes + bi * 32 + 4 * i)                                      \
            LKQ_X8_MADD(sum, v, 4, x.codes + bi * 32 + 16 + 4 * i)                                 \
        }                                                                                          \
        __m256i s = _mm256_add_epi32(_mm256_madd_epi16(sum, ones), _mm256_set1_epi32(boff[bi - b0])); \
        __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)), _mm256_set1_ps(x.scale8[bi * 8])); \
        acc_ = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), d, acc_);                                    \
    }
    for (size_t b = b0; b < b1; b += 2) {
        LKQ_X8_STEP(b, a0)
        if (b + 1 < b1) LKQ_X8_STEP(b + 1, a1)
    }
#undef LKQ_X8_STEP
    _mm256_storeu_ps(acc, a0);
    _mm256_storeu_ps(acc + 8, a1);
}

/// Eight bytes at p (one per row) as floats.
LKQ_AVX2 static inline __m256 x8_bytes_ps(const uint8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

/// As q4_0x8_avx2 on LK_Q4_KX8 (b0 and b1 multiples of 8); `pre[b - b0]` is dxC of block b.
LKQ_AVX2 static void q4_kx8_avx2(const uint8_t *g, lkq_act x, const void *pre, size_t b0, size_t b1, float *acc) {
    const float *dxc = (const float *)pre;
    __m256 a[2] = {_mm256_loadu_ps(acc), _mm256_loadu_ps(acc + 8)};
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    for (size_t s = b0 / 8; s < b1 / 8; s++) {
        const uint8_t *p = g + s * LK_Q4_KX8_BLOCK_BYTES;
        const int8_t *c = x.codes + s * 256;
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)), t = _mm256_setzero_ps();
        for (int q = 0; q < 4; q++) {
            const uint8_t *v = p + 160 + 256 * q;
            for (int l = 0; l < 5; l++) _mm_prefetch((const char *)p + LKQ_AHEAD + 320 * q + 64 * l, _MM_HINT_T0);
            __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
            for (int i = 0; i < 8; i++) {
                __m256i w = _mm256_loadu_si256((const __m256i *)(v + 32 * i));
                LKQ_X8_MADD(sums[0], w, 0, c + 64 * q + 4 * i)
                LKQ_X8_MADD(sums[1], w, 4, c + 64 * q + 32 + 4 * i)
            }
            for (int h = 0; h < 2; h++) {
                size_t j = 2 * q + h, blk = s * 8 + j;
                __m256 f = _mm256_mul_ps(_mm256_mul_ps(d, x8_bytes_ps(p + 32 + 8 * j)), _mm256_loadu_ps(x.scale8 + blk * 8));
                a[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(sums[h], ones)), f, a[h]);
                t = _mm256_fmadd_ps(x8_bytes_ps(p + 96 + 8 * j), _mm256_set1_ps(dxc[blk - b0]), t);
            }
        }
        a[1] = _mm256_fnmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16))), t, a[1]);
    }
    _mm256_storeu_ps(acc, a[0]);
    _mm256_storeu_ps(acc + 8, a[1]);
}

/// The activation word (4 codes) at c, in every 32-bit lane.
#define LKQ_X8_WORD(c) ({ int32_t w_; memcpy(&w_, (c), 4); _mm256_set1_epi32(w_); })

/// Prefetches the `lines` cache lines LKQ_AHEAD bytes past p.
#define LKQ_X8_AHEAD(p, lines)                                                                     \
    for (int l_ = 0; l_ < (lines); l_++) _mm_prefetch((const char *)(p) + LKQ_AHEAD + 64 * l_, _MM_HINT_T0);

/// acc (lane r = row r) += (float)s · (the eight rows' scales at p times the block's activation scale).
#define LKQ_X8_SCALE(acc_, s, p, bi) \
    acc_ = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p))), \
                                                                _mm256_set1_ps(x.scale8[(bi) * 8])), acc_);

/// As q4_0x8_avx2, the nibble products summed by VNNI straight to 32 bits (the same integers).
LKQ_VNNI256 static void q4_0x8_vnni(const uint8_t *g, lkq_act x, const void *pre, size_t b0, size_t b1, float *acc) {
    const int32_t *boff = (const int32_t *)pre;
    __m256 a[2] = {_mm256_loadu_ps(acc), _mm256_loadu_ps(acc + 8)};
    const __m256i low = _mm256_set1_epi8(0x0F);
    for (size_t b = b0; b < b1; b++) {
        const uint8_t *p = g + b * LK_Q4_0X8_BLOCK_BYTES;
        const int8_t *c = x.codes + b * 32;
        LKQ_X8_AHEAD(p, 3)
        __m256i s = _mm256_set1_epi32(boff[b - b0]);
        for (int i = 0; i < 4; i++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(p + 16 + 32 * i));
            s = _mm256_dpbusd_epi32(s, _mm256_and_si256(v, low), LKQ_X8_WORD(c + 4 * i));
            s = _mm256_dpbusd_epi32(s, _mm256_and_si256(_mm256_srli_epi16(v, 4), low), LKQ_X8_WORD(c + 16 + 4 * i));
        }
        LKQ_X8_SCALE(a[(b - b0) % 2], s, p, b)
    }
    _mm256_storeu_ps(acc, a[0]);
    _mm256_storeu_ps(acc + 8, a[1]);
}

/// acc[0..7] and acc[8..15] += blocks [b0, b1) of Q8_0X8 group `g`: |q| times x with q's sign
/// (Q8_0's AVX2 products), pairs to 32 bits. `pre` is unused (the codes are signed again first).
LKQ_AVX2 static void q8_0x8_avx2(const uint8_t *g, lkq_act x, const void *pre, size_t b0, size_t b1, float *acc) {
    (void)pre;
    __m256 a[2] = {_mm256_loadu_ps(acc), _mm256_loadu_ps(acc + 8)};
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    for (size_t b = b0; b < b1; b++) {
        const uint8_t *p = g + b * LK_Q8_0X8_BLOCK_BYTES;
        const int8_t *c = x.codes + b * 32;
        LKQ_X8_AHEAD(p, 5)
        __m256i s = _mm256_setzero_si256();
        for (int i = 0; i < 8; i++) {
            __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + 16 + 32 * i)), flip);
            __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(LKQ_X8_WORD(c + 4 * i), w));
            s = _mm256_add_epi32(s, _mm256_madd_epi16(pairs, ones));
        }
        LKQ_X8_SCALE(a[(b - b0) % 2], s, p, b)
    }
    _mm256_storeu_ps(acc, a[0]);
    _mm256_storeu_ps(acc + 8, a[1]);
}

/// As q8_0x8_avx2 with VNNI: Σ (q + 128)·x from the stored bytes, then `pre` (-128·Σx).
LKQ_VNNI256 static void q8_0x8_vnni(const uint8_t *g, lkq_act x, const void *pre, size_t b0, size_t b1, float *acc) {
    const int32_t *boff = (const int32_t *)pre;
    __m256 a[2] = {_mm256_loadu_ps(acc), _mm256_loadu_ps(acc + 8)};
    for (size_t b = b0; b < b1; b++) {
        const uint8_t *p = g + b * LK_Q8_0X8_BLOCK_BYTES;
        const int8_t *c = x.codes + b * 32;
        LKQ_X8_AHEAD(p, 5)
        __m256i s = _mm256_set1_epi32(boff[b - b0]);
        for (int i = 0; i < 8; i++)
            s = _mm256_dpbusd_epi32(s, _mm256_loadu_si256((const __m256i *)(p + 16 + 32 * i)), LKQ_X8_WORD(c + 4 * i));
        LKQ_X8_SCALE(a[(b - b0) % 2], s, p, b)
    }
    _mm256_storeu_ps(acc, a[0]);
    _mm256_storeu_ps(acc + 8, a[1]);
}
#undef LKQ_X8_WORD
#undef LKQ_X8_AHEAD
#undef LKQ_X8_SCALE
#undef LKQ_X8_MADD
#endif

#ifdef LKQ_X86
#define LKQ_X8_BODY(f) f
#else
#define LKQ_X8_BODY(f) NULL
#endif

static const lkq_x8_kind *x8_kind(int dtype) {
    static const lkq_x8_kind q4_0 = {LK_Q4_0, 2, LK_Q4_0X8_BLOCK_BYTES, q4_0x8_group_to_rows, q4_0x8_group_from_rows,
                                     q4_0x8_prep, LKQ_X8_BODY(q4_0x8_avx2)};
    static const lkq_x8_kind q4_k = {LK_Q4_K, 12, LK_Q4_KX8_BLOCK_BYTES / 8, q4_kx8_group_to_rows, q4_kx8_group_from_rows,
                                     q4_kx8_prep, LKQ_X8_BODY(q4_kx8_avx2)};
    static const lkq_x8_kind q8_0 = {LK_Q8_0, 8, LK_Q8_0X8_BLOCK_BYTES, q8_0x8_group_to_rows, q8_0x8_group_from_rows,
                                     q8_0x8_prep, LKQ_X8_BODY(q8_0x8_avx2)};
#ifdef LKQ_X86
    // VNNI bodies: the same integer sums, so the same bits as the AVX2 ones.
    static const lkq_x8_kind q4_0_vnni = {LK_Q4_0, 2, LK_Q4_0X8_BLOCK_BYTES, q4_0x8_group_to_rows, q4_0x8_group_from_rows,
                                          q4_0x8_prep, q4_0x8_vnni};
    static const lkq_x8_kind q8_0_vnni = {LK_Q8_0, 8, LK_Q8_0X8_BLOCK_BYTES, q8_0x8_group_to_rows, q8_0x8_group_from_rows,
                                          q8_0x8_prep, q8_0x8_vnni};
    int vnni = lk_simd_level() >= 2 && has_vnni();
    if (dtype == LK_Q8_0X8) return vnni ? &q8_0_vnni : &q8_0;
    if (dtype == LK_Q4_0X8) return vnni ? &q4_0_vnni : &q4_0;
#endif
    return dtype == LK_Q4_KX8 ? &q4_k : dtype == LK_Q8_0X8 ? &q8_0 : &q4_0;
}

// MARK: - driver

static size_t mm_blocks(size_t m, size_t nb) { return (m < LKQ_MAX_M ? m : LKQ_MAX_M) * nb; }

/// The body over groups g0..g1 of an interleaved weight for m activation rows, y[j * ldy + row]
/// for the rows in [row_begin, row_end).
static void x8_run_bodies(const lkq_x8_kind *t, const void *w, const void *xq, float *y, size_t row_begin,
                          size_t row_end, size_t k, size_t m, size_t ldy) {
    size_t nb = k / 32, group_bytes = nb * t->unit, x_bytes = lk_qact_bytes(k);
    size_t g0 = row_begin / LKQ_X8_ROWS, g1 = (row_end + LKQ_X8_ROWS - 1) / LKQ_X8_ROWS;
    // The activation rows' per-block terms, once per call.
    int32_t stack[2048], *pre = mm_blocks(m, nb) <= 2048 ? stack : (int32_t *)malloc(mm_blocks(m, nb) * 4);
    if (!pre) abort();
    float acc[LKQ_MAX_M][2 * LKQ_X8_ROWS];
    lkq_act xs[LKQ_MAX_M];
    size_t tile = m == 1 ? nb : LKQ_TILE;
    for (size_t j0 = 0; j0 < m; j0 += LKQ_MAX_M) {
        size_t mm = m - j0 < LKQ_MAX_M ? m - j0 : LKQ_MAX_M;
        for (size_t j = 0; j < mm; j++) {
            xs[j] = act_at((const uint8_t *)xq + (j0 + j) * x_bytes, k);
            t->prep(xs[j], nb, pre + j * nb);
        }
        for (size_t g = g0; g < g1; g++) {
            const uint8_t *wg = (const uint8_t *)w + g * group_bytes;
            memset(acc, 0, sizeof(acc));
            // A tile of the group's blocks stays in L1 across the activation rows.
            for (size_t t0 = 0; t0 < nb; t0 += tile) {
                size_t t1 = t0 + tile < nb ? t0 + tile : nb;
                for (size_t j = 0; j < mm; j++) t->body(wg, xs[j], pre + j * nb + t0, t0, t1, acc[j]);
            }
            for (size_t r = 0; r < LKQ_X8_ROWS; r++) {
                size_t row = g * LKQ_X8_ROWS + r;
                if (row < row_begin || row >= row_end) continue;
                for (size_t j = 0; j < mm; j++) y[(j0 + j) * ldy + row] = acc[j][r] + acc[j][LKQ_X8_ROWS + r];
            }
        }
    }
    if (pre != stack) free(pre);
}

static int x8_gemm(int dtype, const void *w, const void *xq, float *y, size_t row_begin, size_t row_end,
                   size_t k, size_t m, size_t ldy);

/// `lk_matvec_rows_q` on interleaved weights (m activation rows; m = 1 is `lk_matvec_q`).
static void matvec_rows_x8(int dtype, const void *w, const void *xq, float *y, size_t row_begin, size_t row_end,
                           size_t k, size_t m, size_t ldy) {
    const lkq_x8_kind *t = x8_kind(dtype);
    if (t->body && lk_prefers_q4_0x8()) {
        // Several rows: tiles that unpack each weight block once for several activation rows
        // (quantized_gemm_x8.h), the same values as the one-row body.
        if (m > 1 && x8_gemm(dtype, w, xq, y, row_begin, row_end, k, m, ldy)) return;
        x8_run_bodies(t, w, xq, y, row_begin, row_end, k, m, ldy);
        return;
    }
    // Other levels: each group back in row order, then the plain type's path.
    size_t nb = k / 32, group_bytes = nb * t->unit;
    uint8_t *rows = (uint8_t *)malloc(LKQ_X8_ROWS * row_bytes_of(t->plain, k));
    if (!rows) abort();
    for (size_t g = row_begin / LKQ_X8_ROWS; g < (row_end + LKQ_X8_ROWS - 1) / LKQ_X8_ROWS; g++) {
        t->to_rows((const uint8_t *)w + g * group_bytes, rows, nb);
        size_t lo = g * LKQ_X8_ROWS < row_begin ? row_begin - g * LKQ_X8_ROWS : 0;
        size_t hi = (g + 1) * LKQ_X8_ROWS > row_end ? row_end - g * LKQ_X8_ROWS : LKQ_X8_ROWS;
        if (m == 1) lk_matvec_q(t->plain, rows, xq, y + g * LKQ_X8_ROWS, lo, hi, k);
        else lk_matvec_rows_q(t->plain, rows, xq, y + g * LKQ_X8_ROWS, lo, hi, k, m, ldy);
    }
    free(rows);
}
