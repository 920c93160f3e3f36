/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* The graph's edges of a float-in / float-out model, as TFLite Micro's reference kernels compute
 * them:
 *   quantize   (float32 -> int8): q = clamp(round(x / scale) + zero_point, -128, 127), the
 *              division in float32 and the rounding half away from zero;
 *   dequantize (int8 -> float32): x = scale * (q - zero_point). The reference multiplies in
 *              double and rounds to float once; q - zero_point has at most 9 bits and scale 24,
 *              so the product is exact in either precision and one float32 multiply rounds it
 *              to the same value (single-precision FPU of the Cortex-M4 included).
 *   requantize (int8 -> int8): q = clamp(zp_out + rescale(q - zp_in), -128, 127) with the
 *              fixed-point multiplier and shift of in_scale / out_scale.
 * No library call: the rounding is written out, so the result does not depend on libm or on
 * the floating-point environment's rounding mode for conversions. */

#include "asc_kernels.h"

/* round(v) half away from zero, as an int32 saturated to +-2^30 (the result is clamped to int8
 * afterwards, so larger magnitudes all give the same output). NaN gives 0. */
static int32_t asc_round_sat(float v)
{
    int32_t i;
    float frac;
    if (!(v == v)) {
        return 0;
    }
    if (v >= 1073741824.0f) {
        return 1073741824;
    }
    if (v <= -1073741824.0f) {
        return -1073741824;
    }
    i = (int32_t)v;                 /* truncates toward zero */
    frac = v - (float)i;            /* exact: |v| < 2^30 and v, i share the integer part */
    if (frac >= 0.5f) {
        ++i;
    } else if (frac <= -0.5f) {
        --i;
    }
    return i;
}

void asc_quantize_f32_s8(const asc_quant_cfg *cfg, const float *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < cfg->size; ++i) {
        const int32_t q = asc_round_sat(input[i] / cfg->scale) + cfg->zero_point;
        output[i] = (int8_t)asc_clamp(q, -128, 127);
    }
}

void asc_dequantize_s8_f32(const asc_quant_cfg *cfg, const int8_t *input, float *output)
{
    int32_t i;
    for (i = 0; i < cfg->size; ++i) {
        output[i] = cfg->scale * (float)((int32_t)input[i] - cfg->zero_point);
    }
}

void asc_requantize_s8(const asc_requant_cfg *cfg, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < cfg->size; ++i) {
        const int32_t v = asc_requantize((int32_t)input[i] - cfg->in_zero_point, cfg->multiplier,
                                         cfg->shift);
        output[i] = (int8_t)asc_clamp(v + cfg->out_zero_point, -128, 127);
    }
}
