/* matmul_avx2.c -- the matrix products of decoding on an AVX2 CPU (tinyqwen.native builds this file).

   int8_matmul: y = (x @ q.T) * scale for int8 weights (below); bf16_matmul: y = x @ w.T for bf16
   weights (at the end of the file).

   Decode multiplies one token's activations by every weight matrix once: it is a stream of int8 weights
   through the cores, and PyTorch's CPU int8 kernels convert each weight to a float before multiplying,
   which on a 2-core AVX2 CPU costs more time than reading it (~10 GB/s of int8 where memory gives ~25).
   This kernel multiplies in integers instead, as llama.cpp does on the same CPUs:

     1. each activation row is carried as int16 with one fp32 scale per block of 32 values
        (d = max|x_block| / 32767, xq = round(x / d): error at most d / 2, 2^-16 of the block's largest
        value -- finer than the bf16 rounding PyTorch's int8pack kernel applies to every activation);
     2. per block, 32 int8 weights x 32 int16 activations -> 8 int32 partial sums (vpmaddwd: 16 products
        per instruction, |sum| <= 4 * 127 * 32767 < 2^31, so no overflow), converted to fp32 and
        accumulated times the block's scale (fma);
     3. per output row: the 8 lanes summed, times the weight row's scale.

   One output value depends only on its own activation row and weight row, always in the same order:
   a token's result does not change with the batch it is in. K need not be a multiple of 32 (a scalar
   tail), N need not be a multiple of 4. Threads: OpenMP over blocks of weight rows (the same libgomp
   PyTorch has loaded), as many as the caller says. */

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define BLOCK 32

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* x [K] fp32 -> xq [K] int16 and d [ceil(K / 32)] fp32, one scale per block of 32 */
static void quantize_row(const float *x, int64_t K, int16_t *xq, float *d)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b * BLOCK < K; b++) {
        const int64_t k0 = b * BLOCK, k1 = k0 + BLOCK < K ? k0 + BLOCK : K;
        float amax = 0.0f;
        if (k1 - k0 == BLOCK) {
            __m256 m = _mm256_setzero_ps();
            for (int64_t k = k0; k < k1; k += 8)
                m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
            __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
            h = _mm_max_ps(h, _mm_movehl_ps(h, h));
            amax = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
        } else {
            for (int64_t k = k0; k < k1; k++) amax = fmaxf(amax, fabsf(x[k]));
        }
        const float inv = amax > 0.0f ? 32767.0f / amax : 0.0f;
        d[b] = amax / 32767.0f;
        if (k1 - k0 == BLOCK) { /* round to nearest even, as lrintf: the same int16 either way */
            const __m256 vi = _mm256_set1_ps(inv);
            for (int64_t k = k0; k < k1; k += 16) {
                __m256i lo = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), vi));
                __m256i hi = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8), vi));
                __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
                _mm256_storeu_si256((__m256i *)(xq + k), p);
            }
        } else {
            for (int64_t k = k0; k < k1; k++) xq[k] = (int16_t)lrintf(x[k] * inv);
        }
    }
}

/* one block of 32: the int32 products of 32 int8 weights (widened to int16: lo, hi) and 32 int16
   activations (x, x + 16), converted to fp32 and added to acc times the block's scale d */
#define DOT_BLOCK(acc, lo, hi, x, d)                                                              \
    acc = _mm256_fmadd_ps(                                                                        \
        _mm256_cvtepi32_ps(_mm256_add_epi32(                                                      \
            _mm256_madd_epi16(lo, _mm256_loadu_si256((const __m256i *)(x))),                      \
            _mm256_madd_epi16(hi, _mm256_loadu_si256((const __m256i *)((x) + 16))))),             \
        d, acc)
#define WIDEN(p) _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p)))

/* the last, partial block of one output value (K not a multiple of 32) */
static inline float tail(const int16_t *xq, const float *d, const int8_t *q, int64_t K)
{
    const int64_t full = K / BLOCK;
    int32_t t = 0;
    for (int64_t k = full * BLOCK; k < K; k++) t += (int32_t)q[k] * xq[k];
    return (float)t * d[full];
}

/* one token, one weight row: scale * sum_k x[k] * q[k] (the decode case). Blocks alternate between two
   accumulators (even, odd: two independent chains of additions), and the rows of a thread's share are
   read one after another -- one sequential stream per core, which the hardware prefetcher follows best
   (lm_head on the 2-core EPYC: 18-20 GB/s with 4 rows interleaved, 26-31 GB/s like this); a software
   prefetch PREFETCH bytes ahead keeps a few more cache lines in flight. */
#define PREFETCH 2048
static float row1(const int16_t *xq, const float *d, int64_t K, const int8_t *q, float scale)
{
    const int64_t full = K / BLOCK;
    __m256 e = _mm256_setzero_ps(), o = e;
#define ROW_BLOCK(acc, b) \
    DOT_BLOCK(acc, WIDEN(q + (b) * BLOCK), WIDEN(q + (b) * BLOCK + 16), xq + (b) * BLOCK, \
              _mm256_broadcast_ss(d + (b)))
    int64_t b = 0;
    for (; b + 2 <= full; b += 2) {
        _mm_prefetch((const char *)(q + b * BLOCK + PREFETCH), _MM_HINT_T0); /* never faults */
        ROW_BLOCK(e, b);
        ROW_BLOCK(o, b + 1);
    }
    if (b < full) ROW_BLOCK(e, b);
#undef ROW_BLOCK
    float sum = hsum(_mm256_add_ps(e, o));
    if (full * BLOCK < K) sum += tail(xq, d, q, K);
    return sum * scale;
}

/* one weight row, up to 4 tokens (MC): y[m * ldy] = scale * sum_k x[m][k] * q[k] (a batch). The same
   steps per token as row1 -- block b into accumulator b % 2, the two added, then the tail -- so a
   token's result is bitwise the same alone or in a batch. */
static void tokens4(const int16_t *xq, const float *d, int64_t K, const int8_t *q, float scale,
                    float *y, int64_t ldy, int MC)
{
    const int64_t full = K / BLOCK, nb = (K + BLOCK - 1) / BLOCK;
    __m256 e0 = _mm256_setzero_ps(), e1 = e0, e2 = e0, e3 = e0, o0 = e0, o1 = e0, o2 = e0, o3 = e0;
/* block b of token m into accumulator acc (the same weight block, widened once, for all tokens) */
#define TOKEN(acc, m, lo, hi, b) \
    DOT_BLOCK(acc, lo, hi, xq + (m) * K + (b) * BLOCK, _mm256_broadcast_ss(d + (m) * nb + (b)))
#define ALL_TOKENS(e0, e1, e2, e3, b)                                  \
    do {                                                               \
        const __m256i lo = WIDEN(q + (b) * BLOCK), hi = WIDEN(q + (b) * BLOCK + 16); \
        TOKEN(e0, 0, lo, hi, b);                                       \
        if (MC > 1) TOKEN(e1, 1, lo, hi, b);                           \
        if (MC > 2) TOKEN(e2, 2, lo, hi, b);                           \
        if (MC > 3) TOKEN(e3, 3, lo, hi, b);                           \
    } while (0)
    int64_t b = 0;
    for (; b + 2 <= full; b += 2) {
        ALL_TOKENS(e0, e1, e2, e3, b);
        ALL_TOKENS(o0, o1, o2, o3, b + 1);
    }
    if (b < full) ALL_TOKENS(e0, e1, e2, e3, b);
#undef ALL_TOKENS
#undef TOKEN
    const __m256 acc[4] = {_mm256_add_ps(e0, o0), _mm256_add_ps(e1, o1), _mm256_add_ps(e2, o2),
                           _mm256_add_ps(e3, o3)};
    for (int m = 0; m < MC; m++) {
        float sum = hsum(acc[m]);
        if (full * BLOCK < K) sum += tail(xq + m * K, d + m * nb, q, K);
        y[m * ldy] = sum * scale;
    }
}

/* y [M, N] fp32 = (x [M, K] fp32 @ q [N, K] int8 .T) * scale [N] fp32 (+ bias [N] fp32, or NULL);
   all row-major, contiguous. Returns 0, or -1 when the scratch memory cannot be allocated. */
int int8_matmul(const float *x, const int8_t *q, const float *scale, const float *bias, float *y,
                int64_t M, int64_t N, int64_t K, int threads)
{
    const int64_t nb = (K + BLOCK - 1) / BLOCK;
    int16_t *xq = malloc(sizeof(int16_t) * M * K);
    float *d = malloc(sizeof(float) * M * nb);
    if (!xq || !d) {
        free(xq);
        free(d);
        return -1;
    }
    for (int64_t m = 0; m < M; m++) quantize_row(x + m * K, K, xq + m * K, d + m * nb);
    /* one token: row after row, tiles of 4. A batch or a prompt: panels of 16 weight rows (they stay
       in L1/L2) meet 4 tokens at a time, each weight block widened once per 4 tokens. Either way a
       value is computed by the same steps. */
    const int64_t R = M == 1 ? 4 : 16, tiles = (N + R - 1) / R;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t n = t * R, n_end = n + R < N ? n + R : N;
        if (M == 1) {
            for (int64_t r = n; r < n_end; r++) y[r] = row1(xq, d, K, q + r * K, scale[r]);
            continue;
        }
        for (int64_t m = 0; m < M; m += 4)
            for (int64_t r = n; r < n_end; r++)
                tokens4(xq + m * K, d + m * nb, K, q + r * K, scale[r], y + m * N + r, N,
                        M - m >= 4 ? 4 : (int)(M - m));
    }
    if (bias)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) y[m * N + n] += bias[n];
    free(xq);
    free(d);
    return 0;
}


/* ---- bf16 weights ---------------------------------------------------------------------------------

   bf16_matmul: y [M, N] fp32 = x [M, K] fp32 @ w [N, K] bf16 .T (+ bias [N] fp32, or NULL).

   A bf16 number is the top half of an fp32 one, so a weight becomes fp32 exactly by putting its 16 bits
   above 16 zero bits; vpunpcklwd / vpunpckhwd do that for 8 + 8 of 16 weights in two instructions, in
   the order [0-3, 8-11] and [4-7, 12-15] (each 128-bit half separately), so the activations are copied
   once per call into that order (xp). Products and sums are fp32, as PyTorch's bf16 CPU kernels do;
   two accumulators per output value (low and high halves), added at the end. PyTorch's own bf16
   matrix-vector product on the 2-core AVX2 EPYC streams ~11 GB/s; this one 30+ GB/s (lm_head). */

#define BF_BLOCK 16

/* x [K] -> xp [K]: each block of 16 reordered as 0-3, 8-11, 4-7, 12-15 (the tail as is) */
static void bf16_order(const float *x, int64_t K, float *xp)
{
    int64_t k = 0;
    for (; k + BF_BLOCK <= K; k += BF_BLOCK)
        for (int i = 0; i < 4; i++) {
            xp[k + i] = x[k + i];
            xp[k + 4 + i] = x[k + 8 + i];
            xp[k + 8 + i] = x[k + 4 + i];
            xp[k + 12 + i] = x[k + 12 + i];
        }
    for (; k < K; k++) xp[k] = x[k];
}

static inline float bf16_to_float(uint16_t h)
{
    union { uint32_t u; float f; } v = {.u = (uint32_t)h << 16};
    return v.f;
}

/* the end of one output value: the two accumulators, the scalar tail, the bias */
static inline float bf16_finish(__m256 lo, __m256 hi, const float *xp, const uint16_t *w, int64_t K)
{
    float sum = hsum(_mm256_add_ps(lo, hi));
    for (int64_t k = K / BF_BLOCK * BF_BLOCK; k < K; k++) sum += xp[k] * bf16_to_float(w[k]);
    return sum;
}

#define BF_LO(v) _mm256_castsi256_ps(_mm256_unpacklo_epi16(_mm256_setzero_si256(), v))
#define BF_HI(v) _mm256_castsi256_ps(_mm256_unpackhi_epi16(_mm256_setzero_si256(), v))
#define BF_LOAD(p) _mm256_loadu_si256((const __m256i *)(p))

/* one token, one weight row; rows one after another, as row1 above (one stream per core) */
static float bf16_row1(const float *xp, int64_t K, const uint16_t *w)
{
    const int64_t full = K / BF_BLOCK * BF_BLOCK;
    __m256 l = _mm256_setzero_ps(), h = l;
    for (int64_t k = 0; k < full; k += BF_BLOCK) {
        _mm_prefetch((const char *)(w + k) + PREFETCH, _MM_HINT_T0);
        const __m256i v = BF_LOAD(w + k);
        l = _mm256_fmadd_ps(BF_LO(v), _mm256_loadu_ps(xp + k), l);
        h = _mm256_fmadd_ps(BF_HI(v), _mm256_loadu_ps(xp + k + 8), h);
    }
    return bf16_finish(l, h, xp, w, K);
}

/* one weight row, up to 4 tokens (MC) */
static void bf16_tokens4(const float *xp, int64_t K, const uint16_t *w, float *y, int64_t ldy, int MC)
{
    const int64_t full = K / BF_BLOCK * BF_BLOCK;
    __m256 l[4], h[4];
    for (int m = 0; m < 4; m++) l[m] = h[m] = _mm256_setzero_ps();
    for (int64_t k = 0; k < full; k += BF_BLOCK) {
        const __m256i v = BF_LOAD(w + k);
        const __m256 wl = BF_LO(v), wh = BF_HI(v);
        for (int m = 0; m < MC; m++) {
            l[m] = _mm256_fmadd_ps(wl, _mm256_loadu_ps(xp + m * K + k), l[m]);
            h[m] = _mm256_fmadd_ps(wh, _mm256_loadu_ps(xp + m * K + k + 8), h[m]);
        }
    }
    for (int m = 0; m < MC; m++) y[m * ldy] = bf16_finish(l[m], h[m], xp + m * K, w, K);
}

int bf16_matmul(const float *x, const uint16_t *w, const float *bias, float *y,
                int64_t M, int64_t N, int64_t K, int threads)
{
    float *xp = malloc(sizeof(float) * M * K);
    if (!xp) return -1;
    for (int64_t m = 0; m < M; m++) bf16_order(x + m * K, K, xp + m * K);
    const int64_t R = M == 1 ? 4 : 16, tiles = (N + R - 1) / R;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t n = t * R, n_end = n + R < N ? n + R : N;
        if (M == 1) {
            for (int64_t r = n; r < n_end; r++) y[r] = bf16_row1(xp, K, w + r * K);
            continue;
        }
        for (int64_t m = 0; m < M; m += 4)
            for (int64_t r = n; r < n_end; r++)
                bf16_tokens4(xp + m * K, K, w + r * K, y + m * N + r, N,
                             M - m >= 4 ? 4 : (int)(M - m));
    }
    if (bias)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) y[m * N + n] += bias[n];
    free(xp);
    return 0;
}
