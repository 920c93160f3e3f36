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
