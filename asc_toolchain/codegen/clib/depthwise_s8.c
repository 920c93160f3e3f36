/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Depthwise convolution with any padding, stride, dilation and depth multiplier, reference
 * arithmetic. Weights [k_h][k_w][out_c]; output channel oc reads input channel oc / depth_mult.
 * On a DSP core (depth multiplier 1, channels a multiple of 4) four channels a pass with
 * halfword multiply-accumulates: the same sums; through the scratch when given (any kernel),
 * else reading the input in place (kernels up to 5x5). */

#include <string.h>

#include "asc_kernels.h"

static int32_t dw_acc(const asc_convp_cfg *cfg, const int8_t *weights, const int8_t *input,
                      int32_t y0, int32_t x0, const asc_taps *t, int oc)
{
    const int32_t ic = oc / cfg->depth_mult;
    int32_t acc = 0;
    int32_t ky;
    int32_t kx;
    for (ky = t->y_lo; ky < t->y_hi; ++ky) {
        const int32_t y = y0 + ky * cfg->dil_h;
        for (kx = t->x_lo; kx < t->x_hi; ++kx) {
            const int32_t x = x0 + kx * cfg->dil_w;
            acc += ((int32_t)input[(y * cfg->in_w + x) * cfg->in_c + ic] + cfg->in_offset)
                   * (int32_t)weights[(ky * cfg->k_w + kx) * cfg->out_c + oc];
        }
    }
    return acc;
}

#if ASC_USE_DSP
#define DW_MAX_TAPS 25      /* kernels up to 5x5 take the DSP path */

/* One output of the DSP path: requantized and clamped. ``fast`` (a constant in each instance):
 * 0 the reference arithmetic; 1 the one-rounding form; 2-4 that with the clamp as SSAT and
 * branch-free max/min (2: the whole int8 range, 3: [lo, 127], 4: [lo, hi]). */
ASC_INLINE int8_t dw_clamp(int32_t fast, int32_t v, int32_t lo, int32_t hi)
{
    if (fast >= 2) {        /* 2: the whole int8 range; 3: [lo, 127]; 4: [lo, hi] */
        v = ASC_SAT8(v);
        v = fast >= 3 ? asc_max(v, lo) : v;
        v = fast == 4 ? asc_min(v, hi) : v;
    } else {
        v = asc_clamp(v, lo, hi);
    }
    return (int8_t)v;
}

ASC_INLINE int8_t dw_out(int32_t fast, int32_t acc, int32_t m, int32_t shift, int32_t zp,
                         int32_t lo, int32_t hi)
{
    return dw_clamp(fast, (fast ? asc_rq(acc, m, -shift) : asc_requantize(acc, m, (int)shift)) + zp,
                    lo, hi);
}

/* Channels [c, c + 4) of the whole output. Their weights are sign-extended once into halfword
 * pairs (channels 0/2 and 1/3 of each tap); per tap one word of input is extended the same way
 * with the input offset added, and each lane multiplied and accumulated. */
ASC_INLINE void dw_tap(const int8_t *src, const int32_t *w, int32_t off2, int32_t *a0,
                       int32_t *a1, int32_t *a2, int32_t *a3)
{
    const int32_t v = asc_ld32(src);
    const int32_t x02 = ASC_SXTAB16(off2, v);
    const int32_t x13 = ASC_SXTAB16_ROR8(off2, v);
    *a0 = ASC_SMLABB(x02, w[0], *a0);
    *a2 = ASC_SMLATT(x02, w[0], *a2);
    *a1 = ASC_SMLABB(x13, w[1], *a1);
    *a3 = ASC_SMLATT(x13, w[1], *a3);
}

/* One tap of four channels from the plane: x02/x13 the channel pairs of the input (offset
 * added), w their weights. */
ASC_INLINE void dw_pair(int32_t x02, int32_t x13, const int32_t *w, int32_t *a0, int32_t *a1,
                        int32_t *a2, int32_t *a3)
{
    *a0 = ASC_SMLABB(x02, w[0], *a0);
    *a2 = ASC_SMLATT(x02, w[0], *a2);
    *a1 = ASC_SMLABB(x13, w[1], *a1);
    *a3 = ASC_SMLATT(x13, w[1], *a3);
}

/* The nine taps of a 3x3 kernel from three plane rows (r0, r1, r2 at the pixel's first
 * column): per tap two doubleword loads (input pairs, weight pairs) and four multiply-
 * accumulates, in assembly in optimized target builds (immediate offsets; the compiler would
 * spill). */
ASC_INLINE void dw_taps33(const int32_t *r0, const int32_t *r1, const int32_t *r2,
                          const int32_t *wx, int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3)
{
#if ASC_M4_ASM
#define ASC_DW_TAP(ROW, X, W)                                                                      \
    "ldrd %[x02], %[x13], [%[" ROW "], #" X "]\n\t"                                              \
    "ldrd %[w02], %[w13], [%[wx], #" W "]\n\t"                                                   \
    "smlabb %[a0], %[x02], %[w02], %[a0]\n\t"                                                    \
    "smlatt %[a2], %[x02], %[w02], %[a2]\n\t"                                                    \
    "smlabb %[a1], %[x13], %[w13], %[a1]\n\t"                                                    \
    "smlatt %[a3], %[x13], %[w13], %[a3]\n\t"
    int32_t x02;
    int32_t x13;
    int32_t w02;
    int32_t w13;
    __asm__(ASC_DW_TAP("r0", "0", "0") ASC_DW_TAP("r0", "8", "8") ASC_DW_TAP("r0", "16", "16")
            ASC_DW_TAP("r1", "0", "24") ASC_DW_TAP("r1", "8", "32") ASC_DW_TAP("r1", "16", "40")
            ASC_DW_TAP("r2", "0", "48") ASC_DW_TAP("r2", "8", "56") ASC_DW_TAP("r2", "16", "64")
            : [a0] "+r"(*a0), [a1] "+r"(*a1), [a2] "+r"(*a2), [a3] "+r"(*a3), [x02] "=&r"(x02),
              [x13] "=&r"(x13), [w02] "=&r"(w02), [w13] "=&r"(w13)
            : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [wx] "r"(wx)
            : "memory");
#undef ASC_DW_TAP
#else
    int32_t k;
    for (k = 0; k < 3; ++k) {
        dw_pair(r0[2 * k], r0[2 * k + 1], wx + 2 * k, a0, a1, a2, a3);
        dw_pair(r1[2 * k], r1[2 * k + 1], wx + 6 + 2 * k, a0, a1, a2, a3);
        dw_pair(r2[2 * k], r2[2 * k + 1], wx + 12 + 2 * k, a0, a1, a2, a3);
    }
#endif
}

/* Channels [c, c + 4) of a layer: their biases into b[0..3] and their weights as halfword pairs
 * (channels 0/2 and 1/3 of each tap) into wx[2 * tap], wx[2 * tap + 1]. */
static void dw_group_constants(const asc_convp_cfg *cfg, const int8_t *weights,
                               const uint8_t *bias_le, int32_t c, int32_t *b, int32_t *wx)
{
    const int32_t kk = (int32_t)cfg->k_h * cfg->k_w;
    int32_t k;
    for (k = 0; k < 4; ++k) {
        b[k] = asc_load_i32_le(bias_le + 4 * (c + k));
    }
    for (k = 0; k < kk; ++k) {
        const int32_t v = asc_ld32(weights + k * cfg->out_c + c);
        wx[2 * k] = ASC_SXTB16(v);
        wx[2 * k + 1] = ASC_SXTB16_ROR8(v);
    }
}

/* kw3: a constant in each instance, 1 when the kernel is 3 wide without dilation, so a full row
 * of taps is three straight-line steps; 2 when it is also 3 high without dilation, so a pixel
 * whose taps are all inside is nine. */
ASC_INLINE void dw_group(const asc_convp_cfg *cfg, int32_t fast, int kw3, const int8_t *weights,
                         const uint8_t *bias_le, const int8_t *input, int8_t *output, int32_t c)
{
    const int32_t ch = cfg->out_c;
    const int32_t off2 = asc_offset2(cfg);
    const int32_t step_x = (int32_t)cfg->dil_w * ch;
    const int32_t span_x = ((int32_t)cfg->k_w - 1) * cfg->dil_w;
    const int32_t zp = cfg->out_zero_point;
    const int32_t lo = cfg->act_min;
    const int32_t hi = cfg->act_max;
    const int32_t m0 = cfg->multiplier[c];
    const int32_t m1 = cfg->multiplier[c + 1];
    const int32_t m2 = cfg->multiplier[c + 2];
    const int32_t m3 = cfg->multiplier[c + 3];
    const int32_t s0 = cfg->shift[c];
    const int32_t s1 = cfg->shift[c + 1];
    const int32_t s2 = cfg->shift[c + 2];
    const int32_t s3 = cfg->shift[c + 3];
    int32_t b[4];
    int32_t wx[2 * DW_MAX_TAPS];
    int32_t oy;
    int32_t ox;
    dw_group_constants(cfg, weights, bias_le, c, b, wx);
    for (oy = 0; oy < cfg->out_h; ++oy) {
        const int32_t y0 = oy * cfg->stride_h - cfg->pad_top;
        int32_t y_lo;
        int32_t y_hi;
        int8_t *out = output + oy * cfg->out_w * ch + c;
        asc_tap_range(y0, cfg->dil_h, cfg->k_h, cfg->in_h, &y_lo, &y_hi);
        for (ox = 0; ox < cfg->out_w; ++ox, out += ch) {
            const int32_t x0 = ox * cfg->stride_w - cfg->pad_left;
            int32_t x_lo = 0;
            int32_t x_hi = cfg->k_w;
            int32_t a0 = b[0];
            int32_t a1 = b[1];
            int32_t a2 = b[2];
            int32_t a3 = b[3];
            int32_t ky;
            if (x0 < 0 || x0 + span_x >= cfg->in_w) {
                asc_tap_range(x0, cfg->dil_w, cfg->k_w, cfg->in_w, &x_lo, &x_hi);
            }
            if (kw3 == 2 && y_hi - y_lo == 3 && x_hi - x_lo == 3) {
                /* a 3x3 kernel without dilation, every tap inside: nine straight-line steps */
                const int32_t row = cfg->in_w * ch;
                const int8_t *src = input + (y0 * cfg->in_w + x0) * ch + c;
                dw_tap(src, wx, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + ch, wx + 2, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + 2 * ch, wx + 4, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + row, wx + 6, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + row + ch, wx + 8, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + row + 2 * ch, wx + 10, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + 2 * row, wx + 12, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + 2 * row + ch, wx + 14, off2, &a0, &a1, &a2, &a3);
                dw_tap(src + 2 * row + 2 * ch, wx + 16, off2, &a0, &a1, &a2, &a3);
                ky = y_hi;      /* done: the row loop below runs no row */
            } else {
                ky = y_lo;
            }
            for (; ky < y_hi; ++ky) {
                const int8_t *src = input + ((y0 + ky * cfg->dil_h) * cfg->in_w + x0) * ch + c
                                    + x_lo * step_x;
                const int32_t *w = wx + 2 * (ky * (kw3 ? 3 : cfg->k_w) + x_lo);
                const int32_t *w_end = w + 2 * (x_hi - x_lo);
                if (kw3 && x_hi - x_lo == 3) {
                    dw_tap(src, w, off2, &a0, &a1, &a2, &a3);
                    dw_tap(src + ch, w + 2, off2, &a0, &a1, &a2, &a3);
                    dw_tap(src + 2 * ch, w + 4, off2, &a0, &a1, &a2, &a3);
                    continue;
                }
                for (; w < w_end; w += 2, src += step_x) {
                    dw_tap(src, w, off2, &a0, &a1, &a2, &a3);
                }
            }
            out[0] = dw_out(fast, a0, m0, s0, zp, lo, hi);
            out[1] = dw_out(fast, a1, m1, s1, zp, lo, hi);
            out[2] = dw_out(fast, a2, m2, s2, zp, lo, hi);
            out[3] = dw_out(fast, a3, m3, s3, zp, lo, hi);
        }
    }
}

/* The plane's rows [y_lo, y_hi) and columns [x_lo, x_hi) that hold input pixels (the rest is
 * padding), the same for every group of channels. */
static asc_taps dw_inside(const asc_convp_cfg *cfg)
{
    const int32_t ph = ASC_DW_PLANE_H(cfg);
    const int32_t pw = ASC_DW_PLANE_W(cfg);
    asc_taps t;
    t.x_lo = cfg->pad_left < pw ? cfg->pad_left : pw;
    t.x_hi = cfg->pad_left + cfg->in_w < pw ? cfg->pad_left + cfg->in_w : pw;
    t.y_lo = cfg->pad_top < ph ? cfg->pad_top : ph;
    t.y_hi = cfg->pad_top + cfg->in_h < ph ? cfg->pad_top + cfg->in_h : ph;
    return t;
}

/* The depthwise table in the scratch after the plane (words): biases of the 4 channels, then
 * the weights as pairs (DW_WX: 2 per tap). */
#define DW_WX 4

#if ASC_M4_ASM
/* 3x3, stride 1, no dilation, on the target: one channel at a time through a column-major
 * plane (each plane column int16 down the input's height, input offset added, zero in the
 * padding), four outputs down a column per assembly pass. A column's halfword pairs are
 * vertical neighbours, so with the weights of a kernel column as pairs (w0, w1) and (w1, w2)
 * the four outputs take two multiply-accumulates each per kernel column from three words:
 * out y = (p0 p1).(w0 w1) + p2 w2, out y+1 = p1 w0 + (p2 p3).(w1 w2), and so on. */
typedef struct {
    int32_t bias;               /* 0 */
    int32_t m, half, e;         /* 4, 8, 12: asc_rq_fold's table (zero point folded in) */
    int32_t lo, hi;             /* 16, 20 */
    int8_t *out;                /* 24: the column's next output (advanced by the assembly) */
    int32_t stride;             /* 28: bytes from one output row to the next */
    int32_t pitch;              /* 32: bytes from one plane column to the next */
    int32_t w[6];               /* 36: per kernel column (w0, w1) and (w1, w2) as int16 pairs */
} dwc_args;

#define DWC_COL(R, K)                                                                              \
    "ldr r7, [" R "], #8\n\t"                                                                     \
    "ldr r8, [" R ", #-4]\n\t"                                                                    \
    "ldr r9, [" R "]\n\t"                                                                         \
    "ldr r10, [r12, #(36 + 8 * " #K ")]\n\t"                                                      \
    "ldr r11, [r12, #(40 + 8 * " #K ")]\n\t"                                                      \
    "smlad r3, r7, r10, r3\n\t"                                                                   \
    "smlabt r3, r8, r11, r3\n\t"                                                                  \
    "smlatb r4, r7, r10, r4\n\t"                                                                  \
    "smlad r4, r8, r11, r4\n\t"                                                                   \
    "smlad r5, r8, r10, r5\n\t"                                                                   \
    "smlabt r5, r9, r11, r5\n\t"                                                                  \
    "smlatb r6, r8, r10, r6\n\t"                                                                  \
    "smlad r6, r9, r11, r6\n\t"
#define DWC_OUT(A, LO, HI)                                                                         \
    ASC_RQ_ASM(A, "r7", "r8", "r9")                                                                \
    ".if " #LO "\n\t" ASC_MAX_ASM(A, "r10") ".endif\n\t"                                           \
    ".if " #HI "\n\t" ASC_MIN_ASM(A, "r11") ".endif\n\t"
/* n passes of four outputs down plane column ``col`` (and the two columns after it). Registers:
 * r0-r2 the three columns, r3-r6 the accumulators, r7-r9 the words of a column (then the
 * requantization's operands), r10-r11 the weight pairs (then lo, hi), r12 the arguments, lr the
 * count. */
#define DWC_COLUMN(NAME, LO, HI)                                                                   \
    __attribute__((naked, noinline, unused)) static void NAME(                                     \
        __attribute__((unused)) dwc_args *args, __attribute__((unused)) const int16_t *col,         \
        __attribute__((unused)) int32_t n)                                                         \
    {                                                                                              \
        __asm__("push {r4-r11, lr}\n\t"                                                           \
                "mov r12, r0\n\t"                                                                 \
                "mov lr, r2\n\t"                                                                  \
                "mov r0, r1\n\t"                                                                  \
                "ldr r3, [r12, #32]\n\t"                                                          \
                "add r1, r0, r3\n\t"                                                              \
                "add r2, r1, r3\n"                                                                 \
                "1:\n\t"                                                                          \
                "ldr r3, [r12]\n\t"                                                               \
                "mov r4, r3\n\t"                                                                  \
                "mov r5, r3\n\t"                                                                  \
                "mov r6, r3\n\t"                                                                  \
                DWC_COL("r0", 0) DWC_COL("r1", 1) DWC_COL("r2", 2)                                 \
                "ldr r7, [r12, #4]\n\t"                                                           \
                "ldr r8, [r12, #8]\n\t"                                                           \
                "ldr r9, [r12, #12]\n\t"                                                          \
                ".if " #LO "\n\t"                                                                 \
                "ldr r10, [r12, #16]\n\t"                                                         \
                ".endif\n\t"                                                                      \
                ".if " #HI "\n\t"                                                                 \
                "ldr r11, [r12, #20]\n\t"                                                         \
                ".endif\n\t"                                                                      \
                DWC_OUT("r3", LO, HI) DWC_OUT("r4", LO, HI)                                        \
                DWC_OUT("r5", LO, HI) DWC_OUT("r6", LO, HI)                                        \
                "ldr r10, [r12, #24]\n\t"                                                         \
                "ldr r11, [r12, #28]\n\t"                                                         \
                "add r7, r10, r11, lsl #1\n\t"                                                    \
                "strb r3, [r10]\n\t"                                                              \
                "strb r4, [r10, r11]\n\t"                                                         \
                "strb r5, [r7]\n\t"                                                               \
                "strb r6, [r7, r11]\n\t"                                                          \
                "add r10, r7, r11, lsl #1\n\t"                                                    \
                "subs lr, lr, #1\n\t"                                                             \
                "str r10, [r12, #24]\n\t"                                                         \
                "bne 1b\n\t"                                                                      \
                "pop {r4-r11, pc}\n\t");                                                          \
    }
DWC_COLUMN(dwc_column_sat, 0, 0)
DWC_COLUMN(dwc_column_lo, 1, 0)
DWC_COLUMN(dwc_column_lohi, 1, 1)
#undef DWC_COLUMN
#undef DWC_OUT
#undef DWC_COL

/* Channels [c, c + 4) into four column-major planes (``size`` int16 apart, columns ``cp`` int16
 * apart; their padding already zero): each input word of 4 channels extended once with the
 * offset added, its halfwords stored into the four planes. */
static void dwc_fill4(const asc_convp_cfg *cfg, const int8_t *input, int32_t c, int32_t cp,
                      int32_t size, int16_t *plane)
{
    const int32_t ch = cfg->out_c;
    const int32_t off2 = asc_offset2(cfg);
    const asc_taps t = dw_inside(cfg);
    const int32_t step = (int32_t)cfg->in_w * ch;
    int32_t px;
    for (px = t.x_lo; px < t.x_hi; ++px) {
        const int8_t *src = input + ((t.y_lo - cfg->pad_top) * cfg->in_w + px - cfg->pad_left) * ch
                            + c;
        int16_t *d = plane + px * cp + t.y_lo;
        int16_t *stop = plane + px * cp + t.y_hi;
        for (; d != stop; ++d, src += step) {
            const int32_t v = asc_ld32(src);
            const int32_t even = ASC_SXTAB16(off2, v);          /* channels 0 and 2 */
            const int32_t odd = ASC_SXTAB16_ROR8(off2, v);      /* channels 1 and 3 */
            d[0] = (int16_t)even;
            d[size] = (int16_t)odd;
            d[2 * size] = (int16_t)(even >> 16);
            d[3 * size] = (int16_t)(odd >> 16);
        }
    }
}

/* The last n (< 4) outputs of a column in C, from its plane (t: the first tap, the plane's
 * columns cp int16 apart). */
ASC_NOINLINE static void dwc_tail(const dwc_args *a, const int32_t *w9, const int16_t *t,
                                  int32_t cp, int32_t n, int8_t *out, int32_t fast)
{
    int32_t y;
    for (y = 0; y < n; ++y, ++t, out += a->stride) {
        const int32_t acc = a->bias + t[0] * w9[0] + t[1] * w9[3] + t[2] * w9[6]
                            + t[cp] * w9[1] + t[cp + 1] * w9[4] + t[cp + 2] * w9[7]
                            + t[2 * cp] * w9[2] + t[2 * cp + 1] * w9[5] + t[2 * cp + 2] * w9[8];
        *out = dw_clamp(fast, asc_rq_half(acc, a->m, a->e, a->half), a->lo, a->hi);
    }
}

/* Channel c's part of the arguments (bias, folded requantization, weight pairs of each kernel
 * column) and its nine weights in kernel order for the C rest. */
static void dwc_channel(const asc_convp_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                        int32_t c, dwc_args *a, int32_t *w9)
{
    const int32_t ch = cfg->out_c;
    int32_t rq[3] = {0, 0, 0};
    int32_t k;
    asc_rq_fold(cfg->multiplier[c], cfg->shift[c], cfg->out_zero_point, rq);
    a->bias = asc_load_i32_le(bias_le + 4 * c);
    a->m = rq[0];
    a->half = rq[1];
    a->e = rq[2];
    for (k = 0; k < 9; ++k) {
        w9[k] = weights[k * ch + c];
    }
    for (k = 0; k < 3; ++k) {
        a->w[2 * k] = (int32_t)((uint32_t)(uint16_t)w9[k] | (uint32_t)w9[3 + k] << 16);
        a->w[2 * k + 1] = (int32_t)((uint32_t)(uint16_t)w9[3 + k] | (uint32_t)w9[6 + k] << 16);
    }
}

/* The whole layer by columns (``fast`` 2-4 picks the clamp); 0, before anything is written,
 * where a channel's requantization cannot be folded (then the groups' path runs). The outputs
 * past the last whole pass of four in a column are computed here in C from the same plane. */
ASC_NOINLINE static int dw_columns(const asc_convp_cfg *cfg, int32_t fast,
                                   const int8_t *weights, const uint8_t *bias_le,
                                   const int8_t *input, int8_t *output, int16_t *plane)
{
    const int32_t ch = cfg->out_c;
    const int32_t cp = ASC_DW_COLUMN_H(cfg);
    const int32_t size = cp * ASC_DW_PLANE_W(cfg);
    const int32_t passes = cfg->out_h / 4;
    int32_t rq[3];
    int32_t w9[9];
    dwc_args a;
    int32_t c;
    int32_t x;
    int32_t k;
    for (c = 0; c < ch; ++c) {
        if (!asc_rq_fold(cfg->multiplier[c], cfg->shift[c], cfg->out_zero_point, rq)) {
            return 0;
        }
    }
    for (k = 0; k < 2 * size; ++k) {                     /* the padding of the four planes */
        ((int32_t *)(void *)plane)[k] = 0;
    }
    a.lo = cfg->act_min;
    a.hi = cfg->act_max;
    a.stride = (int32_t)cfg->out_w * ch;
    a.pitch = 2 * cp;
    for (c = 0; c < ch; ++c) {
        const int16_t *cplane = plane + (c & 3) * size;
        if ((c & 3) == 0) {
            dwc_fill4(cfg, input, c, cp, size, plane);
        }
        dwc_channel(cfg, weights, bias_le, c, &a, w9);
        for (x = 0; x < cfg->out_w; ++x) {
            const int16_t *col = cplane + x * cp;
            a.out = output + x * ch + c;
            if (passes && fast == 2) {
                dwc_column_sat(&a, col, passes);
            } else if (passes && fast == 3) {
                dwc_column_lo(&a, col, passes);
            } else if (passes) {
                dwc_column_lohi(&a, col, passes);
            }
            if (passes * 4 < cfg->out_h) {
                dwc_tail(&a, w9, col + 4 * passes, cp, cfg->out_h - 4 * passes,
                         output + (4 * passes * cfg->out_w + x) * ch + c, fast);
            }
        }
    }
    return 1;
}

#endif

/* Channels [c, c + 4) of the input into the plane: int16 pairs (channels 0/2 and 1/3 of each
 * pixel, input offset added). Plane rows [y_lo, y_hi) and columns [x_lo, x_hi) hold input
 * pixels, the same for every group of channels; the padding around them is zeroed once, with
 * the first group. */
static void dw_fill_plane(const asc_convp_cfg *cfg, const int8_t *input, int32_t c, int32_t *plane)
{
    const int32_t ch = cfg->out_c;
    const int32_t pw = ASC_DW_PLANE_W(cfg);
    const int32_t off2 = asc_offset2(cfg);
    const asc_taps t = dw_inside(cfg);
    int32_t py;
    if (c == 0) {
        memset(plane, 0, 8 * (size_t)ASC_DW_PLANE_H(cfg) * (size_t)pw);
    }
    for (py = t.y_lo; py < t.y_hi; ++py) {
        const int8_t *src = input + ((py - cfg->pad_top) * cfg->in_w + t.x_lo - cfg->pad_left) * ch
                            + c;
        int32_t *d = plane + 2 * (py * pw + t.x_lo);
        int32_t *stop = d + 2 * (t.x_hi - t.x_lo);
        for (; stop - d >= 4; d += 4, src += 2 * ch) {      /* two pixels a pass */
            const int32_t v = asc_ld32(src);
            const int32_t u = asc_ld32(src + ch);
            d[0] = ASC_SXTAB16(off2, v);
            d[1] = ASC_SXTAB16_ROR8(off2, v);
            d[2] = ASC_SXTAB16(off2, u);
            d[3] = ASC_SXTAB16_ROR8(off2, u);
        }
        if (d != stop) {
            const int32_t v = asc_ld32(src);
            d[0] = ASC_SXTAB16(off2, v);
            d[1] = ASC_SXTAB16_ROR8(off2, v);
        }
    }
}

/* Channels [c, c + 4) through the scratch: the padded input plane (dw_fill_plane), so every
 * output reads all its taps with two loads each and no edge cases; after it the table (biases,
 * weights as pairs). ``fast`` as in dw_out; k33: a 3x3 kernel without dilation (nine
 * straight-line taps). */
ASC_INLINE void dw_plane_group(const asc_convp_cfg *cfg, int32_t fast, int k33,
                               const int8_t *weights, const uint8_t *bias_le, const int8_t *input,
                               int8_t *output, int32_t c, int32_t *plane)
{
    const int32_t ch = cfg->out_c;
    const int32_t pw = ASC_DW_PLANE_W(cfg);
    const int32_t zp = cfg->out_zero_point;
    const int32_t lo = cfg->act_min;
    const int32_t hi = cfg->act_max;
    int32_t *table = plane + 2 * ASC_DW_PLANE_H(cfg) * pw;     /* biases, weight pairs */
    const int32_t *b = table;
    const int32_t *wx = table + DW_WX;
    int32_t rq[12];         /* per channel: multiplier, right shift, its rounding half */
    int32_t oy;
    int32_t k;
    dw_group_constants(cfg, weights, bias_le, c, table, table + DW_WX);
    for (k = 0; k < 4 && fast; ++k) {
        rq[3 * k] = cfg->multiplier[c + k];
        rq[3 * k + 1] = -cfg->shift[c + k];
        rq[3 * k + 2] = (int32_t)1 << (rq[3 * k + 1] - 1);
    }
    dw_fill_plane(cfg, input, c, plane);
    for (oy = 0; oy < cfg->out_h; ++oy) {
        const int32_t *row = plane + 2 * oy * cfg->stride_h * pw;
        int8_t *out = output + oy * cfg->out_w * ch + c;
        int32_t ox;
        for (ox = 0; ox < cfg->out_w; ++ox, out += ch, row += 2 * cfg->stride_w) {
            int32_t a0 = b[0];
            int32_t a1 = b[1];
            int32_t a2 = b[2];
            int32_t a3 = b[3];
            if (k33) {
                dw_taps33(row, row + 2 * pw, row + 4 * pw, wx, &a0, &a1, &a2, &a3);
            } else {
                int32_t ky;
                int32_t kx;
                for (ky = 0; ky < cfg->k_h; ++ky) {
                    const int32_t *src = row + 2 * ky * cfg->dil_h * pw;
                    for (kx = 0; kx < cfg->k_w; ++kx, src += 2 * cfg->dil_w) {
                        dw_pair(src[0], src[1], wx + 2 * (ky * cfg->k_w + kx), &a0, &a1, &a2, &a3);
                    }
                }
            }
            if (fast) {
                out[0] = dw_clamp(fast, asc_rq_half(a0, rq[0], rq[1], rq[2]) + zp, lo, hi);
                out[1] = dw_clamp(fast, asc_rq_half(a1, rq[3], rq[4], rq[5]) + zp, lo, hi);
                out[2] = dw_clamp(fast, asc_rq_half(a2, rq[6], rq[7], rq[8]) + zp, lo, hi);
                out[3] = dw_clamp(fast, asc_rq_half(a3, rq[9], rq[10], rq[11]) + zp, lo, hi);
            } else {
                out[0] = dw_out(0, a0, cfg->multiplier[c], cfg->shift[c], zp, lo, hi);
                out[1] = dw_out(0, a1, cfg->multiplier[c + 1], cfg->shift[c + 1], zp, lo, hi);
                out[2] = dw_out(0, a2, cfg->multiplier[c + 2], cfg->shift[c + 2], zp, lo, hi);
                out[3] = dw_out(0, a3, cfg->multiplier[c + 3], cfg->shift[c + 3], zp, lo, hi);
            }
        }
    }
}

static void dw_plane(const asc_convp_cfg *layer, const int8_t *weights, const uint8_t *bias_le,
                     const int8_t *input, int8_t *output, int16_t *scratch)
{
    const asc_convp_cfg local = *layer;
    const int k33 = local.k_w == 3 && local.dil_w == 1 && local.k_h == 3 && local.dil_h == 1;
    const int32_t fast = !local.fast_rq ? 0
                         : (local.act_min == -128 && local.act_max == 127) ? 2
                         : local.act_max == 127 ? 3 : 4;
    int32_t *plane = (int32_t *)(void *)scratch;
    int32_t c;
#if ASC_M4_ASM
    if (k33 && fast >= 2 && local.stride_h == 1 && local.stride_w == 1
        && dw_columns(&local, fast, weights, bias_le, input, output, scratch)) {
        return;
    }
#endif
    for (c = 0; c < local.out_c; c += 4) {
        if (k33 && fast == 2) {
            dw_plane_group(&local, 2, 1, weights, bias_le, input, output, c, plane);
        } else if (k33 && fast == 3) {
            dw_plane_group(&local, 3, 1, weights, bias_le, input, output, c, plane);
        } else if (k33 && fast == 4) {
            dw_plane_group(&local, 4, 1, weights, bias_le, input, output, c, plane);
        } else if (fast) {
            dw_plane_group(&local, 1, 0, weights, bias_le, input, output, c, plane);
        } else {
            dw_plane_group(&local, 0, 0, weights, bias_le, input, output, c, plane);
        }
    }
}

/* The DSP path: depth multiplier 1, channels a multiple of 4, at most DW_MAX_TAPS taps; four
 * channels per pass over the whole output. */
static void dw_dsp(const asc_convp_cfg *layer, const int8_t *weights, const uint8_t *bias_le,
                   const int8_t *input, int8_t *output)
{
    /* a local copy: the byte stores cannot change it, so its fields stay in registers */
    const asc_convp_cfg local = *layer;
    const int kw3 = local.k_w == 3 && local.dil_w == 1;
    const int k33 = kw3 && local.k_h == 3 && local.dil_h == 1;
    const int sat = local.act_min == -128 && local.act_max == 127;
    int32_t c;
    for (c = 0; c < local.out_c; c += 4) {
        if (local.fast_rq && k33 && sat) {
            dw_group(&local, 2, 2, weights, bias_le, input, output, c);
        } else if (local.fast_rq && kw3 && sat) {
            dw_group(&local, 2, 1, weights, bias_le, input, output, c);
        } else if (local.fast_rq) {
            dw_group(&local, 1, 0, weights, bias_le, input, output, c);
        } else {
            dw_group(&local, 0, 0, weights, bias_le, input, output, c);
        }
    }
}
#endif

void asc_dwconv_s8(const asc_convp_cfg *cfg, const int8_t *weights, const uint8_t *bias_le,
                   const int8_t *input, int8_t *output, int16_t *scratch)
{
    int oy;
    int ox;
    int oc;
#if ASC_USE_DSP
    if (scratch && cfg->depth_mult == 1 && (cfg->out_c & 3) == 0) {
        dw_plane(cfg, weights, bias_le, input, output, scratch);
        return;
    }
    if (cfg->depth_mult == 1 && (cfg->out_c & 3) == 0 && (int32_t)cfg->k_h * cfg->k_w <= DW_MAX_TAPS) {
        dw_dsp(cfg, weights, bias_le, input, output);
        return;
    }
#else
    (void)scratch;
#endif
    for (oy = 0; oy < cfg->out_h; ++oy) {
        for (ox = 0; ox < cfg->out_w; ++ox) {
            const int32_t y0 = (int32_t)oy * cfg->stride_h - cfg->pad_top;
            const int32_t x0 = (int32_t)ox * cfg->stride_w - cfg->pad_left;
            const asc_taps t = asc_taps_at(cfg, y0, x0);
            for (oc = 0; oc < cfg->out_c; ++oc) {
                int32_t acc = asc_load_i32_le(bias_le + 4 * oc)
                              + dw_acc(cfg, weights, input, y0, x0, &t, oc);
                acc = asc_requantize(acc, cfg->multiplier[oc], cfg->shift[oc]) + cfg->out_zero_point;
                *output++ = (int8_t)asc_clamp(acc, cfg->act_min, cfg->act_max);
            }
        }
    }
}
