/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Convolution with a fused max-pool, reference arithmetic: the kernel every shape can use and
 * the one the Cortex-M4 fast paths (conv_s8_dsp.h) are checked against. */

#include "asc_kernels.h"

/* One convolution output (y, x, channel oc) before requantization, from int8 NHWC input or
 * from int16 ring rows (y relative to the ring's first row). */
static int32_t conv_acc(const asc_conv_cfg *cfg, const int8_t *weights, int32_t bias,
                        const int8_t *in8, const int16_t *in16, int32_t y, int32_t x, int oc)
{
    const int8_t *w = weights + (int32_t)oc * cfg->k_h * cfg->k_w * cfg->in_c;
    int32_t acc = bias;
    int kh;
    int kw;
    int c;
    for (kh = 0; kh < cfg->k_h; ++kh) {
        for (kw = 0; kw < cfg->k_w; ++kw) {
            const int32_t pix = (y * cfg->stride_h + kh) * cfg->in_w + x * cfg->stride_w + kw;
            for (c = 0; c < cfg->in_c; ++c) {
                const int32_t v = in16 ? in16[pix * cfg->in_c + ASC_RING_POS(c)]
                                       : in8[pix * cfg->in_c + c];
                acc += v * (int32_t)*w++;
            }
        }
    }
    return acc;
}

/* The max over one pool window of requantized, clamped convolution outputs. */
static int32_t pooled_point(const asc_conv_cfg *cfg, const int8_t *weights, int32_t bias,
                            const int8_t *in8, const int16_t *in16, int32_t y0, int32_t x0, int oc)
{
    int32_t best = INT32_MIN;
    int py;
    int px;
    for (py = 0; py < cfg->pool_h; ++py) {
        for (px = 0; px < cfg->pool_w; ++px) {
            int32_t v = conv_acc(cfg, weights, bias, in8, in16, y0 + py, x0 + px, oc);
            v = asc_requantize(v, cfg->multiplier[oc], cfg->shift[oc]) + cfg->out_zero_point;
            v = asc_clamp(v, cfg->act_min, cfg->act_max);
            best = v > best ? v : best;
        }
    }
    return best;
}

void asc_conv_rows(const asc_conv_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                   const int8_t *in8, const int16_t *in16, int oy0, int oy1,
                   int8_t *out8, int16_t *out16)
{
    const int32_t ring_y0 = in16 ? (int32_t)oy0 * cfg->pool_stride_h : 0;
    int oy;
    int ox;
    int oc;
    for (oy = oy0; oy < oy1; ++oy) {
        for (ox = 0; ox < cfg->out_w; ++ox) {
            for (oc = 0; oc < cfg->out_c; ++oc) {
                const int32_t y0 = (int32_t)oy * cfg->pool_stride_h - ring_y0;
                const int32_t x0 = (int32_t)ox * cfg->pool_stride_w;
                const int32_t bias = asc_load_i32_le(bias_le + 4 * oc);
                const int32_t best = pooled_point(cfg, weights, bias, in8, in16, y0, x0, oc);
                if (out16) {
                    out16[((int32_t)(oy - oy0) * cfg->out_w + ox) * cfg->out_c + ASC_RING_POS(oc)]
                        = (int16_t)best;
                } else {
                    out8[((int32_t)oy * cfg->out_w + ox) * cfg->out_c + oc] = (int8_t)best;
                }
            }
        }
    }
}
