/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Element-wise add of two int8 tensors with different scales: both inputs are shifted left by
 * left_shift, scaled to the larger input scale, summed, then scaled to the output. */

#include "asc_kernels.h"

static int8_t add_ref(const asc_add_cfg *cfg, int32_t in1, int32_t in2);

int8_t asc_add_one(const asc_add_cfg *cfg, int32_t in1, int32_t in2)
{
#if ASC_USE_DSP
    if (asc_add_fast_ok(cfg)) {
        return asc_add_one_fast(cfg, in1, in2);
    }
#endif
    return add_ref(cfg, in1, in2);
}

/* The reference arithmetic (any shifts). */
static int8_t add_ref(const asc_add_cfg *cfg, int32_t in1, int32_t in2)
{
    const int32_t a = (in1 + cfg->in1_offset) * ((int32_t)1 << cfg->left_shift);
    const int32_t b = (in2 + cfg->in2_offset) * ((int32_t)1 << cfg->left_shift);
    const int32_t sa = asc_requantize(a, cfg->in1_multiplier, cfg->in1_shift);
    const int32_t sb = asc_requantize(b, cfg->in2_multiplier, cfg->in2_shift);
    const int32_t v = asc_requantize(sa + sb, cfg->out_multiplier, cfg->out_shift) + cfg->out_offset;
    return (int8_t)asc_clamp(v, cfg->act_min, cfg->act_max);
}

void asc_add_s8(const asc_add_cfg *cfg, const int8_t *in1, const int8_t *in2, int8_t *output)
{
    int32_t i;
    for (i = 0; i < cfg->size; ++i) {
        output[i] = asc_add_one(cfg, in1[i], in2[i]);
    }
}
