/* int8_matmul_avx2.c -- y = (x @ q.T) * scale for int8 weights on an AVX2 CPU (tinyqwen.native builds it).

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
            for (int64_t k = k0; k < k1; k += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
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

/* one token, 4 weight rows: y[r] = scale[r] * sum_k x[k] * q[r][k] (the decode case) */
static void rows4(const int16_t *xq, const float *d, int64_t K, const int8_t *q, const float *scale,
                  float *y)
{
    const int64_t full = K / BLOCK;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t b = 0; b < full; b++) {
        const int64_t k = b * BLOCK;
        const __m256 db = _mm256_broadcast_ss(d + b);
        /* ask for the tile after next now: a core streaming 4 interleaved rows leaves memory idle
           otherwise (lm_head on the 2-core EPYC: 14.5 -> 19 GB/s; a prefetch never faults) */
        for (int r = 0; r < 4; r++) _mm_prefetch((const char *)(q + (8 + r) * K + k), _MM_HINT_T0);
        DOT_BLOCK(a0, WIDEN(q + k), WIDEN(q + k + 16), xq + k, db);
        DOT_BLOCK(a1, WIDEN(q + K + k), WIDEN(q + K + k + 16), xq + k, db);
        DOT_BLOCK(a2, WIDEN(q + 2 * K + k), WIDEN(q + 2 * K + k + 16), xq + k, db);
        DOT_BLOCK(a3, WIDEN(q + 3 * K + k), WIDEN(q + 3 * K + k + 16), xq + k, db);
    }
    const __m256 acc[4] = {a0, a1, a2, a3};
    for (int r = 0; r < 4; r++) {
        float sum = hsum(acc[r]);
        if (full * BLOCK < K) sum += tail(xq, d, q + r * K, K);
        y[r] = sum * scale[r];
    }
}

/* one weight row, up to 4 tokens (MC): y[m * ldy] = scale * sum_k x[m][k] * q[k] (a batch) */
static void tokens4(const int16_t *xq, const float *d, int64_t K, const int8_t *q, float scale,
                    float *y, int64_t ldy, int MC)
{
    const int64_t full = K / BLOCK, nb = (K + BLOCK - 1) / BLOCK;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t b = 0; b < full; b++) {
        const int64_t k = b * BLOCK;
        const __m256i lo = WIDEN(q + k), hi = WIDEN(q + k + 16);
        DOT_BLOCK(a0, lo, hi, xq + k, _mm256_broadcast_ss(d + b));
        if (MC > 1) DOT_BLOCK(a1, lo, hi, xq + K + k, _mm256_broadcast_ss(d + nb + b));
        if (MC > 2) DOT_BLOCK(a2, lo, hi, xq + 2 * K + k, _mm256_broadcast_ss(d + 2 * nb + b));
        if (MC > 3) DOT_BLOCK(a3, lo, hi, xq + 3 * K + k, _mm256_broadcast_ss(d + 3 * nb + b));
    }
    const __m256 acc[4] = {a0, a1, a2, a3};
    for (int m = 0; m < MC; m++) {
        float sum = hsum(acc[m]);
        if (full * BLOCK < K) sum += tail(xq + m * K, d + m * nb, q, K);
        y[m * ldy] = sum * scale;
    }
}

/* y [M, N] fp32 = (x [M, K] fp32 @ q [N, K] int8 .T) * scale [N] fp32; all row-major, contiguous.
   Returns 0, or -1 when the scratch memory cannot be allocated. */
int int8_matmul(const float *x, const int8_t *q, const float *scale, float *y,
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
    /* one token: 4 weight rows share each activation load. A batch or a prompt: panels of 16
       weight rows (they stay in L1/L2) meet 4 tokens at a time, each weight block widened once per
       4 tokens. Either way a value is computed by the same steps. */
    const int64_t R = M == 1 ? 4 : 16, tiles = (N + R - 1) / R;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t n = t * R, n_end = n + R < N ? n + R : N;
        if (M == 1 && n + 4 <= N) {
            rows4(xq, d, K, q + n * K, scale + n, y + n);
            continue;
        }
        for (int64_t m = 0; m < M; m += 4)
            for (int64_t r = n; r < n_end; r++)
                tokens4(xq + m * K, d + m * nb, K, q + r * K, scale[r], y + m * N + r, N,
                        M - m >= 4 ? 4 : (int)(M - m));
    }
    free(xq);
    free(d);
    return 0;
}
