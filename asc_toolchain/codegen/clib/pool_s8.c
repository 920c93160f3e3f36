/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Max-pool, valid padding (a pool right after a convolution is fused into it instead). */

#include "asc_kernels.h"

void asc_maxpool_s8(const asc_pool_cfg *cfg, const int8_t *input, int8_t *output)
{
    int oy;
    int ox;
    int c;
    for (oy = 0; oy < cfg->out_h; ++oy) {
        for (ox = 0; ox < cfg->out_w; ++ox) {
            for (c = 0; c < cfg->c; ++c) {
                int32_t best = INT32_MIN;
                int py;
                int px;
                for (py = 0; py < cfg->pool_h; ++py) {
                    for (px = 0; px < cfg->pool_w; ++px) {
                        const int32_t y = oy * cfg->stride_h + py;
                        const int32_t x = ox * cfg->stride_w + px;
                        const int32_t v = input[(y * cfg->in_w + x) * cfg->c + c];
                        best = v > best ? v : best;
                    }
                }
                *output++ = (int8_t)asc_clamp(best, cfg->act_min, cfg->act_max);
            }
        }
    }
}

/* The window of output (oy, ox) clipped to the input: [*y0, *y1) x [*x0, *x1). */
static void pool_window(const asc_pool2_cfg *cfg, int32_t oy, int32_t ox, int32_t *y0,
                        int32_t *y1, int32_t *x0, int32_t *x1)
{
    const int32_t ys = oy * cfg->stride_h - cfg->pad_top;
    const int32_t xs = ox * cfg->stride_w - cfg->pad_left;
    *y0 = ys < 0 ? 0 : ys;
    *x0 = xs < 0 ? 0 : xs;
    *y1 = ys + cfg->pool_h > cfg->in_h ? cfg->in_h : ys + cfg->pool_h;
    *x1 = xs + cfg->pool_w > cfg->in_w ? cfg->in_w : xs + cfg->pool_w;
}

/* The average of n values summing to sum: C99 division truncates, so adding half the count
 * first rounds half away from zero. */
static int8_t average(const asc_pool2_cfg *cfg, int32_t sum, int32_t n)
{
    sum = n == 0 ? 0 : (sum > 0 ? (sum + n / 2) / n : (sum - n / 2) / n);
    return (int8_t)asc_clamp(sum, cfg->act_min, cfg->act_max);
}

#if ASC_USE_DSP
/* Sums of channels [c, c + 4) over a window of at most 256 values each: one word of 4 inputs a
 * pixel added into the 16-bit lanes of two words (channels 0/2 and 1/3), exact because
 * |sum| <= 256 * 128 fits a lane. */
static void window_sums4(const asc_pool2_cfg *cfg, const int8_t *input, int32_t c, int32_t y0,
                         int32_t y1, int32_t x0, int32_t x1, int32_t sums[4])
{
    const int32_t ch = cfg->c;
    int32_t s02 = 0;
    int32_t s13 = 0;
    int32_t y;
    for (y = y0; y < y1; ++y) {
        const int8_t *p = input + (y * cfg->in_w + x0) * ch + c;
        const int8_t *end = p + (x1 - x0) * ch;
        for (; p != end; p += ch) {
            const int32_t v = asc_ld32(p);
            s02 = ASC_SXTAB16(s02, v);
            s13 = ASC_SXTAB16_ROR8(s13, v);
        }
    }
    sums[0] = (int16_t)(uint16_t)((uint32_t)s02 & 0xFFFFu);
    sums[2] = (int16_t)(uint16_t)((uint32_t)s02 >> 16);
    sums[1] = (int16_t)(uint16_t)((uint32_t)s13 & 0xFFFFu);
    sums[3] = (int16_t)(uint16_t)((uint32_t)s13 >> 16);
}
#endif

void asc_avgpool2_s8(const asc_pool2_cfg *cfg, const int8_t *input, int8_t *output)
{
    int32_t oy, ox, c, y, x, y0, y1, x0, x1;
#if ASC_USE_DSP
    const int lanes = (cfg->c & 3) == 0 && (int32_t)cfg->pool_h * cfg->pool_w <= 256;
#endif
    for (oy = 0; oy < cfg->out_h; ++oy) {
        for (ox = 0; ox < cfg->out_w; ++ox) {
            const int32_t at = (oy * cfg->out_w + ox) * cfg->c;
            int32_t n;
            pool_window(cfg, oy, ox, &y0, &y1, &x0, &x1);
            n = (y1 - y0) * (x1 - x0);
            c = 0;
#if ASC_USE_DSP
            for (; lanes && c < cfg->c; c += 4) {
                int32_t sums[4];
                int32_t k;
                window_sums4(cfg, input, c, y0, y1, x0, x1, sums);
                for (k = 0; k < 4; ++k) {
                    output[at + c + k] = average(cfg, sums[k], n);
                }
            }
#endif
            for (; c < cfg->c; ++c) {
                int32_t sum = 0;
                for (y = y0; y < y1; ++y) {
                    for (x = x0; x < x1; ++x) {
                        sum += input[(y * cfg->in_w + x) * cfg->c + c];
                    }
                }
                output[at + c] = average(cfg, sum, n);
            }
        }
    }
}

void asc_maxpool2_s8(const asc_pool2_cfg *cfg, const int8_t *input, int8_t *output)
{
    int32_t oy, ox, c, y, x, y0, y1, x0, x1;
    for (oy = 0; oy < cfg->out_h; ++oy) {
        for (ox = 0; ox < cfg->out_w; ++ox) {
            pool_window(cfg, oy, ox, &y0, &y1, &x0, &x1);
            for (c = 0; c < cfg->c; ++c) {
                int32_t best = -128;
                for (y = y0; y < y1; ++y) {
                    for (x = x0; x < x1; ++x) {
                        const int32_t v = input[(y * cfg->in_w + x) * cfg->c + c];
                        best = v > best ? v : best;
                    }
                }
                *output++ = (int8_t)asc_clamp(best, cfg->act_min, cfg->act_max);
            }
        }
    }
}
