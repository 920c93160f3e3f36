/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */
#ifndef CONV_S8_DSP_H
#define CONV_S8_DSP_H

/* Cortex-M4 fast paths of conv_s8.c, as inline functions: the generated code passes the layer's
 * `static const asc_conv_cfg`, so after inlining every shape is a constant, the loops unroll
 * and offsets become immediates. Both kernels take the max of the raw accumulators before one
 * requantization per pooled output, which the generator allows only where asc_rq is exact (and
 * so monotonic); they give the same bits as asc_conv_rows, which is what they run without DSP.
 * Included by asc_kernels.h. */

#define ASC_MAX_KH 7        /* c1k3 kernel rows */
#define ASC_MAX_POOL 4      /* pool rows and columns */

/* Rows [oy0, oy1) of a conv + max-pool with one input channel, a 3-wide kernel, stride 1 and a
 * pool 2 wide with stride 2 (any kernel height up to ASC_MAX_KH, pool height, pool row stride),
 * in and out as in asc_conv_rows (in8; out8 or out16). Output channel by output channel: taps 0
 * and 2 of each kernel row stay in registers as one SMLAD pair, tap 1 of two rows as the
 * 16-bit halves of one word, and one 4-byte load per input row gives both pool columns. */
ASC_INLINE void asc_conv_c1k3_rows(const asc_conv_cfg *cfg, const int8_t *weights,
                                   const uint8_t *bias_le, const int8_t *in, int oy0, int oy1,
                                   int8_t *out8, int16_t *out16);

/* One pooled output row oy of a conv + max-pool whose input is a ring of int16 rows (ring row 0
 * is the first input row that output row reads), in_c a multiple of 4; writes row oy of out8.
 * Every weight word is unpacked once (two SXTB16) and feeds the SMLADs of all pool positions;
 * input words are used as loaded. */
ASC_INLINE void asc_conv_ring_row(const asc_conv_cfg *cfg, const int8_t *weights,
                                  const uint8_t *bias_le, const int16_t *ring, int oy,
                                  int8_t *out8);

#if ASC_USE_DSP
/* Accumulate the taps of input row q (one word: inputs 2ox .. 2ox+3) into the pool rows that
 * use it. pair[k]: taps 0 and 2 of kernel row k; mid[k/2]: tap 1 of rows k (bits 0-15, k even)
 * and k+1 (bits 16-31). */
ASC_INLINE void asc_c1k3_row(int32_t word, int q, int k_h, int pool_h, const int32_t *pair,
                             const int32_t *mid, int32_t acc[][2])
{
    const int32_t e = ASC_SXTB16(word);          /* inputs 0 and 2 */
    const int32_t o = ASC_SXTB16_ROR8(word);     /* inputs 1 and 3 */
    int py;
    ASC_UNROLL
    for (py = 0; py < pool_h; ++py) {
        const int k = q - py;
        if (k >= 0 && k < k_h) {
            const int32_t m = mid[k / 2];
            acc[py][0] = ASC_SMLAD(e, pair[k], acc[py][0]);
            acc[py][0] = (k & 1) ? ASC_SMLABT(o, m, acc[py][0]) : ASC_SMLABB(o, m, acc[py][0]);
            acc[py][1] = ASC_SMLAD(o, pair[k], acc[py][1]);
            acc[py][1] = (k & 1) ? ASC_SMLATT(e, m, acc[py][1]) : ASC_SMLATB(e, m, acc[py][1]);
        }
    }
}

/* One pooled output of a c1k3 conv before requantization: the max of its raw accumulators. */
ASC_INLINE int32_t asc_c1k3_point(const int8_t *p, int in_w, int k_h, int pool_h, int32_t bias,
                                  const int32_t *pair, const int32_t *mid)
{
    int32_t acc[ASC_MAX_POOL][2];
    int32_t best;
    int py;
    int q;
    ASC_UNROLL
    for (py = 0; py < ASC_MAX_POOL; ++py) {     /* all rows: the unused ones fold away */
        acc[py][0] = bias;
        acc[py][1] = bias;
    }
    ASC_UNROLL
    for (q = 0; q < pool_h + k_h - 1; ++q) {
        asc_c1k3_row(asc_ld32(p + q * in_w), q, k_h, pool_h, pair, mid, acc);
    }
    best = acc[0][0] > acc[0][1] ? acc[0][0] : acc[0][1];
    ASC_UNROLL
    for (py = 1; py < pool_h; ++py) {
        best = acc[py][0] > best ? acc[py][0] : best;
        best = acc[py][1] > best ? acc[py][1] : best;
    }
    return best;
}

/* Output channel oc's weights as SMLAD operands (see asc_c1k3_row). */
ASC_INLINE void asc_c1k3_weights(const int8_t *w, int k_h, int32_t *pair, int32_t *mid)
{
    int k;
    ASC_UNROLL
    for (k = 0; k < k_h; ++k) {
        const uint32_t half = (uint32_t)(uint16_t)(int16_t)w[3 * k + 1];
        pair[k] = (int32_t)((uint32_t)(uint16_t)(int16_t)w[3 * k]
                            | ((uint32_t)(uint16_t)(int16_t)w[3 * k + 2] << 16));
        mid[k / 2] = (k & 1) ? (int32_t)((uint32_t)mid[k / 2] | (half << 16)) : (int32_t)half;
    }
}
#endif

#if ASC_M4_ASM
/* The c1k3 point in one block of assembly, for kernels of up to 3 rows and pools of up to 2
 * rows (14 registers: taps, bias, input pointer, 4 accumulators, 3 temporaries). Rows that a
 * shape does not have are skipped by the assembler (.if on the constant operands). */
#define ASC_C1K3_ASM_FITS(c) ((c)->k_h <= 3 && (c)->pool_h <= 2 && (c)->in_w <= 1365)

/* Input row Q: one word, sign-extended into inputs 0/2 (e) and 1/3 (o). */
#define ASC_C1K3_ROW(Q)                                                                            \
    ".if " #Q " < %c[ph] + %c[kh] - 1\n\t"                                                         \
    "ldr %[w], [%[p], #(" #Q " * %c[inw])]\n\t"                                                    \
    "sxtb16 %[e], %[w]\n\t"                                                                        \
    "sxtb16 %[o], %[w], ror #8\n\t"                                                                \
    ".endif\n\t"

/* Kernel row K into pool row PY: both pool columns; ACC is the accumulator's value so far (the
 * bias on its first use), H the half of word M that holds tap 1 of row K. */
#define ASC_C1K3_MAC(PY, K, ACC0, ACC1, H, M)                                                      \
    ".if (" #PY " < %c[ph]) && (" #K " < %c[kh])\n\t"                                              \
    "smlad %[a" #PY "0], %[e], %[p" #K "], " ACC0 "\n\t"                                           \
    "smlab" H " %[a" #PY "0], %[o], %[" M "], %[a" #PY "0]\n\t"                                    \
    "smlad %[a" #PY "1], %[o], %[p" #K "], " ACC1 "\n\t"                                           \
    "smlat" H " %[a" #PY "1], %[e], %[" M "], %[a" #PY "1]\n\t"                                    \
    ".endif\n\t"

ASC_INLINE int32_t asc_c1k3_point_asm(const int8_t *p, int in_w, int k_h, int pool_h,
                                      int32_t bias, const int32_t *pair, const int32_t *mid)
{
    const int32_t p0 = pair[0], p1 = k_h > 1 ? pair[1] : p0, p2 = k_h > 2 ? pair[2] : p0;
    const int32_t m01 = mid[0], m2 = k_h > 2 ? mid[1] : m01;
    int32_t a00, a01, a10, a11, w, e, o;
    __asm__(ASC_C1K3_ROW(0)
            ASC_C1K3_MAC(0, 0, "%[bias]", "%[bias]", "b", "m01")
            ASC_C1K3_ROW(1)
            ASC_C1K3_MAC(0, 1, "%[a00]", "%[a01]", "t", "m01")
            ASC_C1K3_MAC(1, 0, "%[bias]", "%[bias]", "b", "m01")
            ASC_C1K3_ROW(2)
            ASC_C1K3_MAC(0, 2, "%[a00]", "%[a01]", "b", "m2")
            ASC_C1K3_MAC(1, 1, "%[a10]", "%[a11]", "t", "m01")
            ASC_C1K3_ROW(3)
            ASC_C1K3_MAC(1, 2, "%[a10]", "%[a11]", "b", "m2")
            "cmp %[a00], %[a01]\n\t"
            "it lt\n\t"
            "movlt %[a00], %[a01]\n\t"
            ".if %c[ph] > 1\n\t"
            "cmp %[a00], %[a10]\n\t"
            "it lt\n\t"
            "movlt %[a00], %[a10]\n\t"
            "cmp %[a00], %[a11]\n\t"
            "it lt\n\t"
            "movlt %[a00], %[a11]\n\t"
            ".endif"
            : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11),
              [w] "=&r"(w), [e] "=&r"(e), [o] "=&r"(o)
            : [p] "r"(p), [bias] "r"(bias), [p0] "r"(p0), [p1] "r"(p1), [p2] "r"(p2),
              [m01] "r"(m01), [m2] "r"(m2), [ph] "n"(pool_h), [kh] "n"(k_h), [inw] "n"(in_w)
            : "cc", "memory");
    return a00;
}
#endif

#if ASC_USE_DSP
/* One pooled output of a c1k3 conv before requantization, in assembly where the shape allows. */
ASC_INLINE int32_t asc_c1k3_best(const asc_conv_cfg *cfg, const int8_t *p, int32_t bias,
                                 const int32_t *pair, const int32_t *mid)
{
#if ASC_M4_ASM
    if (__builtin_constant_p(ASC_C1K3_ASM_FITS(cfg)) && ASC_C1K3_ASM_FITS(cfg)) {
        return asc_c1k3_point_asm(p, cfg->in_w, cfg->k_h, cfg->pool_h, bias, pair, mid);
    }
#endif
    return asc_c1k3_point(p, cfg->in_w, cfg->k_h, cfg->pool_h, bias, pair, mid);
}
#endif

ASC_INLINE void asc_conv_c1k3_rows(const asc_conv_cfg *cfg, const int8_t *weights,
                                   const uint8_t *bias_le, const int8_t *in, int oy0, int oy1,
                                   int8_t *out8, int16_t *out16)
{
#if ASC_USE_DSP
    const int out_w = cfg->out_w, out_c = cfg->out_c;
    int oc;
    for (oc = 0; oc < out_c; ++oc) {
        int32_t pair[ASC_MAX_KH];
        int32_t mid[(ASC_MAX_KH + 1) / 2];
        const int32_t bias = asc_load_i32_le(bias_le + 4 * oc);
        const int32_t m = cfg->multiplier[oc];      /* read once: the assembly clobbers memory */
        const int32_t e = -cfg->shift[oc];
        int oy;
        asc_c1k3_weights(weights + oc * cfg->k_h * 3, cfg->k_h, pair, mid);
        for (oy = oy0; oy < oy1; ++oy) {
            const int8_t *row = in + oy * cfg->pool_stride_h * cfg->in_w;
            int ox;
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t best = asc_c1k3_best(cfg, row + 2 * ox, bias, pair, mid);
                const int32_t v = asc_activation(asc_rq(best, m, e) + cfg->out_zero_point,
                                                 cfg->act_min, cfg->act_max);
                if (out8) {
                    out8[(oy * out_w + ox) * out_c + oc] = (int8_t)v;
                } else {
                    out16[((oy - oy0) * out_w + ox) * out_c + ASC_RING_POS(oc)] = (int16_t)v;
                }
            }
        }
    }
#else
    asc_conv_rows(cfg, weights, bias_le, in, NULL, oy0, oy1, out8, out16);
#endif
}

#if ASC_USE_DSP
/* Byte offset in the ring of the input pair group g (channels g..g+3) that kernel tap (kh, kw)
 * reads for pool position (py, px) of an output pixel. */
ASC_INLINE int asc_ring_offset(const asc_conv_cfg *cfg, int py, int px, int kh, int kw, int g)
{
    return 2 * (((py * cfg->stride_h + kh) * cfg->in_w + px * cfg->stride_w + kw) * cfg->in_c + g);
}

/* acc[p] of pool position p, after one output pixel and channel (C path). */
ASC_INLINE void asc_ring_point(const asc_conv_cfg *cfg, const int8_t *w, const int16_t *base,
                               int32_t acc[ASC_MAX_POOL * ASC_MAX_POOL])
{
    const int n = cfg->pool_h * cfg->pool_w;
    int kh;
    ASC_UNROLL
    for (kh = 0; kh < cfg->k_h; ++kh) {
        int kw;
        ASC_UNROLL
        for (kw = 0; kw < cfg->k_w; ++kw) {
            int g;
            ASC_UNROLL
            for (g = 0; g < cfg->in_c; g += 4) {
                const int32_t wv = asc_ld32(w + (kh * cfg->k_w + kw) * cfg->in_c + g);
                const int32_t w02 = ASC_SXTB16(wv);
                const int32_t w13 = ASC_SXTB16_ROR8(wv);
                int p;
                ASC_UNROLL
                for (p = 0; p < n; ++p) {
                    const int8_t *x = (const int8_t *)base
                                      + asc_ring_offset(cfg, p / cfg->pool_w, p % cfg->pool_w,
                                                        kh, kw, g);
                    acc[p] = ASC_SMLAD(asc_ld32(x), w02, acc[p]);
                    acc[p] = ASC_SMLAD(asc_ld32(x + 4), w13, acc[p]);
                }
            }
        }
    }
}
#endif

#if ASC_M4_ASM
/* The largest ring offset a ring_row reads from one pixel's base, and the middle the assembly
 * addresses from (LDRD reaches +-1020 bytes from its base register). */
#define ASC_RING_SPAN(c)                                                                           \
    (2 * ((((c)->pool_h - 1) * (c)->stride_h + (c)->k_h - 1) * (c)->in_w                           \
          + ((c)->pool_w - 1) * (c)->stride_w + (c)->k_w - 1) * (c)->in_c + 2 * ((c)->in_c - 4))
#define ASC_RING_MID(c) (ASC_RING_SPAN(c) / 2 / 4 * 4)

/* True when every offset of the assembly fits its instruction (LDRD +-1020 from the middle, LDR
 * of weights 0..4095) and every loop unrolls (at most 64 steps each). A macro, not a function:
 * __builtin_constant_p gives up on function calls. */
#define ASC_RING_ASM_FITS(c)                                                                       \
    ((c)->pool_h * (c)->pool_w <= 4 && (c)->in_c <= 256 && (c)->k_h <= 64 && (c)->k_w <= 64        \
     && ASC_RING_SPAN(c) - ASC_RING_MID(c) <= 1020 && ASC_RING_MID(c) <= 1020                      \
     && (c)->k_h * (c)->k_w * (c)->in_c - 4 <= 4095)

/* One weight word (4 input channels of one tap) into the accumulators of n <= 4 pool positions:
 * LDR + two SXTB16, then per position one LDRD of two int16 pairs and two SMLAD. Offsets are
 * immediates (operands "n"), so the compiler cannot merge or hoist the loads: with 100+ input
 * words per output it would keep them in registers and spill. */
#define ASC_RING_TAP(N, XB, O0, O1, O2, O3, WB, WO, A0, A1, A2, A3)                                \
    do {                                                                                           \
        int32_t wv_, w02_, w13_, x0_, x1_;                                                         \
        __asm__("ldr %[wv], [%[wb], %[wo]]\n\t"                                                    \
                "sxtb16 %[w02], %[wv]\n\t"                                                         \
                "sxtb16 %[w13], %[wv], ror #8\n\t"                                                 \
                "ldrd %[x0], %[x1], [%[xb], %[o0]]\n\t"                                            \
                "smlad %[a0], %[x0], %[w02], %[a0]\n\t"                                            \
                "smlad %[a0], %[x1], %[w13], %[a0]\n\t"                                            \
                ".if %c[n] > 1\n\t"                                                                \
                "ldrd %[x0], %[x1], [%[xb], %[o1]]\n\t"                                            \
                "smlad %[a1], %[x0], %[w02], %[a1]\n\t"                                            \
                "smlad %[a1], %[x1], %[w13], %[a1]\n\t"                                            \
                ".endif\n\t"                                                                       \
                ".if %c[n] > 2\n\t"                                                                \
                "ldrd %[x0], %[x1], [%[xb], %[o2]]\n\t"                                            \
                "smlad %[a2], %[x0], %[w02], %[a2]\n\t"                                            \
                "smlad %[a2], %[x1], %[w13], %[a2]\n\t"                                            \
                ".endif\n\t"                                                                       \
                ".if %c[n] > 3\n\t"                                                                \
                "ldrd %[x0], %[x1], [%[xb], %[o3]]\n\t"                                            \
                "smlad %[a3], %[x0], %[w02], %[a3]\n\t"                                            \
                "smlad %[a3], %[x1], %[w13], %[a3]\n\t"                                            \
                ".endif"                                                                           \
                : [a0] "+r"(A0), [a1] "+r"(A1), [a2] "+r"(A2), [a3] "+r"(A3), [wv] "=&r"(wv_),     \
                  [w02] "=&r"(w02_), [w13] "=&r"(w13_), [x0] "=&r"(x0_), [x1] "=&r"(x1_)           \
                : [xb] "r"(XB), [wb] "r"(WB), [wo] "n"(WO), [n] "n"(N), [o0] "n"(O0),              \
                  [o1] "n"(O1), [o2] "n"(O2), [o3] "n"(O3)                                         \
                : "memory");                                                                       \
    } while (0)

/* asc_ring_point in assembly, accumulators in a0..a3; xb points at the middle of the pixel's
 * span (ASC_RING_MID). */
ASC_INLINE void asc_ring_point_asm(const asc_conv_cfg *cfg, const int8_t *wb, const int8_t *xb,
                                   int32_t acc[ASC_MAX_POOL * ASC_MAX_POOL])
{
    const int n = cfg->pool_h * cfg->pool_w;
    const int pw = cfg->pool_w;
    const int mid = ASC_RING_MID(cfg);
    int32_t a0 = acc[0], a1 = acc[0], a2 = acc[0], a3 = acc[0];
    int kh;
    ASC_UNROLL
    for (kh = 0; kh < cfg->k_h; ++kh) {
        int kw;
        ASC_UNROLL
        for (kw = 0; kw < cfg->k_w; ++kw) {
            int g;
            ASC_UNROLL
            for (g = 0; g < cfg->in_c; g += 4) {
                ASC_RING_TAP(n, xb, asc_ring_offset(cfg, 0, 0, kh, kw, g) - mid,
                             asc_ring_offset(cfg, 1 / pw, 1 % pw, kh, kw, g) - mid,
                             asc_ring_offset(cfg, 2 / pw, 2 % pw, kh, kw, g) - mid,
                             asc_ring_offset(cfg, 3 / pw, 3 % pw, kh, kw, g) - mid,
                             wb, (kh * cfg->k_w + kw) * cfg->in_c + g, a0, a1, a2, a3);
            }
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

#if ASC_USE_DSP
/* One pooled output of a ring conv before requantization: the max over its pool positions, in
 * assembly where the shape allows. */
ASC_INLINE int32_t asc_ring_best(const asc_conv_cfg *cfg, const int8_t *w, const int16_t *base,
                                 int32_t bias)
{
    int32_t acc[ASC_MAX_POOL * ASC_MAX_POOL];
    int32_t best;
    int p;
    ASC_UNROLL
    for (p = 0; p < ASC_MAX_POOL * ASC_MAX_POOL; ++p) {     /* the unused ones fold away */
        acc[p] = bias;
    }
#if ASC_M4_ASM
    if (__builtin_constant_p(ASC_RING_ASM_FITS(cfg)) && ASC_RING_ASM_FITS(cfg)) {
        asc_ring_point_asm(cfg, w, (const int8_t *)base + ASC_RING_MID(cfg), acc);
    } else
#endif
    {
        asc_ring_point(cfg, w, base, acc);
    }
    best = acc[0];
    ASC_UNROLL
    for (p = 1; p < cfg->pool_h * cfg->pool_w; ++p) {
        best = acc[p] > best ? acc[p] : best;
    }
    return best;
}
#endif

ASC_INLINE void asc_conv_ring_row(const asc_conv_cfg *cfg, const int8_t *weights,
                                  const uint8_t *bias_le, const int16_t *ring, int oy,
                                  int8_t *out8)
{
#if ASC_USE_DSP
    const int out_w = cfg->out_w, out_c = cfg->out_c;
    int8_t *out = out8 + oy * out_w * out_c;
    int ox;
    for (ox = 0; ox < out_w; ++ox) {
        const int16_t *base = ring + ox * cfg->pool_stride_w * cfg->stride_w * cfg->in_c;
        int oc;
        for (oc = 0; oc < out_c; ++oc) {
            const int32_t best = asc_ring_best(cfg, weights + oc * cfg->k_h * cfg->k_w * cfg->in_c,
                                               base, asc_load_i32_le(bias_le + 4 * oc));
            out[ox * out_c + oc] = (int8_t)asc_activation(
                asc_rq(best, cfg->multiplier[oc], -cfg->shift[oc]) + cfg->out_zero_point,
                cfg->act_min, cfg->act_max);
        }
    }
#else
    asc_conv_rows(cfg, weights, bias_le, NULL, ring, oy, oy + 1, out8, NULL);
#endif
}

#endif /* CONV_S8_DSP_H */
