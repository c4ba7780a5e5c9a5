// Decode kernels on ggml's K-quant superblocks (256 values), included by quantized_matvec.c:
// the activation row and accumulator layouts are that file's.
//
//   Q4_K: value = d·sc_j·q − dmin·m_j for sub-block j (32 values), q an unsigned nibble.
//         Against activation block j (scale dx, codes c): dx·(d·sc_j·Σ q·c − dmin·m_j·Σ c).
//   Q6_K: value = d·sc_g·(q − 32) for group g (16 values), q 6 bits unsigned.
//
// Portable C: a sub-block's (group's) exact integer sums, then the float terms in a fixed
// order. 512-bit (VNNI): each pair of sub-blocks fills 16 lanes as Q4_0's pairs do (lanes
// 0-7 the even sub-block, 8-15 the odd), with the offsets folded in as below; pair p of the
// row goes into accumulator p % 2.

/// The 6-bit scales and mins of a Q4_K superblock's 8 sub-blocks, from its 12 packed bytes.
static void q4_k_scales(const uint8_t *q, uint8_t *sc, uint8_t *m) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
        sc[j + 4] = (q[j + 8] & 0x0F) | ((q[j] >> 6) << 4);
        m[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
    }
}

static float dot_q4_k_c(const uint8_t *w, lkq_act x, size_t superblocks) {
    float sum = 0;
    for (size_t s = 0; s < superblocks; s++, w += LK_Q4_K_BLOCK_BYTES) {
        float d = f16_at(w), dmin = f16_at(w + 2);
        uint8_t sc[8], m[8];
        q4_k_scales(w + 4, sc, m);
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = w + 16 + 32 * (j / 2);
            const int8_t *c = x.codes + (s * 8 + j) * 32;
            int32_t dot = 0, csum = 0;
            for (int l = 0; l < 32; l++) {
                int v = j & 1 ? q[l] >> 4 : q[l] & 0x0F;
                dot += v * c[l];
                csum += c[l];
            }
            float dx = x.scale8[(s * 8 + j) * 8];
            sum += (d * (float)sc[j]) * dx * (float)dot;
            sum -= (dmin * (float)m[j]) * dx * (float)csum;
        }
    }
    return sum;
}

/// The 6-bit code of element i (0..255) of a Q6_K superblock.
static inline int q6_k_code(const uint8_t *b, int i) {
    const uint8_t *ql = b + 64 * (i / 128), *qh = b + 128 + 32 * (i / 128);
    int quad = (i % 128) / 32, l = i % 32;
    int low = quad & 1 ? ql[l + 32] : ql[l];
    low = quad >= 2 ? low >> 4 : low & 0x0F;
    return low | (((qh[l] >> (2 * quad)) & 3) << 4);
}

static float dot_q6_k_c(const uint8_t *w, lkq_act x, size_t superblocks) {
    float sum = 0;
    for (size_t s = 0; s < superblocks; s++, w += LK_Q6_K_BLOCK_BYTES) {
        float d = f16_at(w + 208);
        const int8_t *sc = (const int8_t *)(w + 192);
        for (int g = 0; g < 16; g++) {
            const int8_t *c = x.codes + s * 256 + g * 16;
            int32_t dot = 0;
            for (int l = 0; l < 16; l++) dot += (q6_k_code(w, g * 16 + l) - 32) * c[l];
            float dx = x.scale8[(s * 8 + g / 2) * 8];
            sum += (d * (float)sc[g]) * dx * (float)dot;
        }
    }
    return sum;
}

#ifdef LKQ_X86
LKQ_512 static inline float f16_fast(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/// One weight row's pair of sub-blocks: codes (unsigned, element order), the scale of each
/// lane (d·sc) and, for Q4_K, of its offset lane (dmin·m / 8).
typedef struct { __m512i q; __m512 d, m; } lkq_kpair;

/// A superblock's per-sub-block factors as vectors, read once per weight row and superblock.
typedef struct { __m512 d, m; } lkq_kscales;

LKQ_512 static inline lkq_kscales q4_k_superblock(const uint8_t *b) {
    uint8_t sc[8], m[8];
    q4_k_scales(b + 4, sc, m);
    float d = f16_fast(b), dmin = f16_fast(b + 2);
    __m512 vsc = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)sc)));
    __m512 vm = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)m)));
    return (lkq_kscales){_mm512_mul_ps(vsc, _mm512_set1_ps(d)), _mm512_mul_ps(vm, _mm512_set1_ps(dmin * 0.125f))};
}

LKQ_512 static inline lkq_kpair q4_k_pair(const uint8_t *b, lkq_kscales f, int p) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(b + 16 + 32 * p));
    __m256i lo = _mm256_and_si256(v, _mm256_set1_epi8(0x0F)), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F));
    __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(2 * p), _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0));
    return (lkq_kpair){_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                       _mm512_permutexvar_ps(idx, f.d), _mm512_permutexvar_ps(idx, f.m)};
}

LKQ_512 static inline lkq_kscales q6_k_superblock(const uint8_t *b) {
    __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 192))));
    return (lkq_kscales){_mm512_mul_ps(sc, _mm512_set1_ps(f16_fast(b + 208))), _mm512_setzero_ps()};
}

LKQ_512 static inline lkq_kpair q6_k_pair(const uint8_t *b, lkq_kscales f, int p) {
    // Pair p covers elements 64p..64p+63: half p / 2, low nibbles (p even) or high ones.
    int half = p / 2, high = p & 1;
    __m512i ql = _mm512_loadu_si512((const void *)(b + 64 * half));
    __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b + 128 + 32 * half)));
    __m512i low = _mm512_and_si512(high ? _mm512_srli_epi16(ql, 4) : ql, _mm512_set1_epi8(0x0F));
    // 2-bit highs: quads 0/1 (bits 0-1, 2-3) for the low nibbles, 2/3 (bits 4-5, 6-7) for the high.
    __m512i shift = high ? _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4) : _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
    __m512i top = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh, shift), _mm512_set1_epi8(3)), 4);
    __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(4 * p), _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0));
    return (lkq_kpair){_mm512_or_si512(low, top), _mm512_permutexvar_ps(idx, f.d), _mm512_setzero_ps()};
}

// Q4_K lanes: Σ q·c, plus (dmin·m/8) × the offsets (-8 Σ c). Q6_K: Σ q·c − 32 Σ c (4 × offsets).
#define LKQK_UPDATE_q4_k(a, wp, xv, off, xs)                                                        \
    a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), wp.q, xv)), \
                        _mm512_mul_ps(wp.d, xs), a);                                               \
    a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(off), _mm512_mul_ps(wp.m, xs), a);
#define LKQK_UPDATE_q6_k(a, wp, xv, off, xs)                                                        \
    a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_slli_epi32(off, 2), wp.q, xv)), \
                        _mm512_mul_ps(wp.d, xs), a);

/// As LKQ_BODY512, over superblocks: b0 and b1 count blocks of 32 and are multiples of 8.
#define LKQK_BODY512(NAME, T, BB, RW, RA)                                                           \
LKQ_FRAME512(NAME, RW, RA,                                                                         \
    for (size_t s = b0 / 8; s < b1 / 8; s++) {                                                     \
        lkq_kscales f[RW];                                                                         \
        for (int r = 0; r < RW; r++) f[r] = T##_superblock(w + r * wstride + s * BB);              \
        for (int p = 0; p < 4; p++) {                                                              \
            lkq_kpair wp[RW];                                                                      \
            for (int r = 0; r < RW; r++) wp[r] = T##_pair(w + r * wstride + s * BB, f[r], p);      \
            size_t blk = s * 8 + 2 * p;                                                            \
            for (int j = 0; j < RA; j++) {                                                         \
                __m512i xv = _mm512_loadu_si512((const void *)(x[j].codes + blk * 32));           \
                __m512 xs = _mm512_loadu_ps(x[j].scale8 + blk * 8);                                \
                __m512i off = _mm512_loadu_si512((const void *)(x[j].offset8 + blk * 8));         \
                for (int r = 0; r < RW; r++) { LKQK_UPDATE_##T(a[r][j][p & 1], wp[r], xv, off, xs) } \
            }                                                                                      \
        }                                                                                          \
    })

LKQK_BODY512(q4_k_512_1, q4_k, LK_Q4_K_BLOCK_BYTES, 1, 1)
LKQK_BODY512(q4_k_512_2, q4_k, LK_Q4_K_BLOCK_BYTES, 1, 2)
LKQK_BODY512(q4_k_512_4, q4_k, LK_Q4_K_BLOCK_BYTES, 1, 4)
LKQK_BODY512(q4_k_512_2x4, q4_k, LK_Q4_K_BLOCK_BYTES, 2, 4)
LKQK_BODY512(q6_k_512_1, q6_k, LK_Q6_K_BLOCK_BYTES, 1, 1)
LKQK_BODY512(q6_k_512_2, q6_k, LK_Q6_K_BLOCK_BYTES, 1, 2)
LKQK_BODY512(q6_k_512_4, q6_k, LK_Q6_K_BLOCK_BYTES, 1, 4)
LKQK_BODY512(q6_k_512_2x4, q6_k, LK_Q6_K_BLOCK_BYTES, 2, 4)
// MARK: - 256-bit bodies (AVX2)

/// An f16 value as a float, without the false dependency `_cvtsh_ss` can carry.
LKQ_AVX2 static inline float f16_avx2(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

/// A superblock's per-block factors: Q4_K's d·sc_j and dmin·m_j / 8 for its 8 blocks of 32;
/// Q6_K's d·sc_g for its 16 groups of 16 (`m` unused).
typedef struct { float d[16], m[8]; } lkq_kfactors;

LKQ_AVX2 static inline void q4_k_factors(const uint8_t *b, lkq_kfactors *f) {
    uint8_t sc[8], m[8];
    q4_k_scales(b + 4, sc, m);
    float d = f16_avx2(b), dmin = f16_avx2(b + 2);
    for (int j = 0; j < 8; j++) { f->d[j] = d * (float)sc[j]; f->m[j] = dmin * (float)m[j] * 0.125f; }
}

LKQ_AVX2 static inline void q6_k_factors(const uint8_t *b, lkq_kfactors *f) {
    float d = f16_avx2(b + 208);
    for (int g = 0; g < 16; g++) f->d[g] = d * (float)(int8_t)b[192 + g];
}

/// Block j (0..7) of a superblock as unsigned codes in element order.
LKQ_AVX2 static inline __m256i q4_k_codes(const uint8_t *b, int j) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(b + 16 + 32 * (j / 2)));
    return _mm256_and_si256(j & 1 ? _mm256_srli_epi16(v, 4) : v, _mm256_set1_epi8(0x0F));
}

LKQ_AVX2 static inline __m256i q6_k_codes(const uint8_t *b, int j) {
    int half = j / 4, quad = j % 4;
    __m256i ql = _mm256_loadu_si256((const __m256i *)(b + 64 * half + 32 * (quad & 1)));
    __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * half));
    __m256i low = _mm256_and_si256(quad >= 2 ? _mm256_srli_epi16(ql, 4) : ql, _mm256_set1_epi8(0x0F));
    __m256i top = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * quad)), _mm256_set1_epi8(3));
    return _mm256_or_si256(low, _mm256_slli_epi16(top, 4));
}

/// Lanes of Σ q·c for unsigned codes q (≤ 63) and signed activation codes c.
LKQ_AVX2 static inline __m256i lkq_lanes_u(__m256i q, __m256i c) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, c), _mm256_set1_epi16(1));
}

// Q4_K: (d·sc_j) Σ q·c + (dmin·m_j / 8) × the offsets (-8 Σ c). Q6_K: d·sc_g (Σ q·c + 4 × offsets),
// lanes 0-3 group 2j, 4-7 group 2j + 1.
#define LKQK_UPDATE256_q4_k(a, q, xv, off, xs, f, jj)                                               \
    a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lkq_lanes_u(q, xv)), _mm256_mul_ps(xs, _mm256_set1_ps(f.d[jj])), a); \
    a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(off), _mm256_mul_ps(xs, _mm256_set1_ps(f.m[jj])), a);
#define LKQK_UPDATE256_q6_k(a, q, xv, off, xs, f, jj)                                               \
    a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(lkq_lanes_u(q, xv), _mm256_slli_epi32(off, 2))), \
                        _mm256_mul_ps(xs, _mm256_setr_ps(f.d[2 * jj], f.d[2 * jj], f.d[2 * jj], f.d[2 * jj], \
                                                         f.d[2 * jj + 1], f.d[2 * jj + 1], f.d[2 * jj + 1], f.d[2 * jj + 1])), a);

/// As LKQ_BODY256 over superblocks (b0 and b1 count blocks of 32 and are multiples of 8):
/// block b of the row goes into accumulator b % 2.
#define LKQK_BODY256(NAME, T, BB, R)                                                                \
LKQ_FRAME256(NAME, LKQ_AVX2, R,                                                                    \
    for (size_t s = b0 / 8; s < b1 / 8; s++) {                                                     \
        const uint8_t *b = w + s * BB;                                                             \
        for (int pf = 0; pf < BB; pf += 64) _mm_prefetch((const char *)b + LKQ_AHEAD + pf, _MM_HINT_T0); \
        lkq_kfactors f;                                                                            \
        T##_factors(b, &f);                                                                        \
        for (int jj = 0; jj < 8; jj++) {                                                           \
            __m256i q = T##_codes(b, jj);                                                          \
            size_t blk = s * 8 + jj;                                                               \
            for (int j = 0; j < R; j++) {                                                          \
                __m256i xv = _mm256_loadu_si256((const __m256i *)(x[j].codes + blk * 32));         \
                __m256 xs = _mm256_loadu_ps(x[j].scale8 + blk * 8);                                \
                __m256i off = _mm256_loadu_si256((const __m256i *)(x[j].offset8 + blk * 8));       \
                LKQK_UPDATE256_##T(a[j][jj & 1], q, xv, off, xs, f, jj)                            \
            }                                                                                      \
        }                                                                                          \
    })

LKQK_BODY256(q4_k_avx2_1, q4_k, LK_Q4_K_BLOCK_BYTES, 1)
LKQK_BODY256(q4_k_avx2_2, q4_k, LK_Q4_K_BLOCK_BYTES, 2)
LKQK_BODY256(q6_k_avx2_1, q6_k, LK_Q6_K_BLOCK_BYTES, 1)
LKQK_BODY256(q6_k_avx2_2, q6_k, LK_Q6_K_BLOCK_BYTES, 2)
#endif
