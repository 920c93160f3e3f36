/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Fully connected layer: one int8 dot product per output, requantized and clamped; weights in
 * the grouped order of asc_kernels.h. On a DSP core four outputs a pass, each input word loaded
 * and sign-extended once for the group's four weight words (the inner loop in assembly in
 * optimized GCC builds). */

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

/* Requantized, clamped output o. The DSP build takes the one-rounding form where the generator
 * proved it exact (fast_rq). */
static int8_t finish(const asc_fc_cfg *cfg, int32_t acc, int32_t o)
{
#if ASC_USE_DSP
    acc = asc_rq_channel(cfg->fast_rq, acc, cfg->multiplier[o], cfg->shift[o]);
#else
    acc = asc_requantize(acc, cfg->multiplier[o], cfg->shift[o]);
#endif
    return (int8_t)asc_clamp(acc + cfg->out_zero_point, cfg->act_min, cfg->act_max);
}

#if ASC_USE_DSP
/* Output o of the DSP path. ``fast`` (a constant in each instance): 0 the reference
 * requantization, 1 the one-rounding form, 2 that and a clamp to the whole int8 range (SSAT). */
ASC_INLINE int8_t fc_out(const asc_fc_cfg *cfg, int32_t fast, int32_t acc, int32_t o)
{
    acc = (fast ? asc_rq(acc, cfg->multiplier[o], -cfg->shift[o])
                : asc_requantize(acc, cfg->multiplier[o], cfg->shift[o])) + cfg->out_zero_point;
    return (int8_t)(fast == 2 ? ASC_SAT8(acc) : asc_clamp(acc, cfg->act_min, cfg->act_max));
}

/* Outputs [o, o + 4) (a whole group of the weights' layout, asc_kernels.h): per 4 inputs one
 * input word sign-extended once and the group's four weight words read as two doublewords. */
ASC_INLINE void fc_four(const asc_fc_cfg *cfg, int32_t fast, const int8_t *weights,
                        const uint8_t *bias_le, const int8_t *input, int8_t *output, int32_t o)
{
    const int32_t n = cfg->in_features;
    const int32_t full = n & ~3;
    const int32_t rest = n - full;
    const int8_t *w = weights + o * n;
    const int8_t *tail = w + 4 * full;
    int32_t a0 = asc_load_i32_le(bias_le + 4 * o);
    int32_t a1 = asc_load_i32_le(bias_le + 4 * o + 4);
    int32_t a2 = asc_load_i32_le(bias_le + 4 * o + 8);
    int32_t a3 = asc_load_i32_le(bias_le + 4 * o + 12);
    int32_t i = 0;
#if ASC_M4_ASM
    if (n >= 8) {
        /* the loop below, 8 inputs a pass, register-allocated by hand (GCC spills pointers) */
        const int32_t full8 = n & ~7;
        const int8_t *xp = input;
        const int8_t *end = input + full8;
        int32_t x0;
        int32_t x1;
        int32_t v0;
        int32_t v1;
        int32_t t;
#define ASC_FC_ROW(a, v)                                                                          \
        "sxtb16 %[t], %[" v "]\n\t"                                                               \
        "smlad %[" a "], %[x0], %[t], %[" a "]\n\t"                                              \
        "sxtb16 %[" v "], %[" v "], ror #8\n\t"                                                   \
        "smlad %[" a "], %[x1], %[" v "], %[" a "]\n\t"
#define ASC_FC_STEP                                                                               \
        "ldr %[x1], [%[xp]], #4\n\t"                                                             \
        "sxtb16 %[x0], %[x1]\n\t"                                                                \
        "sxtb16 %[x1], %[x1], ror #8\n\t"                                                        \
        "ldrd %[v0], %[v1], [%[w]], #8\n\t"                                                      \
        ASC_FC_ROW("a0", "v0") ASC_FC_ROW("a1", "v1")                                             \
        "ldrd %[v0], %[v1], [%[w]], #8\n\t"                                                      \
        ASC_FC_ROW("a2", "v0") ASC_FC_ROW("a3", "v1")
        __asm__("1:\n\t"
                ASC_FC_STEP
                ASC_FC_STEP
                "cmp %[xp], %[end]\n\t"
                "bne 1b"
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp),
                  [w] "+r"(w), [x0] "=&r"(x0), [x1] "=&r"(x1), [v0] "=&r"(v0), [v1] "=&r"(v1),
                  [t] "=&r"(t)
                : [end] "r"(end)
                : "cc", "memory");
#undef ASC_FC_STEP
#undef ASC_FC_ROW
        i = full8;
    }
#endif
    for (; i < full; i += 4, w += 16) {
        const int32_t x = asc_ld32(input + i);
        const int32_t x0 = ASC_SXTB16(x);
        const int32_t x1 = ASC_SXTB16_ROR8(x);
        int32_t v = asc_ld32(w);
        a0 = ASC_SMLAD(x0, ASC_SXTB16(v), a0);
        a0 = ASC_SMLAD(x1, ASC_SXTB16_ROR8(v), a0);
        v = asc_ld32(w + 4);
        a1 = ASC_SMLAD(x0, ASC_SXTB16(v), a1);
        a1 = ASC_SMLAD(x1, ASC_SXTB16_ROR8(v), a1);
        v = asc_ld32(w + 8);
        a2 = ASC_SMLAD(x0, ASC_SXTB16(v), a2);
        a2 = ASC_SMLAD(x1, ASC_SXTB16_ROR8(v), a2);
        v = asc_ld32(w + 12);
        a3 = ASC_SMLAD(x0, ASC_SXTB16(v), a3);
        a3 = ASC_SMLAD(x1, ASC_SXTB16_ROR8(v), a3);
    }
    for (i = 0; i < rest; ++i) {
        const int32_t x = input[full + i];
        a0 += x * tail[i];
        a1 += x * tail[rest + i];
        a2 += x * tail[2 * rest + i];
        a3 += x * tail[3 * rest + i];
    }
    output[o] = fc_out(cfg, fast, a0, o);
    output[o + 1] = fc_out(cfg, fast, a1, o + 1);
    output[o + 2] = fc_out(cfg, fast, a2, o + 2);
    output[o + 3] = fc_out(cfg, fast, a3, o + 3);
}

/* Every group of four outputs, with the requantization and clamp chosen once. */
static int32_t fc_blocks(const asc_fc_cfg *layer, const int8_t *weights, const uint8_t *bias_le,
                         const int8_t *input, int8_t *output)
{
    /* a local copy: the byte stores cannot change it, so its fields stay in registers */
    const asc_fc_cfg local = *layer;
    const int sat = local.act_min == -128 && local.act_max == 127;
    int32_t o = 0;
    for (; o + 4 <= local.out_features; o += 4) {
        if (local.fast_rq && sat) {
            fc_four(&local, 2, weights, bias_le, input, output, o);
        } else if (local.fast_rq) {
            fc_four(&local, 1, weights, bias_le, input, output, o);
        } else {
            fc_four(&local, 0, weights, bias_le, input, output, o);
        }
    }
    return o;
}
#endif

void asc_fc_s8(const asc_fc_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
               const int8_t *input, int8_t *output)
{
    int32_t o = 0;
#if ASC_USE_DSP
    o = fc_blocks(cfg, weights, bias_le, input, output);
#endif
    for (; o < cfg->out_features; ++o) {
        int32_t acc = asc_load_i32_le(bias_le + 4 * o);
        if (o >= (cfg->out_features & ~3)) {       /* the last rows: plain */
            acc += dot_s8(input, weights + o * cfg->in_features, cfg->in_features);
        } else {
            int32_t i;
            for (i = 0; i < cfg->in_features; ++i) {
                acc += (int32_t)input[i] * weights[asc_fc_weight(cfg->in_features, o, i)];
            }
        }
        output[o] = finish(cfg, acc, o);
    }
}
