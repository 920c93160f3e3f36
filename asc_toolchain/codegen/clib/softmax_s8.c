/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* int8 softmax: a fixed-point exp of each input's distance to the maximum, a fixed-point
 * reciprocal of their sum, output scale 1/256 and zero point -128. */

#include "asc_kernels.h"

/* Inputs to exp are Q5.26 (5 integer bits), results Q0.31, sums Q12.19, as in the reference. */

#define ASC_Q31_ONE INT32_MAX

/* exp(a) for a in [-1/4, 0), a and result in Q0.31: Taylor series around -1/8. */
static int32_t exp_small(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668;
    const int32_t one_third = 715827883;
    const int32_t x = a + (1 << 28);
    const int32_t x2 = asc_srdhm(x, x);
    const int32_t x3 = asc_srdhm(x2, x);
    const int32_t x4 = asc_srdhm(x2, x2);
    const int32_t x4_over_4 = asc_rounding_divide_by_pot(x4, 2);
    const int32_t poly = asc_rounding_divide_by_pot(asc_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return exp_minus_one_eighth + asc_srdhm(exp_minus_one_eighth, x + poly);
}

/* exp(a) for a <= 0 in Q5.26, result Q0.31: split off a mod 1/4, then multiply by
 * exp(-2^k) for every set bit k of the rest. */
static int32_t exp_negative_q5_26(int32_t a)
{
    static const int32_t factors[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242
    };
    const int32_t quarter = 1 << 24;
    const int32_t a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter;
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    int32_t result = exp_small(a_mod_quarter_minus_quarter * 32);   /* Q5.26 -> Q0.31 */
    int k;
    for (k = 0; k < 7; ++k) {
        if (remainder & ((int32_t)1 << (24 + k))) {
            result = asc_srdhm(result, factors[k]);
        }
    }
    return a == 0 ? ASC_Q31_ONE : result;
}

/* 1 / (1 + x) for x in [0, 1) in Q0.31, by three Newton-Raphson steps in Q2.29. */
static int32_t one_over_one_plus_x(int32_t x)
{
    const int64_t sum = (int64_t)x + ASC_Q31_ONE;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c48_over_17 = 1515870810;
    const int32_t cneg32_over_17 = -1010580540;
    int32_t est = c48_over_17 + asc_srdhm(half_denominator, cneg32_over_17);
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t prod = asc_srdhm(half_denominator, est);
        const int32_t one_minus = (1 << 29) - prod;
        est = est + asc_saturating_shift_left(asc_srdhm(est, one_minus), 2);
    }
    return asc_saturating_shift_left(est, 1);
}

static int count_leading_zeros(uint32_t x)
{
    int n = 0;
    while (n < 32 && !(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

static int32_t scaled_diff(const asc_softmax_cfg *cfg, int32_t diff)
{
    const int32_t shifted = (int32_t)((uint32_t)diff << cfg->input_left_shift);
    return asc_srdhm(shifted, cfg->input_multiplier);
}

void asc_softmax_s8(const asc_softmax_cfg *cfg, const int8_t *input, int8_t *output)
{
    int32_t max_in = -128;
    int32_t sum = 0;          /* Q12.19 */
    int32_t headroom;
    int32_t bits_over_unit;
    int32_t reciprocal;
    int c;
    for (c = 0; c < cfg->depth; ++c) {
        max_in = input[c] > max_in ? input[c] : max_in;
    }
    for (c = 0; c < cfg->depth; ++c) {
        const int32_t diff = (int32_t)input[c] - max_in;
        if (diff >= cfg->diff_min) {
            sum += asc_rounding_divide_by_pot(exp_negative_q5_26(scaled_diff(cfg, diff)), 12);
        }
    }
    headroom = count_leading_zeros((uint32_t)sum);
    bits_over_unit = 12 - headroom;
    reciprocal = one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
    for (c = 0; c < cfg->depth; ++c) {
        const int32_t diff = (int32_t)input[c] - max_in;
        int32_t v = -128;
        if (diff >= cfg->diff_min) {
            const int32_t e = exp_negative_q5_26(scaled_diff(cfg, diff));
            v = asc_rounding_divide_by_pot(asc_srdhm(reciprocal, e), bits_over_unit + 31 - 8) - 128;
        }
        output[c] = (int8_t)asc_clamp(v, -128, 127);
    }
}
