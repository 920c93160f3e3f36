/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Convolution with any padding, stride and dilation. The reference arithmetic applies the input
 * offset per tap, so taps in the padding contribute nothing (TFLite's definition of padding).
 * On a DSP core, given scratch, the same sums as a matrix product: the taps of two output pixels
 * into int16 columns (offset added, zero in the padding), then two pixels x two output channels
 * per pass with SMLAD (the inner loop in assembly in optimized GCC builds). */

#include <string.h>

#include "asc_kernels.h"

/* sum over c < n of (in[c] + offset) * w[c]. */
static int32_t dot_offset(const int8_t *in, const int8_t *w, int32_t n, int32_t offset)
{
    int32_t acc = 0;
    int32_t wsum = 0;
    int32_t c;
    for (c = 0; c < n; ++c) {
        acc += (int32_t)in[c] * (int32_t)w[c];
        wsum += w[c];
    }
    /* (in + offset) * w summed = in * w summed + offset * (w summed): integer sums are exact. */
    return acc + offset * wsum;
}

/* One output pixel, every output channel. */
static void conv_pixel(const asc_convp_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                       const int8_t *input, int32_t y0, int32_t x0, const asc_add_cfg *add,
                       const int8_t *residual, int8_t *out)
{
    const int32_t taps = (int32_t)cfg->k_h * cfg->k_w * cfg->in_c;
    const asc_taps t = asc_taps_at(cfg, y0, x0);
    int oc;
    for (oc = 0; oc < cfg->out_c; ++oc) {
        const int8_t *w = weights + (int32_t)oc * taps;
        int32_t acc = asc_load_i32_le(bias_le + 4 * oc);
        int32_t ky;
        int32_t kx;
        for (ky = t.y_lo; ky < t.y_hi; ++ky) {
            const int32_t y = y0 + ky * cfg->dil_h;
            for (kx = t.x_lo; kx < t.x_hi; ++kx) {
                const int32_t x = x0 + kx * cfg->dil_w;
                acc += dot_offset(input + (y * cfg->in_w + x) * cfg->in_c,
                                  w + (ky * cfg->k_w + kx) * cfg->in_c, cfg->in_c, cfg->in_offset);
            }
        }
        acc = asc_requantize(acc, cfg->multiplier[oc], cfg->shift[oc]) + cfg->out_zero_point;
        acc = asc_clamp(acc, cfg->act_min, cfg->act_max);
        out[oc] = add ? asc_add_one(add, acc, residual[oc]) : (int8_t)acc;
    }
}

#if ASC_USE_DSP
static inline void st32(void *p, int32_t v)
{
    memcpy(p, &v, sizeof v);
}

/* The scratch holds the taps of two output pixels (0 and 1) as int16, input offset added, zero
 * in the padding, interleaved for the matrix product: per group of 4 taps 8 values, the words
 * (tap 0, tap 2) of pixel 0, of pixel 1, then (tap 1, tap 3) of pixel 0, of pixel 1 -- the
 * SMLAD pairs SXTB16 makes of a word of 4 int8 weights. */

static inline int32_t pack16(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* Writes one pixel's taps in order into its half of the columns. Whole groups (n == 0 and runs
 * a multiple of 4, always so when in_c is) are written a word at a time; other runs go through
 * v[] 4 taps at a time. */
typedef struct {
    int16_t *d;         /* the next group's first word for this pixel */
    int32_t v[4];
    int32_t n;          /* taps waiting in v */
    int32_t off2;       /* the input offset in both halfwords */
    int32_t offset;
} col_writer;

ASC_INLINE void put_one(col_writer *w, int32_t value)
{
    w->v[w->n++] = value;
    if (w->n == 4) {
        st32(w->d, pack16(w->v[0], w->v[2]));
        st32(w->d + 4, pack16(w->v[1], w->v[3]));
        w->d += 8;
        w->n = 0;
    }
}

ASC_INLINE void put_zeros(col_writer *w, int32_t count)
{
    while (count > 0 && w->n) {
        put_one(w, 0);
        --count;
    }
    if (count >= 4) {
        int16_t *d = w->d;      /* locals: the stores below may not change them */
        for (; count >= 4; count -= 4) {
            st32(d, 0);
            st32(d + 4, 0);
            d += 8;
        }
        w->d = d;
    }
    while (count-- > 0) {
        put_one(w, 0);
    }
}

ASC_INLINE void put_run(col_writer *w, const int8_t *src, int32_t count)
{
    while (count > 0 && w->n) {
        put_one(w, *src++ + w->offset);
        --count;
    }
    if (count >= 4) {
        int16_t *d = w->d;      /* locals: the stores below may not change them */
        const int32_t off2 = w->off2;
        for (; count >= 8; count -= 8) {
            const int32_t v = asc_ld32(src);
            const int32_t u = asc_ld32(src + 4);
            st32(d, ASC_SXTAB16(off2, v));
            st32(d + 4, ASC_SXTAB16_ROR8(off2, v));
            st32(d + 8, ASC_SXTAB16(off2, u));
            st32(d + 12, ASC_SXTAB16_ROR8(off2, u));
            d += 16;
            src += 8;
        }
        if (count >= 4) {
            const int32_t v = asc_ld32(src);
            st32(d, ASC_SXTAB16(off2, v));
            st32(d + 4, ASC_SXTAB16_ROR8(off2, v));
            d += 8;
            src += 4;
            count -= 4;
        }
        w->d = d;
    }
    while (count-- > 0) {
        put_one(w, *src++ + w->offset);
    }
}

/* Pixel k's taps, kernel row by kernel row: the padding as zeros, the in-bounds taps of a row
 * as one run of input bytes (contiguous without dilation), the last group completed with zeros. */
static void im2col(const asc_convp_cfg *layer, const int8_t *input, int32_t y0, int32_t x0,
                   int16_t *col, int32_t k)
{
    const asc_convp_cfg local = *layer;
    const asc_convp_cfg *cfg = &local;
    const int32_t in_c = cfg->in_c;
    const int32_t row_taps = (int32_t)cfg->k_w * in_c;
    const asc_taps t = asc_taps_at(cfg, y0, x0);
    col_writer w;
    int32_t ky;
    int32_t kx;
    w.d = col + 2 * k;
    w.n = 0;
    w.offset = cfg->in_offset;
    w.off2 = (int32_t)((uint32_t)(uint16_t)cfg->in_offset * 0x10001u);
    put_zeros(&w, t.y_lo * row_taps);
    for (ky = t.y_lo; ky < t.y_hi; ++ky) {
        const int8_t *row = input + ((y0 + ky * cfg->dil_h) * cfg->in_w + x0) * in_c;
        put_zeros(&w, t.x_lo * in_c);
        if (cfg->dil_w == 1) {
            put_run(&w, row + t.x_lo * in_c, (t.x_hi - t.x_lo) * in_c);
        } else {
            for (kx = t.x_lo; kx < t.x_hi; ++kx) {
                put_run(&w, row + kx * cfg->dil_w * in_c, in_c);
            }
        }
        put_zeros(&w, (cfg->k_w - t.x_hi) * in_c);
    }
    put_zeros(&w, (cfg->k_h - t.y_hi) * row_taps);
    if (w.n) {
        put_zeros(&w, 4 - w.n);
    }
}

/* Requantized, clamped output of channel oc, the residual ADD applied when fused. ``fast`` and
 * ``has_add`` are constants in each instance of conv_pair; fast: 0 the reference arithmetic,
 * 1 the one-rounding form, 2 that and a clamp to the whole int8 range (one SSAT). */
ASC_INLINE int8_t finish(const asc_convp_cfg *cfg, int32_t fast, int has_add, int32_t acc,
                         int32_t oc, const asc_add_cfg *add, const int8_t *residual)
{
    acc = (fast ? asc_rq(acc, cfg->multiplier[oc], -cfg->shift[oc])
                : asc_requantize(acc, cfg->multiplier[oc], cfg->shift[oc]))
          + cfg->out_zero_point;
    acc = fast == 2 ? ASC_SAT8(acc) : asc_clamp(acc, cfg->act_min, cfg->act_max);
    return has_add ? asc_add_one(add, acc, residual[oc]) : (int8_t)acc;
}

/* The full groups of 4 taps of two channels (weight rows wa and wa + taps) against the two
 * pixels' columns: acc[0..3] = (pixel 0, channel a), (0, b), (1, a), (1, b). */
ASC_INLINE void dot_groups(const int8_t *wa, int32_t taps, const int16_t *col, int32_t full,
                           int32_t acc[4])
{
    int32_t a00 = acc[0];
    int32_t a01 = acc[1];
    int32_t a10 = acc[2];
    int32_t a11 = acc[3];
#if ASC_M4_ASM
    if (full > 0) {
        /* one group of 4 taps: 2 weight words, 2 column word pairs, 8 SMLADs; two groups a pass
         * when their count is even */
#define ASC_CONVP_GROUP                                                                          \
        "ldr %[va], [%[w]], #4\n\t"                                                              \
        "ldr %[vb], [%[w], %[st]]\n\t"                                                           \
        "ldrd %[x], %[y], [%[c]], #16\n\t"                                                       \
        "sxtb16 %[t], %[va]\n\t"                                                                 \
        "smlad %[a00], %[x], %[t], %[a00]\n\t"                                                   \
        "smlad %[a10], %[y], %[t], %[a10]\n\t"                                                   \
        "sxtb16 %[t], %[vb]\n\t"                                                                 \
        "smlad %[a01], %[x], %[t], %[a01]\n\t"                                                   \
        "smlad %[a11], %[y], %[t], %[a11]\n\t"                                                   \
        "ldrd %[x], %[y], [%[c], #-8]\n\t"                                                       \
        "sxtb16 %[va], %[va], ror #8\n\t"                                                        \
        "smlad %[a00], %[x], %[va], %[a00]\n\t"                                                  \
        "smlad %[a10], %[y], %[va], %[a10]\n\t"                                                  \
        "sxtb16 %[vb], %[vb], ror #8\n\t"                                                        \
        "smlad %[a01], %[x], %[vb], %[a01]\n\t"                                                  \
        "smlad %[a11], %[y], %[vb], %[a11]\n\t"
#define ASC_CONVP_OPERANDS                                                                       \
        : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [w] "+r"(wa),     \
          [c] "+r"(col), [va] "=&r"(va), [vb] "=&r"(vb), [t] "=&r"(t), [x] "=&r"(x),           \
          [y] "=&r"(y)                                                                          \
        : [st] "r"(stride), [end] "r"(end)                                                      \
        : "cc", "memory"
        const int16_t *end = col + 2 * full;
        const int32_t stride = taps - 4;
        int32_t va;
        int32_t vb;
        int32_t t;
        int32_t x;
        int32_t y;
        if (full & 4) {
            __asm__("1:\n\t" ASC_CONVP_GROUP "cmp %[c], %[end]\n\tbne 1b" ASC_CONVP_OPERANDS);
        } else {
            __asm__("1:\n\t" ASC_CONVP_GROUP ASC_CONVP_GROUP "cmp %[c], %[end]\n\tbne 1b"
                    ASC_CONVP_OPERANDS);
        }
#undef ASC_CONVP_OPERANDS
#undef ASC_CONVP_GROUP
    }
#else
    int32_t g;
    for (g = 0; g < full; g += 4) {
        const int32_t va = asc_ld32(wa + g);
        const int32_t vb = asc_ld32(wa + taps + g);
        int32_t x = asc_ld32(col);
        int32_t y = asc_ld32(col + 2);
        int32_t t = ASC_SXTB16(va);
        a00 = ASC_SMLAD(x, t, a00);
        a10 = ASC_SMLAD(y, t, a10);
        t = ASC_SXTB16(vb);
        a01 = ASC_SMLAD(x, t, a01);
        a11 = ASC_SMLAD(y, t, a11);
        x = asc_ld32(col + 4);
        y = asc_ld32(col + 6);
        t = ASC_SXTB16_ROR8(va);
        a00 = ASC_SMLAD(x, t, a00);
        a10 = ASC_SMLAD(y, t, a10);
        t = ASC_SXTB16_ROR8(vb);
        a01 = ASC_SMLAD(x, t, a01);
        a11 = ASC_SMLAD(y, t, a11);
        col += 8;
    }
#endif
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* Output channels oc (and oc + 1 when ``two``) of two output pixels (pixel 1 stored when
 * ``both``): a matrix product of their weight rows and the scratch columns. ``two`` and ``both``
 * are constants in each instance. An odd last channel pairs with itself: its row again, no
 * read past the weights. */
ASC_INLINE void conv_channels(const asc_convp_cfg *cfg, int32_t fast, int has_add, int two,
                              int both, const int8_t *weights, const uint8_t *bias_le,
                              const int16_t *col, const asc_add_cfg *add, const int8_t *res0,
                              const int8_t *res1, int8_t *out0, int8_t *out1, int32_t oc)
{
    const int32_t taps = (int32_t)cfg->k_h * cfg->k_w * cfg->in_c;
    const int32_t full = taps & ~3;
    const int8_t *wa = weights + oc * taps;
    const int32_t ba = asc_load_i32_le(bias_le + 4 * oc);
    const int32_t bb = two ? asc_load_i32_le(bias_le + 4 * oc + 4) : 0;
    int32_t acc[4];
    int32_t t;
    acc[0] = ba;
    acc[1] = bb;
    acc[2] = ba;
    acc[3] = bb;
    dot_groups(wa, two ? taps : 0, col, full, acc);
    if (full < taps) {
        /* the last, partial group: its weight bytes gathered into words (the columns hold
         * zeros past the last tap), no read past the row */
        const int8_t *wb = two ? wa + taps : wa;
        uint32_t va = 0;
        uint32_t vb = 0;
        const int16_t *c = col + 2 * full;
        for (t = taps - 1; t >= full; --t) {
            va = (va << 8) | (uint8_t)wa[t];
            vb = (vb << 8) | (uint8_t)wb[t];
        }
        acc[0] = ASC_SMLAD(asc_ld32(c), ASC_SXTB16((int32_t)va), acc[0]);
        acc[0] = ASC_SMLAD(asc_ld32(c + 4), ASC_SXTB16_ROR8((int32_t)va), acc[0]);
        acc[1] = ASC_SMLAD(asc_ld32(c), ASC_SXTB16((int32_t)vb), acc[1]);
        acc[1] = ASC_SMLAD(asc_ld32(c + 4), ASC_SXTB16_ROR8((int32_t)vb), acc[1]);
        acc[2] = ASC_SMLAD(asc_ld32(c + 2), ASC_SXTB16((int32_t)va), acc[2]);
        acc[2] = ASC_SMLAD(asc_ld32(c + 6), ASC_SXTB16_ROR8((int32_t)va), acc[2]);
        acc[3] = ASC_SMLAD(asc_ld32(c + 2), ASC_SXTB16((int32_t)vb), acc[3]);
        acc[3] = ASC_SMLAD(asc_ld32(c + 6), ASC_SXTB16_ROR8((int32_t)vb), acc[3]);
    }
    out0[oc] = finish(cfg, fast, has_add, acc[0], oc, add, res0);
    if (both) {
        out1[oc] = finish(cfg, fast, has_add, acc[2], oc, add, res1);
    }
    if (two) {
        out0[oc + 1] = finish(cfg, fast, has_add, acc[1], oc + 1, add, res0);
        if (both) {
            out1[oc + 1] = finish(cfg, fast, has_add, acc[3], oc + 1, add, res1);
        }
    }
}

/* Two output pixels, every output channel, two channels per pass (the last one alone when
 * out_c is odd). ``both`` (a constant): pixel 1 is stored; else it is a copy of pixel 0. */
ASC_INLINE void conv_pair(const asc_convp_cfg *cfg, int32_t fast, int has_add, int both,
                          const int8_t *weights, const uint8_t *bias_le, const int16_t *col,
                          const asc_add_cfg *add, const int8_t *res0, const int8_t *res1,
                          int8_t *out0, int8_t *out1)
{
    const int32_t out_c = cfg->out_c;
    int32_t oc;
    for (oc = 0; oc + 2 <= out_c; oc += 2) {
        conv_channels(cfg, fast, has_add, 1, both, weights, bias_le, col, add, res0, res1, out0,
                      out1, oc);
    }
    if (oc < out_c) {
        conv_channels(cfg, fast, has_add, 0, both, weights, bias_le, col, add, res0, res1, out0,
                      out1, oc);
    }
}

/* The DSP path: output pixels two at a time through the scratch columns. */
ASC_INLINE void convp_dsp(const asc_convp_cfg *layer, int32_t fast, int has_add,
                          const int8_t *weights, const uint8_t *bias_le, const int8_t *input,
                          const asc_add_cfg *add, const int8_t *residual, int8_t *output,
                          int16_t *col)
{
    /* local copies: the byte stores below cannot change them, so fields stay in registers */
    const asc_convp_cfg local = *layer;
    const asc_convp_cfg *cfg = &local;
    const int32_t pixels = (int32_t)cfg->out_h * cfg->out_w;
    /* has_add 2: the pair's convolution outputs go to the scratch after the columns, then the
     * ADD runs over them in a loop of its own (its constants in registers) */
    int8_t *sums = (int8_t *)(col + ASC_CONVP_COLUMNS(cfg->k_h, cfg->k_w, cfg->in_c));
    asc_add_cfg add_local;
    int32_t n;
    if (has_add) {
        add_local = *add;
        add = &add_local;
    }
    for (n = 0; n < pixels; n += 2) {
        const int two = n + 1 < pixels;
        const int32_t at = n * cfg->out_c;
        int32_t k;
        for (k = 0; k < 2; ++k) {
            const int32_t m = two ? n + k : n;
            const int32_t oy = m / cfg->out_w;
            const int32_t ox = m % cfg->out_w;
            im2col(cfg, input, oy * cfg->stride_h - cfg->pad_top, ox * cfg->stride_w - cfg->pad_left,
                   col, k);
        }
        if (has_add == 2) {
            int32_t i;
            if (two) {
                conv_pair(cfg, fast, 0, 1, weights, bias_le, col, NULL, NULL, NULL, sums,
                          sums + cfg->out_c);
            } else {
                conv_pair(cfg, fast, 0, 0, weights, bias_le, col, NULL, NULL, NULL, sums, NULL);
            }
            for (i = 0; i < (1 + two) * cfg->out_c; ++i) {
                output[at + i] = asc_add_one_fast(add, sums[i], residual[at + i]);
            }
        } else if (two) {
            conv_pair(cfg, fast, has_add, 1, weights, bias_le, col, add,
                      has_add ? residual + at : NULL, has_add ? residual + at + cfg->out_c : NULL,
                      output + at, output + at + cfg->out_c);
        } else {
            conv_pair(cfg, fast, has_add, 0, weights, bias_le, col, add,
                      has_add ? residual + at : NULL, NULL, output + at, NULL);
        }
    }
}

static void convp_dsp_fast(const asc_convp_cfg *cfg, const int8_t *weights,
                           const uint8_t *bias_le, const int8_t *input, int8_t *output,
                           int16_t *col)
{
    if (cfg->act_min == -128 && cfg->act_max == 127) {
        convp_dsp(cfg, 2, 0, weights, bias_le, input, NULL, NULL, output, col);
    } else {
        convp_dsp(cfg, 1, 0, weights, bias_le, input, NULL, NULL, output, col);
    }
}

static void convp_dsp_any(const asc_convp_cfg *cfg, const int8_t *weights,
                          const uint8_t *bias_le, const int8_t *input, const asc_add_cfg *add,
                          const int8_t *residual, int8_t *output, int16_t *col)
{
    if (add && cfg->fast_rq && asc_add_fast_ok(add) && cfg->act_min == -128 && cfg->act_max == 127) {
        convp_dsp(cfg, 2, 2, weights, bias_le, input, add, residual, output, col);
    } else if (add && cfg->fast_rq && asc_add_fast_ok(add)) {
        convp_dsp(cfg, 1, 2, weights, bias_le, input, add, residual, output, col);
    } else if (add) {
        convp_dsp(cfg, cfg->fast_rq, 1, weights, bias_le, input, add, residual, output, col);
    } else {
        convp_dsp(cfg, 0, 0, weights, bias_le, input, NULL, NULL, output, col);
    }
}
#endif

void asc_convp_s8(const asc_convp_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                  const int8_t *input, const asc_add_cfg *add, const int8_t *residual,
                  int8_t *output, int16_t *scratch)
{
    int oy;
    int ox;
#if ASC_USE_DSP
    if (scratch && cfg->fast_rq && !add) {
        convp_dsp_fast(cfg, weights, bias_le, input, output, scratch);
        return;
    }
    if (scratch) {
        convp_dsp_any(cfg, weights, bias_le, input, add, residual, output, scratch);
        return;
    }
#else
    (void)scratch;
#endif
    for (oy = 0; oy < cfg->out_h; ++oy) {
        for (ox = 0; ox < cfg->out_w; ++ox) {
            const int32_t at = ((int32_t)oy * cfg->out_w + ox) * cfg->out_c;
            conv_pixel(cfg, weights, bias_le, input, (int32_t)oy * cfg->stride_h - cfg->pad_top,
                       (int32_t)ox * cfg->stride_w - cfg->pad_left, add,
                       residual ? residual + at : NULL, output + at);
        }
    }
}
