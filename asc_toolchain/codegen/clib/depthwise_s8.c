/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Depthwise convolution with any padding, stride, dilation and depth multiplier, reference
 * arithmetic. Weights [k_h][k_w][out_c]; output channel oc reads input channel oc / depth_mult.
 * On a DSP core (depth multiplier 1, channels a multiple of 4, kernels up to 5x5) four channels
 * a pass with halfword multiply-accumulates: the same sums. */

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

#if ASC_USE_DSP
#define DW_MAX_TAPS 25      /* kernels up to 5x5 take the DSP path */

/* One output of the DSP path: requantized and clamped. ``fast`` (a constant in each instance):
 * 0 the reference arithmetic; 1 the one-rounding form; 2 that and a clamp to the whole int8
 * range (one saturating instruction). */
ASC_INLINE int8_t dw_out(int32_t fast, int32_t acc, int32_t m, int32_t shift, int32_t zp,
                         int32_t lo, int32_t hi)
{
    acc = (fast ? asc_rq(acc, m, -shift) : asc_requantize(acc, m, (int)shift)) + zp;
    return (int8_t)(fast == 2 ? ASC_SAT8(acc) : asc_clamp(acc, lo, hi));
}

/* Channels [c, c + 4) of the whole output. Their weights are sign-extended once into halfword
 * pairs (channels 0/2 and 1/3 of each tap); per tap one word of input is extended the same way
 * with the input offset added, and each lane multiplied and accumulated. */
ASC_INLINE void dw_tap(const int8_t *src, const int32_t *w, int32_t off2, int32_t *a0,
                       int32_t *a1, int32_t *a2, int32_t *a3)
{
    const int32_t v = asc_ld32(src);
    const int32_t x02 = ASC_SXTAB16(off2, v);
    const int32_t x13 = ASC_SXTAB16_ROR8(off2, v);
    *a0 = ASC_SMLABB(x02, w[0], *a0);
    *a2 = ASC_SMLATT(x02, w[0], *a2);
    *a1 = ASC_SMLABB(x13, w[1], *a1);
    *a3 = ASC_SMLATT(x13, w[1], *a3);
}

/* kw3: a constant in each instance, 1 when the kernel is 3 wide without dilation, so a full row
 * of taps is three straight-line steps; 2 when it is also 3 high without dilation, so a pixel
 * whose taps are all inside is nine. */
ASC_INLINE void dw_group(const asc_convp_cfg *cfg, int32_t fast, int kw3, const int8_t *weights,
                         const uint8_t *bias_le, const int8_t *input, int8_t *output, int32_t c)
{
    const int32_t ch = cfg->out_c;
    const int32_t kk = (int32_t)cfg->k_h * cfg->k_w;
    const int32_t off2 = (int32_t)((uint32_t)(uint16_t)cfg->in_offset * 0x10001u);
    const int32_t step_x = (int32_t)cfg->dil_w * ch;
    const int32_t span_x = ((int32_t)cfg->k_w - 1) * cfg->dil_w;
    const int32_t zp = cfg->out_zero_point;
    const int32_t lo = cfg->act_min;
    const int32_t hi = cfg->act_max;
    const int32_t b0 = asc_load_i32_le(bias_le + 4 * c);
    const int32_t b1 = asc_load_i32_le(bias_le + 4 * c + 4);
    const int32_t b2 = asc_load_i32_le(bias_le + 4 * c + 8);
    const int32_t b3 = asc_load_i32_le(bias_le + 4 * c + 12);
    const int32_t m0 = cfg->multiplier[c];
    const int32_t m1 = cfg->multiplier[c + 1];
    const int32_t m2 = cfg->multiplier[c + 2];
    const int32_t m3 = cfg->multiplier[c + 3];
    const int32_t s0 = cfg->shift[c];
    const int32_t s1 = cfg->shift[c + 1];
    const int32_t s2 = cfg->shift[c + 2];
    const int32_t s3 = cfg->shift[c + 3];
    int32_t wx[2 * DW_MAX_TAPS];
    int32_t oy;
    int32_t ox;
    int32_t k;
    for (k = 0; k < kk; ++k) {
        const int32_t v = asc_ld32(weights + k * ch + c);
        wx[2 * k] = ASC_SXTB16(v);
        wx[2 * k + 1] = ASC_SXTB16_ROR8(v);
    }
    for (oy = 0; oy < cfg->out_h; ++oy) {
        const int32_t y0 = oy * cfg->stride_h - cfg->pad_top;
        int32_t y_lo;
        int32_t y_hi;
        int8_t *out = output + oy * cfg->out_w * ch + c;
        asc_tap_range(y0, cfg->dil_h, cfg->k_h, cfg->in_h, &y_lo, &y_hi);
        for (ox = 0; ox < cfg->out_w; ++ox, out += ch) {
            const int32_t x0 = ox * cfg->stride_w - cfg->pad_left;
            int32_t x_lo = 0;
            int32_t x_hi = cfg->k_w;
            int32_t a0 = b0;
            int32_t a1 = b1;
            int32_t a2 = b2;
            int32_t a3 = b3;
            int32_t ky;
            if (x0 < 0 || x0 + span_x >= cfg->in_w) {
                asc_tap_range(x0, cfg->dil_w, cfg->k_w, cfg->in_w, &x_lo, &x_hi);
            }
            if (kw3 == 2 && y_hi - y_lo == 3 && x_hi - x_lo == 3) {
                /* a 3x3 kernel without dilation, every tap inside: nine straight-line steps */
                const int32_t row = cfg->in_w * ch;
                const int8_t *src = input + (y0 * cfg->in_w + x0) * ch + c;
                dw_tap(src, wx, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + ch, wx + 2, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + 2 * ch, wx + 4, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + row, wx + 6, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + row + ch, wx + 8, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + row + 2 * ch, wx + 10, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + 2 * row, wx + 12, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + 2 * row + ch, wx + 14, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + 2 * row + 2 * ch, wx + 16, off2, &a0, &a1, &a2, &a3);
                ky = y_hi;      /* done: the row loop below runs no row */
            } else {
                ky = y_lo;
            }
            for (; ky < y_hi; ++ky) {
                const int8_t *src = input + ((y0 + ky * cfg->dil_h) * cfg->in_w + x0) * ch + c
                                    + x_lo * step_x;
                const int32_t *w = wx + 2 * (ky * (kw3 ? 3 : cfg->k_w) + x_lo);
                const int32_t *w_end = w + 2 * (x_hi - x_lo);
                if (kw3 && x_hi - x_lo == 3) {
                    dw_tap(src, w, off2, &a0, &a1, &a2, &a3);
                    dw_tap(src + ch, w + 2, off2, &a0, &a1, &a2, &a3);
                    dw_tap(src + 2 * ch, w + 4, off2, &a0, &a1, &a2, &a3);
                    continue;
                }
                for (; w < w_end; w += 2, src += step_x) {
                    dw_tap(src, w, off2, &a0, &a1, &a2, &a3);
                }
            }
            out[0] = dw_out(fast, a0, m0, s0, zp, lo, hi);
            out[1] = dw_out(fast, a1, m1, s1, zp, lo, hi);
            out[2] = dw_out(fast, a2, m2, s2, zp, lo, hi);
            out[3] = dw_out(fast, a3, m3, s3, zp, lo, hi);
        }
    }
}

/* The DSP path: depth multiplier 1, channels a multiple of 4, at most DW_MAX_TAPS taps; four
 * channels per pass over the whole output. */
static void dw_dsp(const asc_convp_cfg *layer, const int8_t *weights, const uint8_t *bias_le,
                   const int8_t *input, int8_t *output)
{
    /* a local copy: the byte stores cannot change it, so its fields stay in registers */
    const asc_convp_cfg local = *layer;
    const int kw3 = local.k_w == 3 && local.dil_w == 1;
    const int k33 = kw3 && local.k_h == 3 && local.dil_h == 1;
    const int sat = local.act_min == -128 && local.act_max == 127;
    int32_t c;
    for (c = 0; c < local.out_c; c += 4) {
        if (local.fast_rq && k33 && sat) {
            dw_group(&local, 2, 2, weights, bias_le, input, output, c);
        } else if (local.fast_rq && kw3 && sat) {
            dw_group(&local, 2, 1, weights, bias_le, input, output, c);
        } else if (local.fast_rq) {
            dw_group(&local, 1, 0, weights, bias_le, input, output, c);
        } else {
            dw_group(&local, 0, 0, weights, bias_le, input, output, c);
        }
    }
}
#endif

void asc_dwconv_s8(const asc_convp_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                   const int8_t *input, int8_t *output)
{
    int oy;
    int ox;
    int oc;
#if ASC_USE_DSP
    if (cfg->depth_mult == 1 && (cfg->out_c & 3) == 0 && (int32_t)cfg->k_h * cfg->k_w <= DW_MAX_TAPS) {
        dw_dsp(cfg, weights, bias_le, input, output);
        return;
    }
#endif
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
