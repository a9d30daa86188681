// CPU kernels for MindSpore Custom(func_type="aot") ops, built by zoo/ms/kernels/cpu.py.
//
// Exact GELU, y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), and its gradient
// dx = dy (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
// AdamW, torch.optim.AdamW's update at step t (lr, weight decay wd, betas b1 b2), in place:
// p <- p (1 - lr wd); m <- m + (1 - b1)(g - m); v <- b2 v + (1 - b2) g^2;
// p <- p - lr / (1 - b1^t) * (m / (sqrt(v) / sqrt(1 - b2^t) + eps)),
// one pass over p, m, v and g (MindSpore's fused AdamWeightDecay ran at ~5 GB/s here).
// Cross-entropy over rows of logits x (n, V) with integer labels, rows labelled ignore_index left
// out: loss = mean over kept rows of (m_r - x[r, label_r]) + s_r, m_r = max_j x[r, j],
// s_r = log sum_j exp(x[r, j] - m_r); its gradient dx[r, j] = dloss (exp((x[r, j] - m_r) - s_r)
// - [j = label_r]) / kept, 0 on ignored rows. m and s are kept apart (not m + s): s is small, so
// the softmax in the gradient keeps float32's precision.
// SwiGLU on rows x = [a | b] of width 2h: y = silu(gate) value, (value, gate) = (a, b), or (b, a)
// with gate_first; silu(g) = g / (1 + exp(-g)) as torch writes it. Gradient, with s = 1 / (1 + exp(-g)):
// dvalue = dy silu(g), dgate = dy value s (1 + g (1 - s)).
// Multi-head attention from (B, S, H D) query and (B, S, Hkv D) key / value projections: per query
// head h, P = softmax(scale Q_h K_g^T + key mask), O_h = P V_g, with no head transposes (each head is
// a strided block that oneDNN's sgemm, the library MindSpore's own CPU MatMul runs on, loaded from
// MindSpore's lib folder, reads with leading dimension H D or Hkv D). Grouped heads: Hkv divides H and
// query head h reads key-value head g = h / (H / Hkv) (transformers' repeat_kv order; Hkv = H is
// multi-head, Hkv = 1 multi-query attention). P is kept for the backward: dV_g = sum over the group
// of P^T dO_h, dS = P (dO_h V_g^T - rowsum(P dO_h V_g^T)), dQ_h = scale dS K_g, dK_g = sum over the
// group of scale dS^T Q_h (each member's share in a buffer, summed in member order afterwards: the same
// result for any thread count). The additive bias is an encoder's key mask, one row per sequence, or a
// decoder's causal bias, one row per query.
// Cached attention for a decoder's generation step: the new keys and values (B, T, Hkv D) are written
// into copies of the (B, Hkv, L, D) caches at slots s_t, once per key-value head, then per query head
// O = softmax(scale Q K^T + bias) V over all L slots of its key-value head's cache, in one op where the
// composed path took ~16 per layer (a decode step is launch-bound). With fewer steps than heads per
// group (a decode step) the group's queries of one step are one (H / Hkv, D) block, against which the
// cache is read once.
// LayerNorm over the last axis, y = (x - mean) r w + b with r = 1 / sqrt(var + eps) (two passes
// per row, biased variance, as torch), and its gradient: with xh = (x - mean) r and g = dy w,
// dx = r (g - mean(g) - xh mean(g xh)), dw = sum over rows of dy xh, db = sum over rows of dy.
// RMSNorm, y = x r w with r = 1 / sqrt(mean(x^2) + eps), and its gradient: with g = dy w,
// dx = r g - x r^3 mean(g x), dw = sum over rows of dy x r.
// Either norm with the residual sum fused in front (a pre-norm block's h = x + a; y = N(h)): the
// forward writes h and y, the gradient adds dh (h's other consumers) into dx = da.
// RoPE on the q (H D) and k (Hkv D) parts of a fused (B, T, (H + 2 Hkv) D) [q | k | v] projection, v
// copied out, in one op: y = x cos_t + rot(x) sin_t per head, rot(x1, x2) = (-x2, x1) on the halves;
// its gradient is the transposed rotation, dx1 = dy1 cos1 + dy2 sin2, dx2 = dy2 cos2 - dy1 sin1 (v's
// gradient passes).
// MindSpore 2.9's CPU Erf kernel is scalar and single-threaded (~25 ms on 1024 x 3072); here erf
// and exp come from glibc's vector math library (libmvec, 8 lanes on AVX2) when the CPU and the C
// library have it, else from scalar erff / expf, and the block is split across the cores.
// Every entry point follows MindSpore's aot signature and returns non-zero on a bad call. The attention
// and RoPE ops take their heads as an int32 tensor [H, Hkv] ([H] alone: Hkv = H).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
// libmvec's AVX2 variants (glibc >= 2.35); weak, so a C library without them leaves them null.
extern "C" __m256 _ZGVdN8v_erff(__m256) __attribute__((weak));
extern "C" __m256 _ZGVdN8v_expf(__m256) __attribute__((weak));
#endif

// oneDNN's row-major sgemm; weak: a build without MindSpore's libdnnl leaves it null.
extern "C" int dnnl_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                          int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
    __attribute__((weak));

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr int64_t kMinChunk = 1 << 15;  // below this a thread costs more than it saves

int CoreCount() {
  if (const char *env = std::getenv("MINDZOO_CPU_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

// body(begin, end) over [0, n) in contiguous chunks, one per thread, the caller taking the first.
template <typename Body>
void ParallelFor(int64_t n, const Body &body, int64_t min_chunk = kMinChunk) {
  static const int cores = CoreCount();
  int64_t chunks = std::min<int64_t>(cores, (n + min_chunk - 1) / min_chunk);
  if (chunks <= 1) {
    body(0, n);
    return;
  }
  int64_t step = (n + chunks - 1) / chunks;
  std::vector<std::thread> workers;
  for (int64_t c = 1; c < chunks; ++c) {
    int64_t begin = c * step, end = std::min(n, begin + step);
    if (begin < end) workers.emplace_back([&body, begin, end] { body(begin, end); });
  }
  body(0, std::min(n, step));
  for (auto &w : workers) w.join();
}

// Rows of a (rows, d) block in chunks of ~kMinChunk elements: how many chunks, and body(chunk,
// first_row, end_row) over all of them, spread over the cores.
int64_t RowChunkCount(int64_t rows, int64_t d) {
  const int64_t rows_per_chunk = std::max<int64_t>(1, kMinChunk / d);
  return (rows + rows_per_chunk - 1) / rows_per_chunk;
}

template <typename Body>
void ForRowChunks(int64_t rows, int64_t d, const Body &body) {
  const int64_t rows_per_chunk = std::max<int64_t>(1, kMinChunk / d);
  ParallelFor(RowChunkCount(rows, d), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) body(c, c * rows_per_chunk, std::min(rows, (c + 1) * rows_per_chunk));
  }, 1);
}

// out[k] = the sum over chunks of parts[c d + k], in chunk order: the same result for any thread count.
void SumChunkPartials(const std::vector<float> &parts, int64_t chunks, int64_t d, float *out) {
  for (int64_t k = 0; k < d; ++k) {
    float total = 0;
    for (int64_t c = 0; c < chunks; ++c) total += parts[c * d + k];
    out[k] = total;
  }
}

void GeluScalar(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * kInvSqrt2));
}

void GeluGradScalar(const float *x, const float *dy, float *dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float cdf = 0.5f * (1.0f + erff(x[i] * kInvSqrt2));
    float pdf = kInvSqrt2Pi * expf(-0.5f * x[i] * x[i]);
    dx[i] = dy[i] * (cdf + x[i] * pdf);
  }
}

// AVX2 + FMA code paths, chosen at run time on what the CPU supports. (Not GCC's
// target_clones("arch=haswell"): it dispatches on the CPU model, and an AMD EPYC got the baseline.)
#if defined(__x86_64__)
#define ZOO_AVX2 __attribute__((target("avx2,fma")))
bool HasAvx2Fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#else
#define ZOO_AVX2
bool HasAvx2Fma() { return false; }
#endif

#if defined(__x86_64__)
bool HasAvx2VectorMath() {
  return HasAvx2Fma() && _ZGVdN8v_erff != nullptr && _ZGVdN8v_expf != nullptr;
}

ZOO_AVX2 void GeluAvx2(const float *x, float *y, int64_t n) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), c = _mm256_set1_ps(kInvSqrt2);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 cdf = _mm256_mul_ps(half, _mm256_add_ps(one, _ZGVdN8v_erff(_mm256_mul_ps(v, c))));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(v, cdf));
  }
  GeluScalar(x + i, y + i, n - i);
}

ZOO_AVX2 void GeluGradAvx2(const float *x, const float *dy, float *dx, int64_t n) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), c = _mm256_set1_ps(kInvSqrt2);
  const __m256 minus_half = _mm256_set1_ps(-0.5f), inv_sqrt_2pi = _mm256_set1_ps(kInvSqrt2Pi);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 cdf = _mm256_mul_ps(half, _mm256_add_ps(one, _ZGVdN8v_erff(_mm256_mul_ps(v, c))));
    __m256 pdf = _mm256_mul_ps(inv_sqrt_2pi, _ZGVdN8v_expf(_mm256_mul_ps(minus_half, _mm256_mul_ps(v, v))));
    __m256 slope = _mm256_add_ps(cdf, _mm256_mul_ps(v, pdf));
    _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), slope));
  }
  GeluGradScalar(x + i, dy + i, dx + i, n - i);
}
#else
bool HasAvx2VectorMath() { return false; }
#endif

// The loops below are compiled twice, for AVX2 + FMA and for the baseline; the CPU picks at run time.
// A body is always inlined into both of its entry points.
#define ZOO_INLINE inline __attribute__((always_inline))
// NAME(PARAMS) runs NAME##Body(ARGS) built for AVX2 + FMA where the CPU has both, else for the baseline.
#define ZOO_DISPATCH(NAME, PARAMS, ARGS)               \
  ZOO_AVX2 void NAME##Avx2 PARAMS { NAME##Body ARGS; } \
  void NAME##Base PARAMS { NAME##Body ARGS; }          \
  void NAME PARAMS {                                   \
    if (HasAvx2Fma())                                  \
      NAME##Avx2 ARGS;                                 \
    else                                               \
      NAME##Base ARGS;                                 \
  }

constexpr int kLanes = 8;  // independent partial sums: vectorisable without reassociation flags

ZOO_INLINE float RowSum(const float *x, int64_t d) {
  float acc[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + kLanes <= d; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += x[j + l];
  float total = 0;
  for (; j < d; ++j) total += x[j];
  for (int l = 0; l < kLanes; ++l) total += acc[l];
  return total;
}

ZOO_INLINE float RowCentredSquares(const float *x, float mean, int64_t d) {
  float acc[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + kLanes <= d; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      float c = x[j + l] - mean;
      acc[l] += c * c;
    }
  float total = 0;
  for (; j < d; ++j) total += (x[j] - mean) * (x[j] - mean);
  for (int l = 0; l < kLanes; ++l) total += acc[l];
  return total;
}

ZOO_INLINE void RowMoments(const float *x, int64_t d, float eps, float *mean, float *rstd) {
  *mean = RowSum(x, d) / static_cast<float>(d);
  *rstd = 1.0f / std::sqrt(RowCentredSquares(x, *mean, d) / static_cast<float>(d) + eps);
}

// Row r of h = x + a into h (the fused residual sum in front of a norm).
ZOO_INLINE void ResidualSumRow(const float *x, const float *a, float *h, int64_t r, int64_t d) {
  const float *xr = x + r * d, *ar = a + r * d;
  float *hr = h + r * d;
  for (int64_t j = 0; j < d; ++j) hr[j] = xr[j] + ar[j];
}

// dx row r += dres row r, when the norm's input also flows on (dres: its gradient there; null: none).
ZOO_INLINE void AddResidualGrad(const float *dres, float *dxr, int64_t r, int64_t d) {
  if (dres == nullptr) return;
  const float *dr = dres + r * d;
  for (int64_t j = 0; j < d; ++j) dxr[j] += dr[j];
}

// Rows [begin, end) of a (rows, d) LayerNorm.
ZOO_INLINE void LayerNormRowsBody(const float *x, const float *w, const float *b, float eps, float *y, int64_t d,
                                  int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float *xr = x + r * d;
    float *yr = y + r * d;
    float mean, rstd;
    RowMoments(xr, d, eps, &mean, &rstd);
    for (int64_t j = 0; j < d; ++j) yr[j] = (xr[j] - mean) * rstd * w[j] + b[j];
  }
}

ZOO_DISPATCH(LayerNormRows,
             (const float *x, const float *w, const float *b, float eps, float *y, int64_t d, int64_t begin,
              int64_t end),
             (x, w, b, eps, y, d, begin, end))

// dx for rows [begin, end); dw / db partial sums of these rows added into dw_part / db_part.
ZOO_INLINE void LayerNormGradRowsBody(const float *x, const float *w, float eps, const float *dy, const float *dres,
                                      float *dx, float *dw_part, float *db_part, int64_t d, int64_t begin,
                                      int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float *xr = x + r * d, *dyr = dy + r * d;
    float *dxr = dx + r * d;
    float mean, rstd;
    RowMoments(xr, d, eps, &mean, &rstd);
    float g_acc[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0}, gx_acc[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + kLanes <= d; j += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        float xh = (xr[j + l] - mean) * rstd, g = dyr[j + l] * w[j + l];
        g_acc[l] += g;
        gx_acc[l] += g * xh;
      }
    float g_sum = 0, gx_sum = 0;
    for (; j < d; ++j) {
      float xh = (xr[j] - mean) * rstd, g = dyr[j] * w[j];
      g_sum += g;
      gx_sum += g * xh;
    }
    for (int l = 0; l < kLanes; ++l) {
      g_sum += g_acc[l];
      gx_sum += gx_acc[l];
    }
    const float g_mean = g_sum / static_cast<float>(d), gx_mean = gx_sum / static_cast<float>(d);
    for (int64_t k = 0; k < d; ++k) {
      float xh = (xr[k] - mean) * rstd;
      dxr[k] = rstd * (dyr[k] * w[k] - g_mean - xh * gx_mean);
      dw_part[k] += dyr[k] * xh;
      db_part[k] += dyr[k];
    }
    AddResidualGrad(dres, dxr, r, d);
  }
}

ZOO_DISPATCH(LayerNormGradRows,
             (const float *x, const float *w, float eps, const float *dy, const float *dres, float *dx, float *dw_part,
              float *db_part, int64_t d, int64_t begin, int64_t end),
             (x, w, eps, dy, dres, dx, dw_part, db_part, d, begin, end))

// Rows [begin, end) of a (rows, d) RMSNorm.
ZOO_INLINE void RmsNormRowsBody(const float *x, const float *w, float eps, float *y, int64_t d, int64_t begin,
                                int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float *xr = x + r * d;
    float *yr = y + r * d;
    const float rstd = 1.0f / std::sqrt(RowCentredSquares(xr, 0.0f, d) / static_cast<float>(d) + eps);
    for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * rstd * w[j];
  }
}

ZOO_DISPATCH(RmsNormRows, (const float *x, const float *w, float eps, float *y, int64_t d, int64_t begin, int64_t end),
             (x, w, eps, y, d, begin, end))

// dx for rows [begin, end); the dw partial sums of these rows added into dw_part.
ZOO_INLINE void RmsNormGradRowsBody(const float *x, const float *w, float eps, const float *dy, const float *dres,
                                    float *dx, float *dw_part, int64_t d, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float *xr = x + r * d, *dyr = dy + r * d;
    float *dxr = dx + r * d;
    const float rstd = 1.0f / std::sqrt(RowCentredSquares(xr, 0.0f, d) / static_cast<float>(d) + eps);
    float gx_acc[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + kLanes <= d; j += kLanes)
      for (int l = 0; l < kLanes; ++l) gx_acc[l] += dyr[j + l] * w[j + l] * xr[j + l];
    float gx_sum = 0;
    for (; j < d; ++j) gx_sum += dyr[j] * w[j] * xr[j];
    for (int l = 0; l < kLanes; ++l) gx_sum += gx_acc[l];
    const float correction = rstd * rstd * rstd * gx_sum / static_cast<float>(d);
    for (int64_t k = 0; k < d; ++k) {
      dxr[k] = rstd * dyr[k] * w[k] - xr[k] * correction;
      dw_part[k] += dyr[k] * xr[k] * rstd;
    }
    AddResidualGrad(dres, dxr, r, d);
  }
}

ZOO_DISPATCH(RmsNormGradRows,
             (const float *x, const float *w, float eps, const float *dy, const float *dres, float *dx,
              float *dw_part, int64_t d, int64_t begin, int64_t end),
             (x, w, eps, dy, dres, dx, dw_part, d, begin, end))

// One head's rotation: y = x cos + rot(x) sin, or its transpose (the gradient) when `transposed`.
ZOO_INLINE void RotateHead(const float *x, const float *cos, const float *sin, float *y, int64_t half,
                           bool transposed) {
  const float sign = transposed ? -1.0f : 1.0f;
  const float *sin_lo = transposed ? sin + half : sin, *sin_hi = transposed ? sin : sin + half;
  for (int64_t j = 0; j < half; ++j) {
    y[j] = x[j] * cos[j] - sign * x[j + half] * sin_lo[j];
    y[j + half] = x[j + half] * cos[j + half] + sign * x[j] * sin_hi[j];
  }
}

// Rows [begin, end) of (B T) rows of a fused [q | k | v] (width (H + 2 Hkv) D): q's H heads and k's
// Hkv heads rotated, v copied.
ZOO_INLINE void RotaryQkvRowsBody(const float *qkv, const float *cos, const float *sin, float *q, float *k,
                                  float *v, int64_t seq, int64_t heads, int64_t kv_heads, int64_t dim, int64_t begin,
                                  int64_t end) {
  const int64_t width = heads * dim, kv_width = kv_heads * dim, row_width = width + 2 * kv_width, half = dim / 2;
  for (int64_t r = begin; r < end; ++r) {
    const float *row = qkv + r * row_width, *c = cos + (r % seq) * dim, *s = sin + (r % seq) * dim;
    for (int64_t h = 0; h < heads; ++h) RotateHead(row + h * dim, c, s, q + r * width + h * dim, half, false);
    for (int64_t h = 0; h < kv_heads; ++h)
      RotateHead(row + width + h * dim, c, s, k + r * kv_width + h * dim, half, false);
    std::memcpy(v + r * kv_width, row + width + kv_width, sizeof(float) * kv_width);
  }
}

ZOO_DISPATCH(RotaryQkvRows,
             (const float *qkv, const float *cos, const float *sin, float *q, float *k, float *v, int64_t seq,
              int64_t heads, int64_t kv_heads, int64_t dim, int64_t begin, int64_t end),
             (qkv, cos, sin, q, k, v, seq, heads, kv_heads, dim, begin, end))

// The gradient of rows [begin, end): dq and dk rotated back, dv copied, into one (B T, (H + 2 Hkv) D) dqkv.
ZOO_INLINE void RotaryQkvGradRowsBody(const float *dq, const float *dk, const float *dv, const float *cos,
                                      const float *sin, float *dqkv, int64_t seq, int64_t heads, int64_t kv_heads,
                                      int64_t dim, int64_t begin, int64_t end) {
  const int64_t width = heads * dim, kv_width = kv_heads * dim, row_width = width + 2 * kv_width, half = dim / 2;
  for (int64_t r = begin; r < end; ++r) {
    float *row = dqkv + r * row_width;
    const float *c = cos + (r % seq) * dim, *s = sin + (r % seq) * dim;
    for (int64_t h = 0; h < heads; ++h) RotateHead(dq + r * width + h * dim, c, s, row + h * dim, half, true);
    for (int64_t h = 0; h < kv_heads; ++h)
      RotateHead(dk + r * kv_width + h * dim, c, s, row + width + h * dim, half, true);
    std::memcpy(row + width + kv_width, dv + r * kv_width, sizeof(float) * kv_width);
  }
}

ZOO_DISPATCH(RotaryQkvGradRows,
             (const float *dq, const float *dk, const float *dv, const float *cos, const float *sin, float *dqkv,
              int64_t seq, int64_t heads, int64_t kv_heads, int64_t dim, int64_t begin, int64_t end),
             (dq, dk, dv, cos, sin, dqkv, seq, heads, kv_heads, dim, begin, end))

// One pass of the AdamW update over n elements, in torch's CPU operation order (lerp as one fused
// multiply-add, addcmul as (w g) g fused onto b2 v, addcdiv left to right). torch's sqrt comes from MKL (within 1 ulp, not
// always correctly rounded), so results differ from torch's in the last bit of a few elements.
// restrict, so that the loop vectorises.
ZOO_INLINE void AdamWRangeBody(float *__restrict p, float *__restrict m, float *__restrict v,
                               const float *__restrict g, int64_t n, float decay, float one_minus_b1, float b2,
                               float one_minus_b2, float neg_step_size, float bias2_sqrt, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    const float mi = std::fma(one_minus_b1, g[i] - m[i], m[i]);
    const float vi = std::fma(one_minus_b2 * g[i], g[i], b2 * v[i]);
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay + neg_step_size * mi / (std::sqrt(vi) / bias2_sqrt + eps);
  }
}

ZOO_DISPATCH(AdamWRange,
             (float *p, float *m, float *v, const float *g, int64_t n, float decay, float one_minus_b1, float b2,
              float one_minus_b2, float neg_step_size, float bias2_sqrt, float eps),
             (p, m, v, g, n, decay, one_minus_b1, b2, one_minus_b2, neg_step_size, bias2_sqrt, eps))

// (max, log sum exp(x - max)) of one row (scalar libm path).
float RowMaxScalar(const float *x, int64_t n) {
  float top = x[0];
  for (int64_t j = 1; j < n; ++j) top = std::max(top, x[j]);
  return top;
}

void RowLogSumExpScalar(const float *x, int64_t v, float *stats) {
  const float top = RowMaxScalar(x, v);
  float total = 0;
  for (int64_t j = 0; j < v; ++j) total += expf(x[j] - top);
  stats[0] = top;
  stats[1] = std::log(total);
}

void SoftmaxMinusOneHotScalar(const float *x, const float *stats, float scale, float *dx, int64_t v) {
  for (int64_t j = 0; j < v; ++j) dx[j] = scale * expf((x[j] - stats[0]) - stats[1]);
}

#if defined(__x86_64__)
// Row maximum over n >= kLanes entries, eight lanes at a time.
ZOO_AVX2 float RowMaxAvx2(const float *x, int64_t n) {
  __m256 lane_top = _mm256_loadu_ps(x);
  int64_t j = kLanes;
  for (; j + kLanes <= n; j += kLanes) lane_top = _mm256_max_ps(lane_top, _mm256_loadu_ps(x + j));
  float lanes[kLanes];
  _mm256_storeu_ps(lanes, lane_top);
  float top = lanes[0];
  for (int l = 1; l < kLanes; ++l) top = std::max(top, lanes[l]);
  for (; j < n; ++j) top = std::max(top, x[j]);
  return top;
}

ZOO_AVX2 void RowLogSumExpAvx2(const float *x, int64_t v, float *stats) {
  if (v < kLanes) return RowLogSumExpScalar(x, v, stats);
  const float top = RowMaxAvx2(x, v);
  float lanes[kLanes];
  const __m256 shift = _mm256_set1_ps(top);
  __m256 sum = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + kLanes <= v; j += kLanes)
    sum = _mm256_add_ps(sum, _ZGVdN8v_expf(_mm256_sub_ps(_mm256_loadu_ps(x + j), shift)));
  _mm256_storeu_ps(lanes, sum);
  float total = 0;
  for (; j < v; ++j) total += expf(x[j] - top);
  for (int l = 0; l < kLanes; ++l) total += lanes[l];
  stats[0] = top;
  stats[1] = std::log(total);
}

ZOO_AVX2 void SoftmaxMinusOneHotAvx2(const float *x, const float *stats, float scale, float *dx, int64_t v) {
  const __m256 top = _mm256_set1_ps(stats[0]), log_total = _mm256_set1_ps(stats[1]), k = _mm256_set1_ps(scale);
  int64_t j = 0;
  for (; j + kLanes <= v; j += kLanes) {
    __m256 shifted = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), top), log_total);
    _mm256_storeu_ps(dx + j, _mm256_mul_ps(k, _ZGVdN8v_expf(shifted)));
  }
  SoftmaxMinusOneHotScalar(x + j, stats, scale, dx + j, v - j);
}
#endif

float RowMax(const float *x, int64_t n) {
#if defined(__x86_64__)
  if (HasAvx2Fma() && n >= kLanes) return RowMaxAvx2(x, n);
#endif
  return RowMaxScalar(x, n);
}

void RowLogSumExp(const float *x, int64_t v, float *stats) {
#if defined(__x86_64__)
  if (HasAvx2VectorMath()) return RowLogSumExpAvx2(x, v, stats);
#endif
  RowLogSumExpScalar(x, v, stats);
}

// dx = scale (softmax(x) - onehot(label)) for one row.
void SoftmaxMinusOneHot(const float *x, const float *stats, int64_t label, float scale, float *dx, int64_t v) {
#if defined(__x86_64__)
  if (HasAvx2VectorMath())
    SoftmaxMinusOneHotAvx2(x, stats, scale, dx, v);
  else
#endif
    SoftmaxMinusOneHotScalar(x, stats, scale, dx, v);
  dx[label] -= scale;
}

// Row softmax in place over n entries (max-shifted; exp from libmvec on the AVX2 path).
void SoftmaxRowScalar(float *x, int64_t n) {
  const float top = RowMaxScalar(x, n);
  float total = 0;
  for (int64_t j = 0; j < n; ++j) {
    x[j] = expf(x[j] - top);
    total += x[j];
  }
  for (int64_t j = 0; j < n; ++j) x[j] /= total;
}

#if defined(__x86_64__)
ZOO_AVX2 void SoftmaxRowAvx2(float *x, int64_t n) {
  if (n < kLanes) return SoftmaxRowScalar(x, n);
  const float top = RowMaxAvx2(x, n);
  float lanes[kLanes];
  const __m256 shift = _mm256_set1_ps(top);
  __m256 sum = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    __m256 e = _ZGVdN8v_expf(_mm256_sub_ps(_mm256_loadu_ps(x + j), shift));
    _mm256_storeu_ps(x + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  _mm256_storeu_ps(lanes, sum);
  float total = 0;
  for (; j < n; ++j) {
    x[j] = expf(x[j] - top);
    total += x[j];
  }
  for (int l = 0; l < kLanes; ++l) total += lanes[l];
  const __m256 divisor = _mm256_set1_ps(total);
  for (j = 0; j + kLanes <= n; j += kLanes) _mm256_storeu_ps(x + j, _mm256_div_ps(_mm256_loadu_ps(x + j), divisor));
  for (; j < n; ++j) x[j] /= total;
}
#endif

void SoftmaxRow(float *x, int64_t n) {
#if defined(__x86_64__)
  if (HasAvx2VectorMath()) return SoftmaxRowAvx2(x, n);
#endif
  SoftmaxRowScalar(x, n);
}

// row <- softmax(row + bias_row) over n entries: the attention kernels' scores to probabilities.
void BiasedSoftmaxRow(float *row, const float *bias_row, int64_t n) {
  for (int64_t j = 0; j < n; ++j) row[j] += bias_row[j];
  SoftmaxRow(row, n);
}

void SwiGluScalar(const float *value, const float *gate, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = gate[i] / (1.0f + expf(-gate[i])) * value[i];
}

void SwiGluGradScalar(const float *value, const float *gate, const float *dy, float *dvalue, float *dgate,
                      int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float e = 1.0f + expf(-gate[i]), s = 1.0f / e;
    dvalue[i] = dy[i] * (gate[i] / e);
    dgate[i] = dy[i] * value[i] * (s * (1.0f + gate[i] * (1.0f - s)));
  }
}

#if defined(__x86_64__)
ZOO_AVX2 void SwiGluAvx2(const float *value, const float *gate, float *y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    __m256 g = _mm256_loadu_ps(gate + i);
    __m256 e = _mm256_add_ps(one, _ZGVdN8v_expf(_mm256_sub_ps(zero, g)));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_div_ps(g, e), _mm256_loadu_ps(value + i)));
  }
  SwiGluScalar(value + i, gate + i, y + i, n - i);
}

ZOO_AVX2 void SwiGluGradAvx2(const float *value, const float *gate, const float *dy, float *dvalue, float *dgate,
                             int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    __m256 g = _mm256_loadu_ps(gate + i), d = _mm256_loadu_ps(dy + i);
    __m256 e = _mm256_add_ps(one, _ZGVdN8v_expf(_mm256_sub_ps(zero, g)));
    __m256 s = _mm256_div_ps(one, e);
    _mm256_storeu_ps(dvalue + i, _mm256_mul_ps(d, _mm256_div_ps(g, e)));
    __m256 slope = _mm256_mul_ps(s, _mm256_add_ps(one, _mm256_mul_ps(g, _mm256_sub_ps(one, s))));
    _mm256_storeu_ps(dgate + i, _mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(value + i)), slope));
  }
  SwiGluGradScalar(value + i, gate + i, dy + i, dvalue + i, dgate + i, n - i);
}
#endif

void SwiGluRow(const float *value, const float *gate, float *y, int64_t n) {
#if defined(__x86_64__)
  if (HasAvx2VectorMath()) return SwiGluAvx2(value, gate, y, n);
#endif
  SwiGluScalar(value, gate, y, n);
}

void SwiGluGradRow(const float *value, const float *gate, const float *dy, float *dvalue, float *dgate, int64_t n) {
#if defined(__x86_64__)
  if (HasAvx2VectorMath()) return SwiGluGradAvx2(value, gate, dy, dvalue, dgate, n);
#endif
  SwiGluGradScalar(value, gate, dy, dvalue, dgate, n);
}

int64_t Elements(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  return n;
}

bool AllFloat32(int nparam, const char **dtypes) {
  for (int i = 0; i < nparam; ++i)
    if (std::strcmp(dtypes[i], "float32") != 0) return false;
  return true;
}

// Every param float32 but the one at int32_index, which is int32.
bool Float32Except(int nparam, const char **dtypes, int int32_index) {
  for (int i = 0; i < nparam; ++i)
    if (std::strcmp(dtypes[i], i == int32_index ? "int32" : "float32") != 0) return false;
  return true;
}

// Whether param i has exactly the shape `dims`.
bool ShapeIs(const int *ndims, int64_t *const *shapes, int i, std::initializer_list<int64_t> dims) {
  if (ndims[i] != static_cast<int>(dims.size())) return false;
  int d = 0;
  for (int64_t extent : dims)
    if (shapes[i][d++] != extent) return false;
  return true;
}

// The attention and RoPE ops' heads, an int32 param of 2 elements [H, Hkv] (or of 1, [H]: Hkv = H), into
// *heads and *kv_heads: false unless H >= 1, Hkv >= 1 and Hkv divides H.
bool ReadHeads(const int *ndims, int64_t *const *shapes, void *const *params, int i, int64_t *heads,
               int64_t *kv_heads) {
  const int64_t n = Elements(ndims[i], shapes[i]);
  if (n != 1 && n != 2) return false;
  const int32_t *given = static_cast<const int32_t *>(params[i]);
  *heads = given[0];
  *kv_heads = n == 2 ? given[1] : given[0];
  return *heads >= 1 && *kv_heads >= 1 && *heads % *kv_heads == 0;
}

// The norms' shared bodies over n elements in rows of d: LayerNorm with a bias `b` (db), RMSNorm when
// b (db) is null. `a`: the residual added in front (h = x + a, written to h; null: x is normalised);
// `dres`: the gradient reaching the norm's input from elsewhere, added into dx (null: none).
void NormForward(const float *x, const float *a, const float *w, const float *b, float eps, float *h, float *y,
                 int64_t n, int64_t d) {
  const float *normed_input = a != nullptr ? h : x;
  ForRowChunks(n / d, d, [&](int64_t, int64_t begin, int64_t end) {
    if (a != nullptr)
      for (int64_t r = begin; r < end; ++r) ResidualSumRow(x, a, h, r, d);
    if (b != nullptr) {
      LayerNormRows(normed_input, w, b, eps, y, d, begin, end);
    } else {
      RmsNormRows(normed_input, w, eps, y, d, begin, end);
    }
  });
}

void NormBackward(const float *x, const float *w, float eps, const float *dy, const float *dres, float *dx,
                  float *dw, float *db, int64_t n, int64_t d) {
  const int64_t chunks = RowChunkCount(n / d, d);
  std::vector<float> dw_parts(chunks * d, 0.0f), db_parts(db != nullptr ? chunks * d : 0, 0.0f);  // per chunk
  ForRowChunks(n / d, d, [&](int64_t c, int64_t begin, int64_t end) {
    if (db != nullptr) {
      LayerNormGradRows(x, w, eps, dy, dres, dx, &dw_parts[c * d], &db_parts[c * d], d, begin, end);
    } else {
      RmsNormGradRows(x, w, eps, dy, dres, dx, &dw_parts[c * d], d, begin, end);
    }
  });
  SumChunkPartials(dw_parts, chunks, d, dw);
  if (db != nullptr) SumChunkPartials(db_parts, chunks, d, db);
}

// The last axis of shapes[0], when every listed (index, elements) pair fits: 0 otherwise.
int64_t NormWidth(int *ndims, int64_t **shapes, std::initializer_list<int> rows_like,
                  std::initializer_list<int> weight_like) {
  if (ndims[0] < 1) return 0;
  const int64_t d = shapes[0][ndims[0] - 1], n = Elements(ndims[0], shapes[0]);
  if (d < 1) return 0;
  for (int i : rows_like)
    if (Elements(ndims[i], shapes[i]) != n) return 0;
  for (int i : weight_like)
    if (Elements(ndims[i], shapes[i]) != d) return 0;
  return d;
}

}  // namespace

extern "C" {

// Which path the kernels take here: 1 = AVX2 + libmvec, 0 = scalar libm.
int ZooCpuKernelsVectorPath() { return HasAvx2VectorMath() ? 1 : 0; }

// 1 when the attention kernels can run (oneDNN's sgemm was linked).
int ZooCpuKernelsHasGemm() { return dnnl_sgemm != nullptr ? 1 : 0; }

// 1: the attention and RoPE kernels take heads [H, Hkv] with Hkv dividing H (grouped- and multi-query
// attention), not only H = Hkv.
int ZooCpuKernelsGroupedHeads() { return 1; }

// params: x, y
int GeluErf(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 2 || !AllFloat32(nparam, dtypes)) return 1;
  const float *x = static_cast<const float *>(params[0]);
  float *y = static_cast<float *>(params[1]);
  int64_t n = Elements(ndims[0], shapes[0]);
  static const bool vector = HasAvx2VectorMath();
  ParallelFor(n, [&](int64_t begin, int64_t end) {
#if defined(__x86_64__)
    if (vector) return GeluAvx2(x + begin, y + begin, end - begin);
#endif
    GeluScalar(x + begin, y + begin, end - begin);
  });
  return 0;
}

// params: x, dy, dx
int GeluErfGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 3 || !AllFloat32(nparam, dtypes)) return 1;
  const float *x = static_cast<const float *>(params[0]);
  const float *dy = static_cast<const float *>(params[1]);
  float *dx = static_cast<float *>(params[2]);
  int64_t n = Elements(ndims[0], shapes[0]);
  if (Elements(ndims[1], shapes[1]) != n) return 2;
  static const bool vector = HasAvx2VectorMath();
  ParallelFor(n, [&](int64_t begin, int64_t end) {
#if defined(__x86_64__)
    if (vector) return GeluGradAvx2(x + begin, dy + begin, dx + begin, end - begin);
#endif
    GeluGradScalar(x + begin, dy + begin, dx + begin, end - begin);
  });
  return 0;
}

#define ZOO_F(i) static_cast<float *>(params[i])
#define ZOO_CF(i) static_cast<const float *>(params[i])

// params: x (..., d), weight (d), bias (d), eps (1), y (..., d)
int LayerNorm(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 5 || !AllFloat32(nparam, dtypes)) return 1;
  const int64_t d = NormWidth(ndims, shapes, {4}, {1, 2});
  if (d == 0) return 2;
  NormForward(ZOO_CF(0), nullptr, ZOO_CF(1), ZOO_CF(2), *ZOO_CF(3), nullptr, ZOO_F(4),
              Elements(ndims[0], shapes[0]), d);
  return 0;
}

// params: x (..., d), a (..., d), weight (d), bias (d), eps (1); h = x + a (..., d), y (..., d)
int AddLayerNorm(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 7 || !AllFloat32(nparam, dtypes)) return 1;
  const int64_t d = NormWidth(ndims, shapes, {1, 5, 6}, {2, 3});
  if (d == 0) return 2;
  NormForward(ZOO_CF(0), ZOO_CF(1), ZOO_CF(2), ZOO_CF(3), *ZOO_CF(4), ZOO_F(5), ZOO_F(6),
              Elements(ndims[0], shapes[0]), d);
  return 0;
}

// params: x (..., d), weight (d), eps (1), dy (..., d); dx (..., d), dw (d), db (d)
int LayerNormGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 7 || !AllFloat32(nparam, dtypes)) return 1;
  const int64_t d = NormWidth(ndims, shapes, {3, 4}, {1, 5, 6});
  if (d == 0) return 2;
  NormBackward(ZOO_CF(0), ZOO_CF(1), *ZOO_CF(2), ZOO_CF(3), nullptr, ZOO_F(4), ZOO_F(5), ZOO_F(6),
               Elements(ndims[0], shapes[0]), d);
  return 0;
}

// params: h (..., d), weight (d), eps (1), dy (..., d), dh (..., d); dx (..., d), dw (d), db (d)
int AddLayerNormGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 8 || !AllFloat32(nparam, dtypes)) return 1;
  const int64_t d = NormWidth(ndims, shapes, {3, 4, 5}, {1, 6, 7});
  if (d == 0) return 2;
  NormBackward(ZOO_CF(0), ZOO_CF(1), *ZOO_CF(2), ZOO_CF(3), ZOO_CF(4), ZOO_F(5), ZOO_F(6), ZOO_F(7),
               Elements(ndims[0], shapes[0]), d);
  return 0;
}

// params: x (..., d), weight (d), eps (1), y (..., d)
int RmsNorm(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 4 || !AllFloat32(nparam, dtypes)) return 1;
  const int64_t d = NormWidth(ndims, shapes, {3}, {1});
  if (d == 0) return 2;
  NormForward(ZOO_CF(0), nullptr, ZOO_CF(1), nullptr, *ZOO_CF(2), nullptr, ZOO_F(3),
              Elements(ndims[0], shapes[0]), d);
  return 0;
}

// params: x (..., d), a (..., d), weight (d), eps (1); h = x + a (..., d), y (..., d)
int AddRmsNorm(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 6 || !AllFloat32(nparam, dtypes)) return 1;
  const int64_t d = NormWidth(ndims, shapes, {1, 4, 5}, {2});
  if (d == 0) return 2;
  NormForward(ZOO_CF(0), ZOO_CF(1), ZOO_CF(2), nullptr, *ZOO_CF(3), ZOO_F(4), ZOO_F(5),
              Elements(ndims[0], shapes[0]), d);
  return 0;
}

// params: x (..., d), weight (d), eps (1), dy (..., d); dx (..., d), dw (d)
int RmsNormGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 6 || !AllFloat32(nparam, dtypes)) return 1;
  const int64_t d = NormWidth(ndims, shapes, {3, 4}, {1, 5});
  if (d == 0) return 2;
  NormBackward(ZOO_CF(0), ZOO_CF(1), *ZOO_CF(2), ZOO_CF(3), nullptr, ZOO_F(4), ZOO_F(5), nullptr,
               Elements(ndims[0], shapes[0]), d);
  return 0;
}

// params: h (..., d), weight (d), eps (1), dy (..., d), dh (..., d); dx (..., d), dw (d)
int AddRmsNormGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 7 || !AllFloat32(nparam, dtypes)) return 1;
  const int64_t d = NormWidth(ndims, shapes, {3, 4, 5}, {1, 6});
  if (d == 0) return 2;
  NormBackward(ZOO_CF(0), ZOO_CF(1), *ZOO_CF(2), ZOO_CF(3), ZOO_CF(4), ZOO_F(5), ZOO_F(6), nullptr,
               Elements(ndims[0], shapes[0]), d);
  return 0;
}

#undef ZOO_F
#undef ZOO_CF

// RotaryQkv's shapes: (B T) rows of H query heads and Hkv key-value heads of width D (heads from the
// int32 param at heads_index, batch and steps from x_shape), cos / sin (T, D) at shapes[cos_index], D even.
// ok false when they do not fit.
struct RotaryShape {
  bool ok = false;
  int64_t batch = 0, seq = 0, rows = 0, heads = 0, kv_heads = 0, dim = 0;
  int64_t QWidth() const { return heads * dim; }
  int64_t KvWidth() const { return kv_heads * dim; }
  int64_t MinRows() const { return std::max<int64_t>(1, kMinChunk / ((heads + 2 * kv_heads) * dim)); }  // per thread
};

RotaryShape CheckRotary(const int64_t *x_shape, int *ndims, int64_t **shapes, void **params, int cos_index,
                        int heads_index) {
  RotaryShape out;
  if (ndims[cos_index] != 2 || !ReadHeads(ndims, shapes, params, heads_index, &out.heads, &out.kv_heads))
    return out;
  out.batch = x_shape[0];
  out.seq = x_shape[1];
  out.dim = shapes[cos_index][1];
  out.rows = out.batch * out.seq;
  out.ok = out.dim >= 2 && out.dim % 2 == 0 && ShapeIs(ndims, shapes, cos_index, {out.seq, out.dim}) &&
           ShapeIs(ndims, shapes, cos_index + 1, {out.seq, out.dim});
  return out;
}

// params: qkv (B, T, (H + 2 Hkv) D), cos (T, D), sin (T, D), heads (2: H, Hkv; or 1: H = Hkv) int32;
// q (B, T, H D), k, v (B, T, Hkv D)
int RotaryQkv(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 7 || !Float32Except(nparam, dtypes, 3)) return 1;
  if (ndims[0] != 3) return 2;
  const RotaryShape shape = CheckRotary(shapes[0], ndims, shapes, params, 1, 3);
  if (!shape.ok || shapes[0][2] != shape.QWidth() + 2 * shape.KvWidth()) return 2;
  if (!ShapeIs(ndims, shapes, 4, {shape.batch, shape.seq, shape.QWidth()})) return 2;
  for (int i : {5, 6})
    if (!ShapeIs(ndims, shapes, i, {shape.batch, shape.seq, shape.KvWidth()})) return 2;
  const float *x = static_cast<const float *>(params[0]);
  const float *cos = static_cast<const float *>(params[1]), *sin = static_cast<const float *>(params[2]);
  float *q = static_cast<float *>(params[4]), *k = static_cast<float *>(params[5]);
  float *v = static_cast<float *>(params[6]);
  ParallelFor(shape.rows, [&](int64_t begin, int64_t end) {
    RotaryQkvRows(x, cos, sin, q, k, v, shape.seq, shape.heads, shape.kv_heads, shape.dim, begin, end);
  }, shape.MinRows());
  return 0;
}

// params: dq (B, T, H D), dk, dv (B, T, Hkv D), cos (T, D), sin (T, D), heads (2 or 1) int32;
// dqkv (B, T, (H + 2 Hkv) D)
int RotaryQkvGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 7 || !Float32Except(nparam, dtypes, 5)) return 1;
  if (ndims[0] != 3) return 2;
  const RotaryShape shape = CheckRotary(shapes[0], ndims, shapes, params, 3, 5);
  if (!shape.ok || !ShapeIs(ndims, shapes, 0, {shape.batch, shape.seq, shape.QWidth()})) return 2;
  for (int i : {1, 2})
    if (!ShapeIs(ndims, shapes, i, {shape.batch, shape.seq, shape.KvWidth()})) return 2;
  if (!ShapeIs(ndims, shapes, 6, {shape.batch, shape.seq, shape.QWidth() + 2 * shape.KvWidth()})) return 2;
  const float *dq = static_cast<const float *>(params[0]), *dk = static_cast<const float *>(params[1]);
  const float *dv = static_cast<const float *>(params[2]);
  const float *cos = static_cast<const float *>(params[3]), *sin = static_cast<const float *>(params[4]);
  float *dqkv = static_cast<float *>(params[6]);
  ParallelFor(shape.rows, [&](int64_t begin, int64_t end) {
    RotaryQkvGradRows(dq, dk, dv, cos, sin, dqkv, shape.seq, shape.heads, shape.kv_heads, shape.dim, begin, end);
  }, shape.MinRows());
  return 0;
}

// params: param, exp_avg, exp_avg_sq (updated in place), grad (all float32, same size),
// hyper (float64: lr, beta1, beta2, eps, weight_decay), step (float32, 1-based); done (float32, 1)
int AdamW(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 7) return 1;
  for (int i : {0, 1, 2, 3, 5, 6})
    if (std::strcmp(dtypes[i], "float32") != 0) return 1;
  if (std::strcmp(dtypes[4], "float64") != 0 || Elements(ndims[4], shapes[4]) != 5) return 2;
  const int64_t n = Elements(ndims[0], shapes[0]);
  for (int i = 1; i < 4; ++i)
    if (Elements(ndims[i], shapes[i]) != n) return 2;
  float *p = static_cast<float *>(params[0]), *m = static_cast<float *>(params[1]);
  float *v = static_cast<float *>(params[2]);
  const float *g = static_cast<const float *>(params[3]);
  const double *hyper = static_cast<const double *>(params[4]);
  const double lr = hyper[0], b1 = hyper[1], b2 = hyper[2], eps = hyper[3], wd = hyper[4];
  const double t = *static_cast<const float *>(params[5]);
  // the scalars as torch forms them: in double, then rounded once to float32
  const float decay = static_cast<float>(1.0 - lr * wd);
  const float neg_step_size = static_cast<float>(-(lr / (1.0 - std::pow(b1, t))));
  const float bias2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(b2, t)));
  const float one_minus_b1 = static_cast<float>(1.0 - b1), one_minus_b2 = static_cast<float>(1.0 - b2);
  const float fb2 = static_cast<float>(b2), feps = static_cast<float>(eps);
  ParallelFor(n, [=](int64_t begin, int64_t end) {
    AdamWRange(p + begin, m + begin, v + begin, g + begin, end - begin, decay, one_minus_b1, fb2, one_minus_b2,
               neg_step_size, bias2_sqrt, feps);
  });
  *static_cast<float *>(params[6]) = 1.0f;
  return 0;
}

// params: logits (n, V) float32, labels (n) int32, ignore_index (1) int32; loss (1), stats (n, 2) float32
// (row max, log sum exp of the shifted row).
// Returns 2 for a label outside [0, V) that is not ignore_index.
int CrossEntropy(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 5 || std::strcmp(dtypes[0], "float32") != 0 || std::strcmp(dtypes[1], "int32") != 0 ||
      std::strcmp(dtypes[2], "int32") != 0 || ndims[0] != 2)
    return 1;
  const int64_t n = shapes[0][0], v = shapes[0][1];
  if (Elements(ndims[1], shapes[1]) != n || v < 1) return 1;
  const float *x = static_cast<const float *>(params[0]);
  const int32_t *labels = static_cast<const int32_t *>(params[1]);
  const int32_t ignore = *static_cast<const int32_t *>(params[2]);
  float *loss = static_cast<float *>(params[3]), *stats = static_cast<float *>(params[4]);
  for (int64_t r = 0; r < n; ++r)
    if (labels[r] != ignore && (labels[r] < 0 || labels[r] >= v)) return 2;
  ParallelFor(n, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      stats[2 * r] = stats[2 * r + 1] = 0.0f;
      if (labels[r] != ignore) RowLogSumExp(x + r * v, v, stats + 2 * r);
    }
  }, std::max<int64_t>(1, kMinChunk / v));
  double total = 0;  // in row order: the same sum for any thread count
  int64_t kept = 0;
  for (int64_t r = 0; r < n; ++r)
    if (labels[r] != ignore) {
      total += static_cast<double>(stats[2 * r]) - x[r * v + labels[r]] + stats[2 * r + 1];
      ++kept;
    }
  *loss = static_cast<float>(total / static_cast<double>(kept));  // no kept row: NaN, as torch
  return 0;
}

// params: logits (n, V), labels (n), ignore_index (1), stats (n, 2), dloss (1); dlogits (n, V)
int CrossEntropyGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 6 || ndims[0] != 2) return 1;
  const int64_t n = shapes[0][0], v = shapes[0][1];
  const float *x = static_cast<const float *>(params[0]);
  const int32_t *labels = static_cast<const int32_t *>(params[1]);
  const int32_t ignore = *static_cast<const int32_t *>(params[2]);
  const float *stats = static_cast<const float *>(params[3]);
  const float dloss = *static_cast<const float *>(params[4]);
  float *dx = static_cast<float *>(params[5]);
  int64_t kept = 0;
  for (int64_t r = 0; r < n; ++r) kept += labels[r] != ignore;
  const float scale = kept ? static_cast<float>(static_cast<double>(dloss) / static_cast<double>(kept)) : 0.0f;
  ParallelFor(n, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (labels[r] == ignore)
        std::memset(dx + r * v, 0, sizeof(float) * v);
      else
        SoftmaxMinusOneHot(x + r * v, stats + 2 * r, labels[r], scale, dx + r * v, v);
    }
  }, std::max<int64_t>(1, kMinChunk / v));
  return 0;
}

// params: x (..., 2h) float32, gate_first (1) int32; y (..., h)
int SwiGlu(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 3 || !Float32Except(nparam, dtypes, 1) || ndims[0] < 1) return 1;
  const int64_t width = shapes[0][ndims[0] - 1], half = width / 2;
  if (width % 2 != 0 || half < 1) return 2;
  const int64_t rows = Elements(ndims[0], shapes[0]) / width;
  const float *x = static_cast<const float *>(params[0]);
  const bool gate_first = *static_cast<const int32_t *>(params[1]) != 0;
  float *y = static_cast<float *>(params[2]);
  ParallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *a = x + r * width, *b = a + half;
      SwiGluRow(gate_first ? b : a, gate_first ? a : b, y + r * half, half);
    }
  }, std::max<int64_t>(1, kMinChunk / half));
  return 0;
}

// params: x (..., 2h), gate_first (1), dy (..., h); dx (..., 2h)
int SwiGluGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 4 || ndims[0] < 1) return 1;
  const int64_t width = shapes[0][ndims[0] - 1], half = width / 2;
  if (width % 2 != 0 || half < 1) return 2;
  const int64_t rows = Elements(ndims[0], shapes[0]) / width;
  const float *x = static_cast<const float *>(params[0]);
  const bool gate_first = *static_cast<const int32_t *>(params[1]) != 0;
  const float *dy = static_cast<const float *>(params[2]);
  float *dx = static_cast<float *>(params[3]);
  ParallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *a = x + r * width, *b = a + half;
      float *da = dx + r * width, *db = da + half;
      if (gate_first)
        SwiGluGradRow(b, a, dy + r * half, db, da, half);
      else
        SwiGluGradRow(a, b, dy + r * half, da, db, half);
    }
  }, std::max<int64_t>(1, kMinChunk / half));
  return 0;
}

// params: q (B, S, H D), k, v (B, S, Hkv D) float32, bias float32 additive, (B, 1, 1, S) or (B, 1, S, S),
// scale (1) float32, heads (2: H, Hkv; or 1: H = Hkv) int32; out (B, S, H D), probs (B, H, S, S)
int Attention(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (dnnl_sgemm == nullptr) return 3;
  if (nparam != 8 || !Float32Except(nparam, dtypes, 5) || ndims[0] != 3) return 1;
  const int64_t batch = shapes[0][0], seq = shapes[0][1], width = shapes[0][2];
  int64_t heads, kv_heads;
  if (!ReadHeads(ndims, shapes, params, 5, &heads, &kv_heads) || width % heads != 0 || width < heads) return 2;
  const int64_t head_dim = width / heads, kv_width = kv_heads * head_dim, group = heads / kv_heads;
  const int64_t bias_size = Elements(ndims[3], shapes[3]);
  if (bias_size != batch * seq && bias_size != batch * seq * seq) return 2;
  const int64_t bias_row_stride = bias_size == batch * seq ? 0 : seq;  // one row per sequence, or per query
  for (int i : {1, 2})
    if (!ShapeIs(ndims, shapes, i, {batch, seq, kv_width})) return 2;
  if (!ShapeIs(ndims, shapes, 6, {batch, seq, width}) || !ShapeIs(ndims, shapes, 7, {batch, heads, seq, seq}))
    return 2;
  const float *q = static_cast<const float *>(params[0]), *k = static_cast<const float *>(params[1]);
  const float *v = static_cast<const float *>(params[2]), *bias = static_cast<const float *>(params[3]);
  const float scale = *static_cast<const float *>(params[4]);
  float *out = static_cast<float *>(params[6]), *probs = static_cast<float *>(params[7]);
  // A sequence whose per-query bias hides every key after its query (a decoder's causal bias) only
  // needs the scores on and below the diagonal: blocks of query rows against the keys up to the
  // block's end, half of q k^T, the softmax and P V. Above the diagonal P is 0, as
  // exp(lowest - max) is, except in a row that sees no token, which the composed bias makes uniform
  // over all S keys; that row is written out so. The backward reads the full P either way.
  const float lowest = std::numeric_limits<float>::lowest();
  std::vector<char> causal(batch, 0);
  if (bias_row_stride != 0) {
    for (int64_t b = 0; b < batch; ++b) {
      bool hidden = true;
      for (int64_t i = 0; i < seq && hidden; ++i) {
        const float *bias_row = bias + (b * seq + i) * seq;
        for (int64_t j = i + 1; j < seq; ++j)
          if (bias_row[j] != lowest) {
            hidden = false;
            break;
          }
      }
      causal[b] = hidden;
    }
  }
  constexpr int64_t kRowBlock = 64;
  int status = 0;
  ParallelFor(batch * heads, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) {
      // query head h (leading dimension width) reads key-value head h / group (leading dimension kv_width)
      const int64_t b = bh / heads, h = bh % heads;
      const int64_t offset = b * seq * width + h * head_dim, kv_offset = b * seq * kv_width + (h / group) * head_dim;
      float *p = probs + bh * seq * seq;
      if (causal[b]) {
        int s = 0;
        for (int64_t r0 = 0; r0 < seq; r0 += kRowBlock) {
          const int64_t r1 = std::min(seq, r0 + kRowBlock);  // rows [r0, r1) see keys [0, r1)
          s |= dnnl_sgemm('N', 'T', r1 - r0, r1, head_dim, scale, q + offset + r0 * width, width, k + kv_offset,
                          kv_width, 0.0f, p + r0 * seq, seq);
          for (int64_t i = r0; i < r1; ++i) {
            float *row = p + i * seq;
            const float *bias_row = bias + (b * seq + i) * seq;
            for (int64_t j = 0; j < r1; ++j) row[j] += bias_row[j];
            if (RowMax(row, r1) == lowest) {  // no visible token: uniform over all S, as the composed bias
              std::fill(row, row + seq, 1.0f / static_cast<float>(seq));
              continue;
            }
            SoftmaxRow(row, r1);
            std::fill(row + r1, row + seq, 0.0f);
          }
          s |= dnnl_sgemm('N', 'N', r1 - r0, head_dim, r1, 1.0f, p + r0 * seq, seq, v + kv_offset, kv_width, 0.0f,
                          out + offset + r0 * width, width);
          for (int64_t i = r0; i < r1; ++i) {
            const float *row = p + i * seq;
            if (r1 < seq && row[seq - 1] != 0.0f)  // a uniform row: its keys past r1 count too
              s |= dnnl_sgemm('N', 'N', 1, head_dim, seq - r1, 1.0f, row + r1, seq, v + kv_offset + r1 * kv_width,
                              kv_width, 1.0f, out + offset + i * width, width);
          }
        }
        if (s != 0) status = 10 + s;
        continue;
      }
      int s = dnnl_sgemm('N', 'T', seq, seq, head_dim, scale, q + offset, width, k + kv_offset, kv_width, 0.0f, p,
                         seq);
      for (int64_t i = 0; i < seq; ++i) {
        float *row = p + i * seq;
        BiasedSoftmaxRow(row, bias + b * (bias_row_stride ? seq * seq : seq) + i * bias_row_stride, seq);
      }
      s |= dnnl_sgemm('N', 'N', seq, head_dim, seq, 1.0f, p, seq, v + kv_offset, kv_width, 0.0f, out + offset,
                      width);
      if (s != 0) status = 10 + s;
    }
  }, 1);
  return status;
}

// params: q, k, v, bias, scale, heads, probs (B, H, S, S), dout (B, S, H D); dq (B, S, H D), dk, dv (B, S, Hkv D)
// Per query head: dP = dO V^T, dV = P^T dO, dS = P (dP - rowsum(P dP)), dQ = scale dS K, dK = scale dS^T Q.
// A key-value head's dK and dV are the sums of its group's shares (H / Hkv query heads): each query head
// writes its share to a block of its own, and the blocks are summed per key-value head in member order
// afterwards, so every query head runs in parallel and the result does not depend on the thread count.
// Alone in its group (Hkv = H) a query head writes dK and dV in place.
int AttentionGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (dnnl_sgemm == nullptr) return 3;
  if (nparam != 11 || !Float32Except(nparam, dtypes, 5) || ndims[0] != 3) return 1;
  const int64_t batch = shapes[0][0], seq = shapes[0][1], width = shapes[0][2];
  int64_t heads, kv_heads;
  if (!ReadHeads(ndims, shapes, params, 5, &heads, &kv_heads) || width % heads != 0 || width < heads) return 2;
  const int64_t head_dim = width / heads, kv_width = kv_heads * head_dim, group = heads / kv_heads;
  for (int i : {1, 2, 9, 10})
    if (!ShapeIs(ndims, shapes, i, {batch, seq, kv_width})) return 2;
  for (int i : {7, 8})
    if (!ShapeIs(ndims, shapes, i, {batch, seq, width})) return 2;
  if (!ShapeIs(ndims, shapes, 6, {batch, heads, seq, seq})) return 2;
  const float *q = static_cast<const float *>(params[0]), *k = static_cast<const float *>(params[1]);
  const float *v = static_cast<const float *>(params[2]);
  const float scale = *static_cast<const float *>(params[4]);
  const float *probs = static_cast<const float *>(params[6]), *dout = static_cast<const float *>(params[7]);
  float *dq = static_cast<float *>(params[8]), *dk = static_cast<float *>(params[9]);
  float *dv = static_cast<float *>(params[10]);
  const int64_t share = seq * head_dim;  // one query head's (S, D) share of dK or dV
  std::unique_ptr<float[]> shares(group > 1 ? new float[2 * batch * heads * share] : nullptr);
  float *k_shares = shares.get(), *v_shares = group > 1 ? k_shares + batch * heads * share : nullptr;
  int status = 0;
  ParallelFor(batch * heads, [&](int64_t begin, int64_t end) {
    std::vector<float> ds(seq * seq);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / heads, h = bh % heads;
      const int64_t offset = b * seq * width + h * head_dim, kv_offset = b * seq * kv_width + (h / group) * head_dim;
      float *dk_h = group > 1 ? k_shares + bh * share : dk + kv_offset;
      float *dv_h = group > 1 ? v_shares + bh * share : dv + kv_offset;
      const int64_t ld_share = group > 1 ? head_dim : kv_width;
      const float *p = probs + bh * seq * seq;
      int s = dnnl_sgemm('N', 'T', seq, seq, head_dim, 1.0f, dout + offset, width, v + kv_offset, kv_width, 0.0f,
                         ds.data(), seq);
      s |= dnnl_sgemm('T', 'N', seq, head_dim, seq, 1.0f, p, seq, dout + offset, width, 0.0f, dv_h, ld_share);
      for (int64_t i = 0; i < seq; ++i) {
        const float *pr = p + i * seq;
        float *dr = ds.data() + i * seq;
        float dot = 0;
        for (int64_t j = 0; j < seq; ++j) dot += pr[j] * dr[j];
        for (int64_t j = 0; j < seq; ++j) dr[j] = pr[j] * (dr[j] - dot);
      }
      s |= dnnl_sgemm('N', 'N', seq, head_dim, seq, scale, ds.data(), seq, k + kv_offset, kv_width, 0.0f,
                      dq + offset, width);
      s |= dnnl_sgemm('T', 'N', seq, head_dim, seq, scale, ds.data(), seq, q + offset, width, 0.0f, dk_h, ld_share);
      if (s != 0) status = 10 + s;
    }
  }, 1);
  if (group > 1) {
    // row r = (b, t) of dK and dV: per key-value head g, the shares of query heads g group ... in order
    ParallelFor(batch * seq, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t b = r / seq, t = r % seq;
        for (int64_t g = 0; g < kv_heads; ++g) {
          const int64_t first = (b * heads + g * group) * share + t * head_dim;
          float *dk_row = dk + r * kv_width + g * head_dim, *dv_row = dv + r * kv_width + g * head_dim;
          std::memcpy(dk_row, k_shares + first, head_dim * sizeof(float));
          std::memcpy(dv_row, v_shares + first, head_dim * sizeof(float));
          for (int64_t m = 1; m < group; ++m) {
            const float *k_share = k_shares + first + m * share, *v_share = v_shares + first + m * share;
            for (int64_t j = 0; j < head_dim; ++j) {
              dk_row[j] += k_share[j];
              dv_row[j] += v_share[j];
            }
          }
        }
      }
    }, std::max<int64_t>(1, kMinChunk / (2 * width)));
  }
  return status;
}

// params: q (B, T, H D), k, v (B, T, Hkv D), key_cache, value_cache (B, Hkv, L, D), slots (T) int32,
// bias (B, 1, T, L), scale (1) float32, heads (2: H, Hkv; or 1: H = Hkv) int32; out (B, T, H D),
// new key_cache, new value_cache (B, Hkv, L, D)
int CachedAttention(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (dnnl_sgemm == nullptr) return 3;
  if (nparam != 12 || ndims[0] != 3 || ndims[3] != 4 || std::strcmp(dtypes[5], "int32") != 0 ||
      std::strcmp(dtypes[8], "int32") != 0)
    return 1;
  for (int i : {0, 1, 2, 3, 4, 6, 7, 9, 10, 11})
    if (std::strcmp(dtypes[i], "float32") != 0) return 1;
  const int64_t batch = shapes[0][0], steps = shapes[0][1], width = shapes[0][2];
  int64_t heads, kv_heads;
  if (!ReadHeads(ndims, shapes, params, 8, &heads, &kv_heads)) return 2;
  const int64_t length = shapes[3][2], head_dim = shapes[3][3];
  const int64_t kv_width = kv_heads * head_dim, group = heads / kv_heads;
  if (head_dim < 1 || heads * head_dim != width) return 2;
  for (int i : {3, 4, 10, 11})
    if (!ShapeIs(ndims, shapes, i, {batch, kv_heads, length, head_dim})) return 2;
  for (int i : {1, 2})
    if (!ShapeIs(ndims, shapes, i, {batch, steps, kv_width})) return 2;
  if (!ShapeIs(ndims, shapes, 9, {batch, steps, width})) return 2;
  if (Elements(ndims[5], shapes[5]) != steps || Elements(ndims[6], shapes[6]) != batch * steps * length) return 2;
  const int32_t *slots = static_cast<const int32_t *>(params[5]);
  for (int64_t t = 0; t < steps; ++t)
    if (slots[t] < 0 || slots[t] >= length) return 4;
  const float *q = static_cast<const float *>(params[0]), *k = static_cast<const float *>(params[1]);
  const float *v = static_cast<const float *>(params[2]), *bias = static_cast<const float *>(params[6]);
  const float *key_cache = static_cast<const float *>(params[3]);
  const float *value_cache = static_cast<const float *>(params[4]);
  const float scale = *static_cast<const float *>(params[7]);
  float *out = static_cast<float *>(params[9]), *new_keys = static_cast<float *>(params[10]);
  float *new_values = static_cast<float *>(params[11]);
  const int64_t block = length * head_dim;  // one (b, g) slice of a cache
  // The group's queries of one step are one (group, D) block (leading dimension D). With fewer steps than
  // members (a decode step) each step's block attends at once, reading the cache once per step; else each
  // member's (T, D) queries do, reading it once per member.
  const bool by_step = steps < group;
  int status = 0;
  ParallelFor(batch * kv_heads, [&](int64_t begin, int64_t end) {
    std::vector<float> probs((by_step ? group : steps) * length);
    for (int64_t bg = begin; bg < end; ++bg) {
      const int64_t b = bg / kv_heads, g = bg % kv_heads, kv_offset = b * steps * kv_width + g * head_dim;
      float *keys = new_keys + bg * block, *values = new_values + bg * block;
      std::memcpy(keys, key_cache + bg * block, block * sizeof(float));
      std::memcpy(values, value_cache + bg * block, block * sizeof(float));
      for (int64_t t = 0; t < steps; ++t) {
        std::memcpy(keys + slots[t] * head_dim, k + kv_offset + t * kv_width, head_dim * sizeof(float));
        std::memcpy(values + slots[t] * head_dim, v + kv_offset + t * kv_width, head_dim * sizeof(float));
      }
      int s = 0;
      if (by_step) {
        for (int64_t t = 0; t < steps; ++t) {
          const int64_t offset = (b * steps + t) * width + g * group * head_dim;
          const float *bias_row = bias + (b * steps + t) * length;
          s |= dnnl_sgemm('N', 'T', group, length, head_dim, scale, q + offset, head_dim, keys, head_dim, 0.0f,
                          probs.data(), length);
          for (int64_t m = 0; m < group; ++m) BiasedSoftmaxRow(probs.data() + m * length, bias_row, length);
          s |= dnnl_sgemm('N', 'N', group, head_dim, length, 1.0f, probs.data(), length, values, head_dim, 0.0f,
                          out + offset, head_dim);
        }
      } else {
        for (int64_t m = 0; m < group; ++m) {
          const int64_t offset = b * steps * width + (g * group + m) * head_dim;
          s |= dnnl_sgemm('N', 'T', steps, length, head_dim, scale, q + offset, width, keys, head_dim, 0.0f,
                          probs.data(), length);
          for (int64_t t = 0; t < steps; ++t)
            BiasedSoftmaxRow(probs.data() + t * length, bias + (b * steps + t) * length, length);
          s |= dnnl_sgemm('N', 'N', steps, head_dim, length, 1.0f, probs.data(), length, values, head_dim, 0.0f,
                          out + offset, width);
        }
      }
      if (s != 0) status = 10 + s;
    }
  }, 1);
  return status;
}

}  // extern "C"
