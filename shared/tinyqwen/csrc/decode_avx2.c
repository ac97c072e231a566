/* decode_avx2.c -- one decoder layer of a decode step in one call: int8 weights, fp32 activations
   (tinyqwen.native builds this file together with matmul_avx2.c; tinyqwen.native_decode calls it).

   PyTorch runs a decode step of one layer as ~50 small operators (two RMSNorms, RoPE on q and k, the
   cache writes, attention over the cache, SiLU, residual adds), each some microseconds of dispatch and
   a thread-pool wake-up for a vector of a few thousand numbers: on a 2-core EPYC that is ~13 ms per
   token for the 0.5B model, over half the ~21 ms its int8 weights take to stream through the cores, and
   what llama.cpp does not spend. Here a layer is one C function: the same int8 products (int8_matmul),
   the small steps as plain loops over the B rows of the step; one call runs the whole stack
   (decode_layers_int8).

   The same maths as tinyqwen.model, step by step (x is the residual stream [B, hidden], updated in place):

     h = x / sqrt(mean(x^2) + eps) * input_norm                   RMSNorm, fp32
     q, k, v = h @ Wq.T + bq, h @ Wk.T + bk, h @ Wv.T + bv        int8_matmul   [B, H*D], [B, Hkv*D]
     q, k = rmsnorm(q_head) * q_norm, rmsnorm(k_head) * k_norm    per head, Qwen3 only
     q, k = q * cos + rotate_half(q) * sin, ...                   split-half RoPE, cos/sin [B, D]
     k_cache[b, g, pos], v_cache[b, g, pos] = k, v                this step's slot
     a = softmax(q . K^T / sqrt(D)) @ V                           per query head h, over the visible slots
                                                                  of its KV head g = h / (H / Hkv)
     x += a @ Wo.T (+ bo)
     h = x / sqrt(mean(x^2) + eps) * post_norm
     x += (silu(h @ Wg.T) * (h @ Wu.T)) @ Wd.T

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

/* one int8 projection, as tinyqwen.quant.Int8Linear holds it for the avx2 kernel */
typedef struct {
    const int8_t *weight; /* [N, K] */
    const float *scale;   /* [N] */
    const float *bias;    /* [N] or NULL */
} qlinear;

/* one decoder layer's weights and its slice of the KV cache */
typedef struct {
    const float *input_norm, *post_norm; /* [hidden] */
    const float *q_norm, *k_norm;        /* [D] (Qwen3) or NULL */
    qlinear q, k, v, o, gate, up, down;
    float *k_cache, *v_cache; /* [B, Hkv, T_max, D] */
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
} step_info;

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
static void rmsnorm(const float *x, const float *w, float eps, int64_t n, float *y)
{
    const float r = 1.0f / sqrtf(dot(x, x, n) / (float)n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = w[i] * (x[i] * r);
}

/* split-half RoPE of one head vector in place: pairs (i, i + D/2) rotated by the angle of cos/sin[i] */
static void rope(float *v, const float *cos, const float *sin, int64_t D)
{
    const int64_t half = D / 2;
    for (int64_t i = 0; i < half; i++) {
        const float a = v[i], b = v[i + half];
        v[i] = a * cos[i] - b * sin[i];
        v[i + half] = b * cos[i + half] + a * sin[i + half];
    }
}

/* out [D] = softmax over the visible slots of q . k_s / sqrt(D), times v_s; scores: scratch [pos + 1] */
static void attend(const float *q, const float *kc, const float *vc, const int64_t *mask, int64_t pos,
                   int64_t window, int64_t D, float *scores, float *out)
{
    const float scale = 1.0f / sqrtf((float)D);
    const int64_t first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
    float max = -INFINITY;
    for (int64_t s = first; s <= pos; s++) {
        if (mask && !mask[s]) {
            scores[s] = -INFINITY;
            continue;
        }
        scores[s] = dot(q, kc + s * D, D) * scale;
        if (scores[s] > max) max = scores[s];
    }
    memset(out, 0, sizeof(float) * D);
    if (max == -INFINITY) return; /* nothing visible (cannot happen for a real token: it sees itself) */
    float total = 0.0f;
    for (int64_t s = first; s <= pos; s++) {
        if (scores[s] == -INFINITY) continue;
        const float p = expf(scores[s] - max);
        total += p;
        const float *v = vc + s * D;
        int64_t i = 0;
        const __m256 vp = _mm256_set1_ps(p);
        for (; i + 8 <= D; i += 8)
            _mm256_storeu_ps(out + i, _mm256_fmadd_ps(vp, _mm256_loadu_ps(v + i), _mm256_loadu_ps(out + i)));
        for (; i < D; i++) out[i] += p * v[i];
    }
    const float inv = 1.0f / total;
    for (int64_t i = 0; i < D; i++) out[i] *= inv;
}

static int project(const float *x, const qlinear *l, float *y, int64_t M, int64_t N, int64_t K, int threads)
{
    return int8_matmul(x, l->weight, l->scale, l->bias, y, M, N, K, threads);
}

/* one layer: x [B, hidden] fp32, updated in place. Returns 0, or -1 when memory runs out. */
static int decode_layer(float *x, const layer_weights *L, const step_info *s)
{
    const int64_t B = s->B, Hd = s->hidden, H = s->H, Hkv = s->Hkv, D = s->D, I = s->I;
    const int64_t S = s->pos + 1, G = H / Hkv;
    const int64_t n = B * (Hd + 2 * H * D + 2 * Hkv * D + 2 * I + H * S);
    float *buf = malloc(sizeof(float) * n);
    if (!buf) return -1;
    float *h = buf, *q = h + B * Hd, *k = q + B * H * D, *v = k + B * Hkv * D, *att = v + B * Hkv * D;
    float *gate = att + B * H * D, *up = gate + B * I, *scores = up + B * I;
    int rc = 0;

    for (int64_t b = 0; b < B; b++) rmsnorm(x + b * Hd, L->input_norm, s->eps, Hd, h + b * Hd);
    rc |= project(h, &L->q, q, B, H * D, Hd, s->threads);     /* [B, H*D] */
    rc |= project(h, &L->k, k, B, Hkv * D, Hd, s->threads);   /* [B, Hkv*D] */
    rc |= project(h, &L->v, v, B, Hkv * D, Hd, s->threads);   /* [B, Hkv*D] */
    if (rc) goto done;

    for (int64_t b = 0; b < B; b++) {
        const float *cos = s->cos + b * D, *sin = s->sin + b * D;
        for (int64_t i = 0; i < H; i++) {
            float *qh = q + (b * H + i) * D;
            if (L->q_norm) rmsnorm(qh, L->q_norm, s->eps, D, qh);
            rope(qh, cos, sin, D);
        }
        for (int64_t g = 0; g < Hkv; g++) {
            float *kh = k + (b * Hkv + g) * D;
            if (L->k_norm) rmsnorm(kh, L->k_norm, s->eps, D, kh);
            rope(kh, cos, sin, D);
            const int64_t slot = ((b * Hkv + g) * s->T_max + s->pos) * D; /* [b, g, pos, :] */
            memcpy(L->k_cache + slot, kh, sizeof(float) * D);
            memcpy(L->v_cache + slot, v + (b * Hkv + g) * D, sizeof(float) * D);
        }
    }

#pragma omp parallel for schedule(static) num_threads(s->threads)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, g = (bh % H) / G;
        const int64_t head = (b * Hkv + g) * s->T_max * D; /* [b, g, 0, :] */
        attend(q + bh * D, L->k_cache + head, L->v_cache + head, s->mask ? s->mask + b * S : NULL,
               s->pos, L->window, D, scores + bh * S, att + bh * D);
    }

    rc |= project(att, &L->o, h, B, Hd, H * D, s->threads); /* h reused: [B, hidden] */
    if (rc) goto done;
    for (int64_t i = 0; i < B * Hd; i++) x[i] += h[i];

    for (int64_t b = 0; b < B; b++) rmsnorm(x + b * Hd, L->post_norm, s->eps, Hd, h + b * Hd);
    rc |= project(h, &L->gate, gate, B, I, Hd, s->threads); /* [B, I] */
    rc |= project(h, &L->up, up, B, I, Hd, s->threads);
    if (rc) goto done;
    for (int64_t i = 0; i < B * I; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
    rc |= project(gate, &L->down, h, B, Hd, I, s->threads); /* [B, hidden] */
    if (rc) goto done;
    for (int64_t i = 0; i < B * Hd; i++) x[i] += h[i];
done:
    free(buf);
    return rc ? -1 : 0;
}

/* the decoder stack of one step: x [B, hidden] fp32 (the embedded tokens) becomes the last layer's
   output, in place, and each layer's cache slot pos is written. Returns 0, or -1 when memory runs out. */
int decode_layers_int8(float *x, const layer_weights *layers, int64_t n_layers, const step_info *s)
{
    for (int64_t i = 0; i < n_layers; i++)
        if (decode_layer(x, layers + i, s)) return -1;
    return 0;
}
