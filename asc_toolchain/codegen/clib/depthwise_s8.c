/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Depthwise convolution with any padding, stride, dilation and depth multiplier, reference
 * arithmetic. Weights [k_h][k_w][out_c]; output channel oc reads input channel oc / depth_mult. */

#include "asc_kernels.h"

static int32_t dw_acc(const asc_convp_cfg *cfg, const int8_t *weights, const int8_t *input,
                      int32_t y0, int32_t x0, const asc_taps *t, int oc)
{
    const int32_t ic = oc / cfg->depth_mult;
    int32_t acc = 0;
    int32_t ky;
    int32_t kx;
    for (ky = t->y_lo; ky < t->y_hi; ++ky) {
        const int32_t y = y0 + ky * cfg->dil_h;
        for (kx = t->x_lo; kx < t->x_hi; ++kx) {
            const int32_t x = x0 + kx * cfg->dil_w;
            acc += ((int32_t)input[(y * cfg->in_w + x) * cfg->in_c + ic] + cfg->in_offset)
                   * (int32_t)weights[(ky * cfg->k_w + kx) * cfg->out_c + oc];
        }
    }
    return acc;
}

void asc_dwconv_s8(const asc_convp_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                   const int8_t *input, int8_t *output)
{
    int oy;
    int ox;
    int oc;
    for (oy = 0; oy < cfg->out_h; ++oy) {
        for (ox = 0; ox < cfg->out_w; ++ox) {
            const int32_t y0 = (int32_t)oy * cfg->stride_h - cfg->pad_top;
            const int32_t x0 = (int32_t)ox * cfg->stride_w - cfg->pad_left;
            const asc_taps t = asc_taps_at(cfg, y0, x0);
            for (oc = 0; oc < cfg->out_c; ++oc) {
                int32_t acc = asc_load_i32_le(bias_le + 4 * oc)
                              + dw_acc(cfg, weights, input, y0, x0, &t, oc);
                acc = asc_requantize(acc, cfg->multiplier[oc], cfg->shift[oc]) + cfg->out_zero_point;
                *output++ = (int8_t)asc_clamp(acc, cfg->act_min, cfg->act_max);
            }
        }
    }
}
