/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */
#ifndef ASC_KERNELS_H
#define ASC_KERNELS_H

/* int8 kernels of the generated networks, C99: one C file per kernel family (conv_s8.c,
 * pool_s8.c, fully_connected_s8.c, softmax_s8.c) and the Cortex-M4 fast paths as inline
 * functions (conv_s8_dsp.h) that the generated code instantiates with constant shapes.
 *
 * The arithmetic follows the TensorFlow Lite int8 quantization specification (per-channel
 * weights with zero point 0, per-tensor activations, int32 accumulators and biases, a
 * fixed-point multiplier and shift per output channel), so results are bit-exact with the
 * TensorFlow Lite Micro reference kernels. The input zero point is folded into the biases by
 * the generator (valid padding only), so the inner loops are plain int8 dot products. Weights
 * are int8 (dense rows grouped, asc_fc_weight), int16 for the padded convolution's matrix
 * product (ASC_CONVP_WEIGHT); biases are little-endian int32 (bias_le); every layer's weights
 * start on a 4-byte boundary of the blob.
 * Define ASC_NO_DSP to force the portable paths on a DSP core. */

#include <stdint.h>

#include "asc_fixedpoint.h"

/* A convolution (valid padding, no dilation) with an optional max-pool fused into it: the
 * convolution outputs a pool window needs are computed, requantized, clamped and reduced at
 * once, so the full convolution map is never stored. No pool: pool_h = pool_w = 1. */
typedef struct {
    uint16_t in_h, in_w, in_c;
    uint16_t out_c, k_h, k_w, stride_h, stride_w;
    uint16_t pool_h, pool_w, pool_stride_h, pool_stride_w;
    uint16_t out_h, out_w;          /* after the pool */
    int32_t out_zero_point;
    int32_t act_min, act_max;       /* clamp of the convolution and of the pool, combined */
    const int32_t *multiplier;      /* one per output channel */
    const int8_t *shift;            /* one per output channel; > 0 shifts left */
} asc_conv_cfg;

typedef struct {
    uint16_t in_h, in_w, c;
    uint16_t pool_h, pool_w, stride_h, stride_w;
    uint16_t out_h, out_w;
    int32_t act_min, act_max;
} asc_pool_cfg;

typedef struct {
    uint16_t in_features, out_features;
    int32_t out_zero_point;
    int32_t act_min, act_max;
    int32_t fast_rq;                /* 1: asc_rq is exact for every output (generator-checked) */
    const int32_t *multiplier;
    const int8_t *shift;
} asc_fc_cfg;

typedef struct {
    uint16_t depth;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} asc_softmax_cfg;

/* Ring order: within each group of 4 channels, int16 values are stored as 0, 2, 1, 3, so the
 * two words of a group are the SMLAD pairs that SXTB16 makes of 4 int8 weights. A ring is a
 * few int16 rows of a convolution's output that the next convolution reads as they are made. */
#define ASC_RING_POS(c) (((c) & ~3) | (((c) & 1) << 1) | (((c) >> 1) & 1))

/* conv_s8.c. Rows [oy0, oy1) of a convolution, reference arithmetic (any shape, any target).
 * Weights int8 [out_c][k_h][k_w][in_c]. Input int8 NHWC (in8), or int16 ring rows (in16: ring
 * row 0 is input row oy0 * pool_stride_h * stride_h, channels in ring order). Output int8 NHWC
 * rows (out8, row oy at out8 + oy * out_w * out_c) or int16 ring rows (out16, row oy at
 * out16 + (oy - oy0) * out_w * out_c, ring order). */
void asc_conv_rows(const asc_conv_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                   const int8_t *in8, const int16_t *in16, int oy0, int oy1,
                   int8_t *out8, int16_t *out16);

/* pool_s8.c: max-pool (valid padding), int8 NHWC in and out. */
void asc_maxpool_s8(const asc_pool_cfg *cfg, const int8_t *input, int8_t *output);

/* fully_connected_s8.c: weights int8, outputs in groups of 4: per group, for each 4 inputs the
 * 4 rows' words (row 0's 4 weights, row 1's, ...), then the last in_features % 4 weights of
 * each row in turn; the out_features % 4 last rows plain, one after another. asc_fc_weight
 * gives the index of weight (o, i). */
static inline int32_t asc_fc_weight(int32_t n, int32_t o, int32_t i)
{
    const int32_t full = n & ~3;
    const int32_t base = (o & ~3) * n;
    return i < full ? base + (i >> 2) * 16 + (o & 3) * 4 + (i & 3)
                    : base + 4 * full + (o & 3) * (n - full) + (i - full);
}
void asc_fc_s8(const asc_fc_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
               const int8_t *input, int8_t *output);

/* softmax_s8.c: int8 in, int8 out with scale 1/256 and zero point -128. */
void asc_softmax_s8(const asc_softmax_cfg *cfg, const int8_t *input, int8_t *output);

/* A convolution or depthwise convolution with any padding, stride and dilation (conv_pad_s8.c,
 * depthwise_s8.c). The input zero point is not folded: taps outside the input contribute
 * nothing, as in the reference, so in_offset (= -input zero point) is added per tap. Depthwise:
 * output channel oc reads input channel oc / depth_mult; weights [k_h][k_w][out_c]. */
typedef struct {
    uint16_t in_h, in_w, in_c;
    uint16_t out_h, out_w, out_c;
    uint16_t k_h, k_w, stride_h, stride_w, dil_h, dil_w;
    int16_t pad_top, pad_left;
    uint16_t depth_mult;
    int32_t in_offset;
    int32_t out_zero_point;
    int32_t act_min, act_max;
    int32_t fast_rq;                /* 1: asc_rq is exact for every output (generator-checked) */
    const int32_t *multiplier;
    const int8_t *shift;
} asc_convp_cfg;

/* Requantization of one output of channel ch: the one-rounding form when the generator proved
 * it exact for every accumulator (fast), the reference arithmetic otherwise. */
static inline int32_t asc_rq_channel(int32_t fast, int32_t acc, int32_t multiplier, int32_t shift)
{
    return fast ? asc_rq(acc, multiplier, -shift) : asc_requantize(acc, multiplier, (int)shift);
}

/* One channel's requantization as the kernels' assembly takes it: out[0] the multiplier, out[1]
 * the rounding half with the output zero point folded in (2^(e-1) + zp * 2^e), out[2] the right
 * shift e. 0 where the fold could overflow: |hmul| < 2^30, so 2^(e-1) + |zp| 2^e must stay below
 * 2^30 (e <= 22); or where the shift is not a right shift. */
static inline int asc_rq_fold(int32_t multiplier, int32_t shift, int32_t zp, int32_t *out)
{
    const int32_t e = -shift;
    if (e < 1 || e > 22) {
        return 0;
    }
    out[0] = multiplier;
    out[1] = ((int32_t)1 << (e - 1)) + zp * ((int32_t)1 << e);
    out[2] = e;
    return 1;
}

/* The kernel taps of one output pixel that land inside the input: rows [y_lo, y_hi) and columns
 * [x_lo, x_hi) of the kernel (taps in the padding contribute nothing, TFLite's definition).
 * Worked out once per pixel, not per output channel or per tap. */
typedef struct {
    int32_t y_lo, y_hi, x_lo, x_hi;
} asc_taps;

/* Taps k in [lo, hi) of a kernel of n taps whose input index origin + k * dil lies in [0, size). */
static inline void asc_tap_range(int32_t origin, int32_t dil, int32_t n, int32_t size,
                                 int32_t *lo, int32_t *hi)
{
    int32_t a = 0;
    int32_t b = n;
    while (a < b && origin + a * dil < 0) {
        ++a;
    }
    while (b > a && origin + (b - 1) * dil >= size) {
        --b;
    }
    *lo = a;
    *hi = b;
}

/* The input offset in both halfwords: SXTAB16's addend for a word of 4 input bytes. */
static inline int32_t asc_offset2(const asc_convp_cfg *cfg)
{
    return (int32_t)((uint32_t)(uint16_t)cfg->in_offset * 0x10001u);
}

static inline asc_taps asc_taps_at(const asc_convp_cfg *cfg, int32_t y0, int32_t x0)
{
    asc_taps t;
    asc_tap_range(y0, cfg->dil_h, cfg->k_h, cfg->in_h, &t.y_lo, &t.y_hi);
    asc_tap_range(x0, cfg->dil_w, cfg->k_w, cfg->in_w, &t.x_lo, &t.x_hi);
    return t;
}

/* Average or max pool with padding (pool_s8.c): windows are clipped to the input; the average
 * divides by the clipped count, rounding half away from zero. */
typedef struct {
    uint16_t in_h, in_w, c;
    uint16_t pool_h, pool_w, stride_h, stride_w;
    int16_t pad_top, pad_left;
    uint16_t out_h, out_w;
    int32_t act_min, act_max;
} asc_pool2_cfg;

/* Element-wise add of two int8 tensors with their own scales (add_s8.c). */
typedef struct {
    int32_t size;
    int32_t in1_offset, in2_offset, out_offset;
    int32_t left_shift;
    int32_t in1_multiplier, in1_shift, in2_multiplier, in2_shift;
    int32_t out_multiplier, out_shift;
    int32_t act_min, act_max;
} asc_add_cfg;

/* x * multiplier / 2^31 rounded, then / 2^-shift rounded (shift <= 0): asc_requantize with one
 * rounding add per step, exact for |x| < 2^30 (asc_hmul's range; shift 0 divides by 1). */
static inline int32_t asc_rq_small(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t h = asc_hmul(x, multiplier);
    return shift == 0 ? h : (h + (h >> 31) + ((int32_t)1 << (-shift - 1))) >> -shift;
}

/* True when asc_add_one_fast is exact: every shift a right shift and the inputs shifted by at
 * most 20 bits, so |inputs| <= 255 * 2^20 < 2^28 and each scaled input and their sum stay below
 * 2^29 (multipliers < 2^31). TFLite's int8 ADD always shifts by 20 and scales down. */
static inline int asc_add_fast_ok(const asc_add_cfg *cfg)
{
    return cfg->left_shift <= 20 && cfg->in1_shift <= 0 && cfg->in2_shift <= 0
           && cfg->out_shift <= 0;
}

static inline int8_t asc_add_one_fast(const asc_add_cfg *cfg, int32_t in1, int32_t in2)
{
    const int32_t a = (in1 + cfg->in1_offset) * ((int32_t)1 << cfg->left_shift);
    const int32_t b = (in2 + cfg->in2_offset) * ((int32_t)1 << cfg->left_shift);
    const int32_t v = asc_rq_small(asc_rq_small(a, cfg->in1_multiplier, cfg->in1_shift)
                                   + asc_rq_small(b, cfg->in2_multiplier, cfg->in2_shift),
                                   cfg->out_multiplier, cfg->out_shift) + cfg->out_offset;
    return (int8_t)asc_clamp(v, cfg->act_min, cfg->act_max);
}

/* Mean over H and W of an NHWC tensor (mean_s8.c): sum, requantize with multiplier/shift
 * (scales and the element count folded in), add the output zero point. */
typedef struct {
    int32_t hw, c;
    int32_t in_zero_point, out_zero_point;
    int32_t multiplier, shift;
    int32_t same_scale;             /* 1: plain rounded average (equal input/output params) */
} asc_mean_cfg;

/* Zero-fill padding of an NHWC tensor with the output zero point (shape_s8.c). */
typedef struct {
    uint16_t in_h, in_w, c;
    uint16_t out_h, out_w, out_c;
    uint16_t top, left, front;      /* front: channels added before */
    int32_t value;
} asc_pad_cfg;

/* conv_pad_s8.c / depthwise_s8.c. With ``add`` (else NULL) a residual ADD is fused in: each
 * output is asc_add_one(add, convolution output, residual[same index]); output may be residual
 * (each element is read before it is written). Convolution weights are int16 in matrix-product
 * order: taps (kernel order [k_h][k_w][in_c]) padded with zeros to whole groups of 4, output
 * channels in pairs (an odd last channel paired with a zero row); per pair and group four
 * words: taps (0, 2) of channel 0, of channel 1, then taps (1, 3) of each, low half first --
 * ASC_CONVP_WEIGHT(groups, oc, tap) is the index of a weight. ``scratch``
 * (ASC_CONVP_SCRATCH int16 values, 4-aligned, or NULL) lets a DSP core run the convolution as
 * a matrix product: the taps of three output pixels with the input offset added, zero in the
 * padding (ASC_CONVP_COLUMNS int16), then, with a fused ADD (add = 1), room for the three
 * pixels' outputs before it (in whole words), then a requantization table of 3 words per output
 * channel, then, with a fused ADD, 512 words: each input's scaled value per int8 value. */
#define ASC_CONVP_GROUPS(k_h, k_w, in_c) (((int32_t)(k_h) * (k_w) * (in_c) + 3) >> 2)
#define ASC_CONVP_WEIGHT(groups, oc, t)                                                            \
    ((((((oc) >> 1) * (groups) + ((t) >> 2)) * 4 + ((t) & 1) * 2 + ((oc) & 1)) << 1)                \
     + (((t) >> 1) & 1))
#define ASC_CONVP_COLUMNS(k_h, k_w, in_c) (12 * ASC_CONVP_GROUPS(k_h, k_w, in_c))
#define ASC_CONVP_SCRATCH(k_h, k_w, in_c, out_c, add)                                              \
    (ASC_CONVP_COLUMNS(k_h, k_w, in_c) + ((add) ? 2 * ((3 * (int32_t)(out_c) + 3) / 4) + 1024 : 0)  \
     + 6 * (int32_t)(out_c))
void asc_convp_s8(const asc_convp_cfg *cfg, const int16_t *weights, const uint8_t *bias_le,
                  const int8_t *input, const asc_add_cfg *add, const int8_t *residual,
                  int8_t *output, int16_t *scratch);
/* Depthwise ``scratch`` (ASC_DW_SCRATCH int16, 4-aligned, or NULL): a DSP core with depth
 * multiplier 1 and channels a multiple of 4 copies the padded input plane of 4 channels at a
 * time into it as int16 (ASC_DW_PLANE_H x ASC_DW_PLANE_W pixels of 4 values), then a table of
 * their biases (8 int16) and weights as pairs (4 int16 per tap); on the target a 3x3 stride-1
 * layer uses the room as four column-major planes of ASC_DW_COLUMN_H (the height rounded up to
 * even, for word-aligned columns) x ASC_DW_PLANE_W values instead. */
#define ASC_DW_PLANE_H(c) (((c)->out_h - 1) * (c)->stride_h + ((c)->k_h - 1) * (c)->dil_h + 1)
#define ASC_DW_PLANE_W(c) (((c)->out_w - 1) * (c)->stride_w + ((c)->k_w - 1) * (c)->dil_w + 1)
#define ASC_DW_COLUMN_H(c) ((ASC_DW_PLANE_H(c) + 1) & ~1)
#define ASC_DW_SCRATCH(c) (4 * (ASC_DW_COLUMN_H(c) * ASC_DW_PLANE_W(c) + (c)->k_h * (c)->k_w) + 8)
void asc_dwconv_s8(const asc_convp_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                   const int8_t *input, int8_t *output, int16_t *scratch);
/* pool_s8.c */
void asc_avgpool2_s8(const asc_pool2_cfg *cfg, const int8_t *input, int8_t *output);
void asc_maxpool2_s8(const asc_pool2_cfg *cfg, const int8_t *input, int8_t *output);
/* add_s8.c: the whole tensor, or one element (in1 and in2 as int8 values). */
int8_t asc_add_one(const asc_add_cfg *cfg, int32_t in1, int32_t in2);
void asc_add_s8(const asc_add_cfg *cfg, const int8_t *in1, const int8_t *in2, int8_t *output);
/* mean_s8.c */
void asc_mean_s8(const asc_mean_cfg *cfg, const int8_t *input, int8_t *output);
/* shape_s8.c: pad, and one input's slice of a channel concatenation (channels [c0, c0 + c)
 * of rows of out_c channels). */
void asc_pad_s8(const asc_pad_cfg *cfg, const int8_t *input, int8_t *output);
void asc_concat_part_s8(int32_t rows, int32_t c, int32_t c0, int32_t out_c, const int8_t *input,
                        int8_t *output);
/* quantize_s8.c: the edges of a float-in / float-out graph (float32 <-> int8) and the int8
 * requantization (QUANTIZE from int8 to int8). */
typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} asc_quant_cfg;
typedef struct {
    int32_t size;
    int32_t in_zero_point, out_zero_point;
    int32_t multiplier;             /* in_scale / out_scale as q31 and shift (> 0 shifts left) */
    int32_t shift;
} asc_requant_cfg;
void asc_quantize_f32_s8(const asc_quant_cfg *cfg, const float *input, int8_t *output);
void asc_dequantize_s8_f32(const asc_quant_cfg *cfg, const int8_t *input, float *output);
void asc_requantize_s8(const asc_requant_cfg *cfg, const int8_t *input, int8_t *output);

#include "conv_s8_dsp.h"

#endif /* ASC_KERNELS_H */
