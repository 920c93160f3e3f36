/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Fully connected layer: one int8 dot product per output, requantized and clamped. */

#include "asc_kernels.h"

/* sum of a[i] * b[i] for i < n. */
static int32_t dot_s8(const int8_t *a, const int8_t *b, int32_t n)
{
    int32_t acc = 0;
    int32_t i = 0;
#if ASC_USE_DSP
    /* Four int8 pairs per step: bytes 0/2 and 1/3 sign-extended into 16-bit lanes, two dual
     * multiply-accumulates (integer sums do not depend on the order of additions). */
    for (; i + 4 <= n; i += 4) {
        const int32_t va = asc_ld32(a + i);
        const int32_t vb = asc_ld32(b + i);
        acc = ASC_SMLAD(ASC_SXTB16(va), ASC_SXTB16(vb), acc);
        acc = ASC_SMLAD(ASC_SXTB16_ROR8(va), ASC_SXTB16_ROR8(vb), acc);
    }
#endif
    for (; i < n; ++i) {
        acc += (int32_t)a[i] * (int32_t)b[i];
    }
    return acc;
}

void asc_fc_s8(const asc_fc_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
               const int8_t *input, int8_t *output)
{
    int o;
    for (o = 0; o < cfg->out_features; ++o) {
        int32_t acc = asc_load_i32_le(bias_le + 4 * o)
                      + dot_s8(input, weights + (int32_t)o * cfg->in_features, cfg->in_features);
        acc = asc_requantize(acc, cfg->multiplier[o], cfg->shift[o]) + cfg->out_zero_point;
        output[o] = (int8_t)asc_clamp(acc, cfg->act_min, cfg->act_max);
    }
}
