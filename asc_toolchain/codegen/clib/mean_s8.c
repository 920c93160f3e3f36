/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Mean over H and W (global average pooling as TFLite's MEAN). Equal input and output
 * parameters: the sum divided by the count, truncated. Otherwise the sum less count x input
 * zero point, requantized by a multiplier that has 1/count folded in by the generator. */

#include "asc_kernels.h"

void asc_mean_s8(const asc_mean_cfg *cfg, const int8_t *input, int8_t *output)
{
    int32_t c;
    int32_t i;
    for (c = 0; c < cfg->c; ++c) {
        int32_t acc = 0;
        for (i = 0; i < cfg->hw; ++i) {
            acc += input[i * cfg->c + c];
        }
        if (cfg->same_scale) {
            output[c] = (int8_t)(acc / cfg->hw);    /* C99 division truncates, as the reference */
            continue;
        }
        acc = asc_requantize(acc - cfg->in_zero_point * cfg->hw, cfg->multiplier, cfg->shift);
        output[c] = (int8_t)asc_clamp(acc + cfg->out_zero_point, -128, 127);
    }
}
