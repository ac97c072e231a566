/* decode_avx2.c -- the decoder layers of a decode step in one call: int8 or bf16 weights, fp32 activations
   (tinyqwen.native builds this file together with matmul_avx2.c; tinyqwen.native_decode calls it).

   PyTorch runs a decode step of one layer as ~50 small operators (two RMSNorms, RoPE on q and k, the
   cache writes, attention over the cache, SiLU, residual adds), each some microseconds of dispatch and
   a thread-pool wake-up for a vector of a few thousand numbers: on a 2-core EPYC that is ~13 ms per
   token for the 0.5B model, over half the ~21 ms its int8 weights take to stream through the cores, and
   what llama.cpp does not spend. Here a layer is one C function: the same products (int8_matmul or
   bf16_matmul), the small steps as plain loops over the B rows of the step; one call runs the whole
   stack (decode_layers). A bf16 model's values are rounded to bf16 (nearest-even) exactly where its
   PyTorch path rounds them -- after each operator, as the bf16 tensors between PyTorch's operators
   are -- so both paths give the same numbers up to summation order (R below; for an int8 model with
   fp32 activations R does nothing).

   The same maths as tinyqwen.model, step by step (x is the residual stream [B, hidden], updated in place):

     h = R(input_norm * R(x / sqrt(mean(x^2) + eps)))             RMSNorm, normalised in fp32
     q, k, v = R(h @ Wq.T + bq), R(h @ Wk.T + bk), R(...)         int8/bf16_matmul  [B, H*D], [B, Hkv*D]
     q, k = rmsnorm(q_head) * q_norm, rmsnorm(k_head) * k_norm    per head, Qwen3 only
     q, k = R(R(q * c) + R(rotate_half(q) * s)), ...              split-half RoPE, c/s = R(cos/sin) [B, D]
     k_cache[b, g, pos], v_cache[b, g, pos] = k, v                this step's slot
     a = R(softmax(q . K^T / sqrt(D)) @ V)                        per query head h, over the visible slots
                                                                  of its KV head g = h / (H / Hkv), fp32
     x = R(x + R(a @ Wo.T (+ bo)))
     h = R(post_norm * R(x / sqrt(mean(x^2) + eps)))
     x = R(x + R(R(R(silu(R(h @ Wg.T))) * R(h @ Wu.T)) @ Wd.T))

   A cache slot s is visible to row b when s <= pos, mask[b][s] != 0 (left padding; NULL: no padding) and,
   on a sliding-window layer, s > pos - window. The softmax subtracts the row maximum and sums in fp32.
   Sums are in a different order than PyTorch's kernels, so results agree to fp32 rounding, not bitwise. */

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int int8_matmul(const float *x, const int8_t *q, const float *scale, const float *bias, float *y,
                int64_t M, int64_t N, int64_t K, int threads);
int bf16_matmul(const float *x, const uint16_t *w, const float *bias, float *y, int64_t M, int64_t N,
                int64_t K, int threads);

/* one projection: int8 rows with their scales (tinyqwen.quant.Int8Linear), or bf16 rows (scale NULL) */
typedef struct {
    const void *weight; /* [N, K] int8 or bf16 */
    const float *scale; /* [N], or NULL for bf16 weights */
    const float *bias;  /* [N] fp32 or NULL */
} qlinear;

/* one decoder layer's weights and its slice of the KV cache */
typedef struct {
    const float *input_norm, *post_norm; /* [hidden] */
    const float *q_norm, *k_norm;        /* [D] (Qwen3) or NULL */
    qlinear q, k, v, o, gate, up, down;
    void *k_cache, *v_cache; /* [B, Hkv, T_max, D], fp32 or bf16 (step_info.cache_bf16) */
    int64_t window;           /* sliding window of this layer, 0 for full attention */
} layer_weights;

/* what every layer of one step shares */
typedef struct {
    int64_t B, hidden, H, Hkv, D, I, T_max;
    int64_t pos;            /* the cache slot this step writes (the number of slots filled before) */
    const float *cos, *sin; /* [B, D] fp32, already scaled for the RoPE type */
    const int64_t *mask;    /* [B, pos + 1]: 1 = real token, 0 = padding; NULL when no row is padded */
    float eps;
    int threads;
    int cache_bf16; /* 1: the KV cache holds bf16, 0: fp32 */
} step_info;

static inline uint16_t to_bf16(float f) /* round to nearest even (finite values) */
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

/* R: v rounded to the nearest bf16 (kept in a float) when bf16 is on, else v itself */
static inline float R(float v, int bf16)
{
    if (!bf16) return v;
    const uint32_t u = (uint32_t)to_bf16(v) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* slot s of one KV head as fp32: the cache row itself, or converted into tmp [D] */
static inline const float *cache_row(const void *cache, int64_t s, int64_t D, int bf16, float *tmp)
{
    if (!bf16) return (const float *)cache + s * D;
    const uint16_t *h = (const uint16_t *)cache + s * D;
    for (int64_t i = 0; i < D; i++) {
        const uint32_t u = (uint32_t)h[i] << 16;
        memcpy(tmp + i, &u, 4);
    }
    return tmp;
}

static float dot(const float *a, const float *b, int64_t n)
{
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float sum = _mm_cvtss_f32(s);
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* y[n] = x[n] / sqrt(mean(x^2) + eps) * w[n]; normalised first, then the weight, as the model does */
static void rmsnorm(const float *x, const float *w, float eps, int64_t n, float *y, int bf16)
{
    const float r = 1.0f / sqrtf(dot(x, x, n) / (float)n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = R(w[i] * R(x[i] * r, bf16), bf16);
}

/* split-half RoPE of one head vector in place: pairs (i, i + D/2) rotated by the angle of cos/sin[i] */
static void rope(float *v, const float *cos, const float *sin, int64_t D, int bf16)
{
    const int64_t half = D / 2;
    for (int64_t i = 0; i < half; i++) {
        const float a = v[i], b = v[i + half];
        const float c0 = R(cos[i], bf16), s0 = R(sin[i], bf16);
        const float c1 = R(cos[i + half], bf16), s1 = R(sin[i + half], bf16);
        v[i] = R(R(a * c0, bf16) - R(b * s0, bf16), bf16);
        v[i + half] = R(R(b * c1, bf16) + R(a * s1, bf16), bf16);
    }
}

/* out [D] = softmax over the visible slots of q . k_s / sqrt(D), times v_s; scores: scratch [pos + 1],
   tmp: scratch [D] */
static void attend(const float *q, const void *kc, const void *vc, int bf16, const int64_t *mask,
                   int64_t pos, int64_t window, int64_t D, float *scores, float *tmp, float *out)
{
    const float scale = 1.0f / sqrtf((float)D);
    const int64_t first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
    float max = -INFINITY;
    for (int64_t s = first; s <= pos; s++) {
        if (mask && !mask[s]) {
            scores[s] = -INFINITY;
            continue;
        }
        scores[s] = dot(q, cache_row(kc, s, D, bf16, tmp), D) * scale;
        if (scores[s] > max) max = scores[s];
    }
    memset(out, 0, sizeof(float) * D);
    if (max == -INFINITY) return; /* nothing visible (cannot happen for a real token: it sees itself) */
    float total = 0.0f;
    for (int64_t s = first; s <= pos; s++) {
        if (scores[s] == -INFINITY) continue;
        const float e = expf(scores[s] - max), p = R(e, bf16); /* PyTorch's CPU flash attention */
        total += e; /* sums the fp32 exponentials but multiplies V by them in the model's dtype */
        const float *v = cache_row(vc, s, D, bf16, tmp);
        int64_t i = 0;
        const __m256 vp = _mm256_set1_ps(p);
        for (; i + 8 <= D; i += 8)
            _mm256_storeu_ps(out + i, _mm256_fmadd_ps(vp, _mm256_loadu_ps(v + i), _mm256_loadu_ps(out + i)));
        for (; i < D; i++) out[i] += p * v[i];
    }
    const float inv = 1.0f / total;
    for (int64_t i = 0; i < D; i++) out[i] = R(out[i] * inv, bf16);
}

static int project(const float *x, const qlinear *l, float *y, int64_t M, int64_t N, int64_t K,
                   const step_info *s)
{
    if (l->scale) return int8_matmul(x, l->weight, l->scale, l->bias, y, M, N, K, s->threads);
    if (bf16_matmul(x, l->weight, l->bias, y, M, N, K, s->threads)) return -1;
    for (int64_t i = 0; i < M * N; i++) y[i] = R(y[i], 1); /* a bf16 model's Linear output */
    return 0;
}

/* one layer: x [B, hidden] fp32, updated in place; buf: scratch (decode_layers). Returns 0, or -1 when
   a product's scratch memory runs out. */
static int decode_layer(float *x, const layer_weights *L, const step_info *s, float *buf)
{
    const int64_t B = s->B, Hd = s->hidden, H = s->H, Hkv = s->Hkv, D = s->D, I = s->I;
    const int64_t S = s->pos + 1, G = H / Hkv;
    float *h = buf, *q = h + B * Hd, *k = q + B * H * D, *v = k + B * Hkv * D, *att = v + B * Hkv * D;
    float *gate = att + B * H * D, *up = gate + B * I, *scores = up + B * I, *tmp = scores + B * H * S;
    const int r = s->cache_bf16; /* a bf16 model: round where PyTorch does */
    int rc = 0;

    for (int64_t b = 0; b < B; b++) rmsnorm(x + b * Hd, L->input_norm, s->eps, Hd, h + b * Hd, r);
    rc |= project(h, &L->q, q, B, H * D, Hd, s); /* [B, H*D] */
    rc |= project(h, &L->k, k, B, Hkv * D, Hd, s); /* [B, Hkv*D] */
    rc |= project(h, &L->v, v, B, Hkv * D, Hd, s); /* [B, Hkv*D] */
    if (rc) return -1;

    for (int64_t b = 0; b < B; b++) {
        const float *cos = s->cos + b * D, *sin = s->sin + b * D;
        for (int64_t i = 0; i < H; i++) {
            float *qh = q + (b * H + i) * D;
            if (L->q_norm) rmsnorm(qh, L->q_norm, s->eps, D, qh, r);
            rope(qh, cos, sin, D, r);
        }
        for (int64_t g = 0; g < Hkv; g++) {
            float *kh = k + (b * Hkv + g) * D;
            if (L->k_norm) rmsnorm(kh, L->k_norm, s->eps, D, kh, r);
            rope(kh, cos, sin, D, r);
            const int64_t slot = ((b * Hkv + g) * s->T_max + s->pos) * D; /* [b, g, pos, :] */
            const float *vh = v + (b * Hkv + g) * D;
            if (s->cache_bf16) {
                for (int64_t i = 0; i < D; i++) {
                    ((uint16_t *)L->k_cache)[slot + i] = to_bf16(kh[i]);
                    ((uint16_t *)L->v_cache)[slot + i] = to_bf16(vh[i]);
                }
            } else {
                memcpy((float *)L->k_cache + slot, kh, sizeof(float) * D);
                memcpy((float *)L->v_cache + slot, vh, sizeof(float) * D);
            }
        }
    }

#pragma omp parallel for schedule(static) num_threads(s->threads)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, g = (bh % H) / G;
        const int64_t head = (b * Hkv + g) * s->T_max * D, size = s->cache_bf16 ? 2 : 4; /* [b, g, 0, :] */
        attend(q + bh * D, (const char *)L->k_cache + head * size, (const char *)L->v_cache + head * size,
               s->cache_bf16, s->mask ? s->mask + b * S : NULL, s->pos, L->window, D, scores + bh * S,
               tmp + bh * D, att + bh * D);
    }

    rc |= project(att, &L->o, h, B, Hd, H * D, s); /* h reused: [B, hidden] */
    if (rc) return -1;
    for (int64_t i = 0; i < B * Hd; i++) x[i] = R(x[i] + h[i], r);

    for (int64_t b = 0; b < B; b++) rmsnorm(x + b * Hd, L->post_norm, s->eps, Hd, h + b * Hd, r);
    rc |= project(h, &L->gate, gate, B, I, Hd, s); /* [B, I] */
    rc |= project(h, &L->up, up, B, I, Hd, s);
    if (rc) return -1;
    for (int64_t i = 0; i < B * I; i++) gate[i] = R(R(gate[i] / (1.0f + expf(-gate[i])), r) * up[i], r);
    rc |= project(gate, &L->down, h, B, Hd, I, s); /* [B, hidden] */
    if (rc) return -1;
    for (int64_t i = 0; i < B * Hd; i++) x[i] = R(x[i] + h[i], r);
    return 0;
}

/* the decoder stack of one step: x [B, hidden] fp32 (the embedded tokens) becomes the last layer's
   output, in place, and each layer's cache slot pos is written. Returns 0, or -1 when memory runs out. */
int decode_layers(float *x, const layer_weights *layers, int64_t n_layers, const step_info *s)
{
    /* one scratch space for all layers: h, q, k, v, attention out, gate, up, scores, a KV row */
    const int64_t B = s->B, H = s->H, D = s->D, S = s->pos + 1;
    const int64_t n = B * (s->hidden + 2 * H * D + 2 * s->Hkv * D + 2 * s->I + H * (S + D));
    float *buf = malloc(sizeof(float) * n);
    if (!buf) return -1;
    int rc = 0;
    for (int64_t i = 0; i < n_layers && !rc; i++) rc = decode_layer(x, layers + i, s, buf);
    free(buf);
    return rc;
}
