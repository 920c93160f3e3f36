/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Convolution with any padding, stride and dilation, reference arithmetic: the input offset is
 * applied per tap, so taps in the padding contribute nothing (TFLite's definition of padding). */

#include "asc_kernels.h"

/* sum over c < n of (in[c] + offset) * w[c]. */
static int32_t dot_offset(const int8_t *in, const int8_t *w, int32_t n, int32_t offset)
{
    int32_t acc = 0;
    int32_t wsum = 0;
    int32_t c;
    for (c = 0; c < n; ++c) {
        acc += (int32_t)in[c] * (int32_t)w[c];
        wsum += w[c];
    }
    /* (in + offset) * w summed = in * w summed + offset * (w summed): integer sums are exact. */
    return acc + offset * wsum;
}

/* One output pixel, every output channel. */
static void conv_pixel(const asc_convp_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                       const int8_t *input, int32_t y0, int32_t x0, const asc_add_cfg *add,
                       const int8_t *residual, int8_t *out)
{
    const int32_t taps = (int32_t)cfg->k_h * cfg->k_w * cfg->in_c;
    const asc_taps t = asc_taps_at(cfg, y0, x0);
    int oc;
    for (oc = 0; oc < cfg->out_c; ++oc) {
        const int8_t *w = weights + (int32_t)oc * taps;
        int32_t acc = asc_load_i32_le(bias_le + 4 * oc);
        int32_t ky;
        int32_t kx;
        for (ky = t.y_lo; ky < t.y_hi; ++ky) {
            const int32_t y = y0 + ky * cfg->dil_h;
            for (kx = t.x_lo; kx < t.x_hi; ++kx) {
                const int32_t x = x0 + kx * cfg->dil_w;
                acc += dot_offset(input + (y * cfg->in_w + x) * cfg->in_c,
                                  w + (ky * cfg->k_w + kx) * cfg->in_c, cfg->in_c, cfg->in_offset);
            }
        }
        acc = asc_requantize(acc, cfg->multiplier[oc], cfg->shift[oc]) + cfg->out_zero_point;
        acc = asc_clamp(acc, cfg->act_min, cfg->act_max);
        out[oc] = add ? asc_add_one(add, acc, residual[oc]) : (int8_t)acc;
    }
}

void asc_convp_s8(const asc_convp_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                  const int8_t *input, const asc_add_cfg *add, const int8_t *residual,
                  int8_t *output)
{
    int oy;
    int ox;
    for (oy = 0; oy < cfg->out_h; ++oy) {
        for (ox = 0; ox < cfg->out_w; ++ox) {
            const int32_t at = ((int32_t)oy * cfg->out_w + ox) * cfg->out_c;
            conv_pixel(cfg, weights, bias_le, input, (int32_t)oy * cfg->stride_h - cfg->pad_top,
                       (int32_t)ox * cfg->stride_w - cfg->pad_left, add,
                       residual ? residual + at : NULL, output + at);
        }
    }
}
