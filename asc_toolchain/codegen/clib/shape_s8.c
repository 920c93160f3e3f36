/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Data movement: padding with a constant and one input's part of a channel concatenation. */

#include <string.h>

#include "asc_kernels.h"

void asc_pad_s8(const asc_pad_cfg *cfg, const int8_t *input, int8_t *output)
{
    int32_t y;
    int32_t x;
    memset(output, (int)(int8_t)cfg->value, (size_t)cfg->out_h * cfg->out_w * cfg->out_c);
    for (y = 0; y < cfg->in_h; ++y) {
        for (x = 0; x < cfg->in_w; ++x) {
            const int32_t o = ((y + cfg->top) * cfg->out_w + x + cfg->left) * cfg->out_c + cfg->front;
            memcpy(output + o, input + (y * cfg->in_w + x) * cfg->c, cfg->c);
        }
    }
}

void asc_concat_part_s8(int32_t rows, int32_t c, int32_t c0, int32_t out_c, const int8_t *input,
                        int8_t *output)
{
    int32_t r;
    for (r = 0; r < rows; ++r) {
        memcpy(output + r * out_c + c0, input + r * c, (size_t)c);
    }
}
