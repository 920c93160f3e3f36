/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */

/* Convolution with any padding, stride and dilation. The reference arithmetic applies the input
 * offset per tap, so taps in the padding contribute nothing (TFLite's definition of padding).
 * Weights are int16 in the matrix-product order of asc_kernels.h (ASC_CONVP_WEIGHT). On a DSP
 * core, given scratch, the same sums as a matrix product: the taps of three output pixels into
 * int16 columns (offset added, zero in the padding), then three pixels x two output channels per
 * pass with SMLAD (the inner loop in assembly on the target). */

#include <string.h>

#include "asc_kernels.h"

/* One output pixel, every output channel. */
static void conv_pixel(const asc_convp_cfg *cfg, const int16_t *weights, const uint8_t *bias_le,
                       const int8_t *input, int32_t y0, int32_t x0, const asc_add_cfg *add,
                       const int8_t *residual, int8_t *out)
{
    const int32_t groups = ASC_CONVP_GROUPS(cfg->k_h, cfg->k_w, cfg->in_c);
    const asc_taps t = asc_taps_at(cfg, y0, x0);
    int oc;
    for (oc = 0; oc < cfg->out_c; ++oc) {
        int32_t acc = asc_load_i32_le(bias_le + 4 * oc);
        int32_t ky;
        int32_t kx;
        int32_t c;
        for (ky = t.y_lo; ky < t.y_hi; ++ky) {
            const int32_t y = y0 + ky * cfg->dil_h;
            for (kx = t.x_lo; kx < t.x_hi; ++kx) {
                const int8_t *x = input + (y * cfg->in_w + x0 + kx * cfg->dil_w) * cfg->in_c;
                const int32_t tap = (ky * cfg->k_w + kx) * cfg->in_c;
                for (c = 0; c < cfg->in_c; ++c) {
                    acc += ((int32_t)x[c] + cfg->in_offset)
                           * weights[ASC_CONVP_WEIGHT(groups, oc, tap + c)];
                }
            }
        }
        acc = asc_requantize(acc, cfg->multiplier[oc], cfg->shift[oc]) + cfg->out_zero_point;
        acc = asc_clamp(acc, cfg->act_min, cfg->act_max);
        out[oc] = add ? asc_add_one(add, acc, residual[oc]) : (int8_t)acc;
    }
}

#if ASC_USE_DSP
#define PIX 3       /* output pixels per pass of the matrix product */

static inline void st32(void *p, int32_t v)
{
    memcpy(p, &v, sizeof v);
}

/* The scratch holds the taps of PIX output pixels as int16, input offset added, zero in the
 * padding and past the last tap: per group of 4 taps the word (tap 0, tap 2) of pixels 0, 1, 2,
 * then the word (tap 1, tap 3) of each -- the pairs SXTAB16 makes of a word of 4 input bytes,
 * matching the weight words. */

static inline int32_t pack16(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* Writes one pixel's taps in order into its share of the columns. Whole groups (n == 0 and runs
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
        st32(w->d + 2 * PIX, pack16(w->v[1], w->v[3]));
        w->d += 4 * PIX;
        w->n = 0;
    }
}

ASC_NOINLINE static void put_zeros(col_writer *w, int32_t count)
{
    while (count > 0 && w->n) {
        put_one(w, 0);
        --count;
    }
    if (count >= 4) {
        int16_t *d = w->d;      /* locals: the stores below may not change them */
        for (; count >= 4; count -= 4) {
            st32(d, 0);
            st32(d + 2 * PIX, 0);
            d += 4 * PIX;
        }
        w->d = d;
    }
    while (count-- > 0) {
        put_one(w, 0);
    }
}

ASC_NOINLINE static void put_run(col_writer *w, const int8_t *src, int32_t count)
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
            st32(d + 2 * PIX, ASC_SXTAB16_ROR8(off2, v));
            st32(d + 4 * PIX, ASC_SXTAB16(off2, u));
            st32(d + 6 * PIX, ASC_SXTAB16_ROR8(off2, u));
            d += 8 * PIX;
            src += 8;
        }
        if (count >= 4) {
            const int32_t v = asc_ld32(src);
            st32(d, ASC_SXTAB16(off2, v));
            st32(d + 2 * PIX, ASC_SXTAB16_ROR8(off2, v));
            d += 4 * PIX;
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
ASC_NOINLINE static void im2col(const asc_convp_cfg *layer, const int8_t *input, int32_t pixel,
                                int16_t *col, int32_t k)
{
    const asc_convp_cfg local = *layer;
    const asc_convp_cfg *cfg = &local;
    const int32_t in_c = cfg->in_c;
    const int32_t row_taps = (int32_t)cfg->k_w * in_c;
    const int32_t y0 = pixel / cfg->out_w * cfg->stride_h - cfg->pad_top;
    const int32_t x0 = pixel % cfg->out_w * cfg->stride_w - cfg->pad_left;
    const asc_taps t = asc_taps_at(cfg, y0, x0);
    col_writer w;
    int32_t ky;
    int32_t kx;
    w.d = col + 2 * k;
    w.n = 0;
    w.offset = cfg->in_offset;
    w.off2 = asc_offset2(cfg);
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

/* A slot's words w hold a group as 2 PIX words, its (tap 1, tap 3) word PIX words after its
 * (tap 0, tap 2) word. n whole groups of zeros, or of input bytes from src (off2: the input
 * offset in both halfwords); the next group's place. */
static inline int32_t *zero_groups(int32_t *w, int32_t n)
{
    for (; n > 0; --n) {
        w[0] = 0;
        w[PIX] = 0;
        w += 2 * PIX;
    }
    return w;
}

static inline int32_t *take_groups(int32_t *w, const int8_t *src, int32_t n, int32_t off2)
{
    for (; n >= 2; n -= 2) {
        const int32_t v = asc_ld32(src);
        const int32_t u = asc_ld32(src + 4);
        w[0] = ASC_SXTAB16(off2, v);
        w[PIX] = ASC_SXTAB16_ROR8(off2, v);
        w[2 * PIX] = ASC_SXTAB16(off2, u);
        w[3 * PIX] = ASC_SXTAB16_ROR8(off2, u);
        w += 4 * PIX;
        src += 8;
    }
    if (n) {
        const int32_t v = asc_ld32(src);
        w[0] = ASC_SXTAB16(off2, v);
        w[PIX] = ASC_SXTAB16_ROR8(off2, v);
        w += 2 * PIX;
    }
    return w;
}

/* The taps of an output pixel whose window lies inside the input, without horizontal
 * dilation, when a kernel row is whole groups (k_w * in_c a multiple of 4): each row converts
 * straight from the input into the slot's words w. */
ASC_NOINLINE ASC_HOT static void im2col_rows(const asc_convp_cfg *cfg, const int8_t *input,
                                             int32_t y0, int32_t x0, int32_t *w)
{
    const int32_t in_c = cfg->in_c;
    const int32_t row_groups = ((int32_t)cfg->k_w * in_c) >> 2;
    const int32_t k_h = cfg->k_h;
    const int32_t step = (int32_t)cfg->dil_h * cfg->in_w * in_c;
    const int32_t off2 = asc_offset2(cfg);
    const int8_t *src = input + ((int32_t)y0 * cfg->in_w + x0) * in_c;
    int32_t ky;
    for (ky = 0; ky < k_h; ++ky, src += step) {
        w = take_groups(w, src, row_groups, off2);
    }
}

/* The same for a window that reaches into the padding, when the input channels are a multiple
 * of 4 (each kernel position whole groups): per kernel row zero groups, the in-bounds run, zero
 * groups. */
ASC_NOINLINE static void im2col_edge(const asc_convp_cfg *cfg, const int8_t *input, int32_t y0,
                                     int32_t x0, int32_t *w)
{
    const int32_t in_c = cfg->in_c;
    const int32_t g = in_c >> 2;
    const int32_t k_w = cfg->k_w;
    const int32_t k_h = cfg->k_h;
    const int32_t dil_w = cfg->dil_w;
    const int32_t step = (int32_t)cfg->dil_h * cfg->in_w * in_c;
    const int32_t off2 = asc_offset2(cfg);
    const asc_taps t = asc_taps_at(cfg, y0, x0);
    const int8_t *row = input + ((y0 + t.y_lo * cfg->dil_h) * cfg->in_w + x0) * in_c;
    int32_t ky;
    int32_t kx;
    w = zero_groups(w, t.y_lo * k_w * g);
    for (ky = t.y_lo; ky < t.y_hi; ++ky, row += step) {
        w = zero_groups(w, t.x_lo * g);
        if (dil_w == 1) {
            w = take_groups(w, row + t.x_lo * in_c, (t.x_hi - t.x_lo) * g, off2);
        } else {
            for (kx = t.x_lo; kx < t.x_hi; ++kx) {
                w = take_groups(w, row + kx * dil_w * in_c, g, off2);
            }
        }
        w = zero_groups(w, (k_w - t.x_hi) * g);
    }
    zero_groups(w, (k_h - t.y_hi) * k_w * g);
}

#define GATHER_TAPS 256     /* taps of a window gathered on the stack (small channel counts) */

/* A window's taps gathered into ``run`` in kernel order (``taps`` bytes), converted a group at
 * a time into the slot's words w; the last group is completed with the input zero point, which
 * the offset makes 0, as are the padding's taps that the gathering wrote. */
static void take_run(int8_t *run, int32_t taps, int32_t zp, int32_t off2, int32_t *w)
{
    st32(run + taps, (int32_t)((uint32_t)(uint8_t)zp * 0x01010101u));
    take_groups(w, run, (taps + 3) >> 2, off2);
}

/* The taps of a window inside the input, without horizontal dilation, of up to GATHER_TAPS
 * taps whose kernel rows are not whole groups: the rows copied into one run (words, then the
 * row's last bytes). */
ASC_NOINLINE ASC_NO_LIBCALL static void gather_rows(const asc_convp_cfg *cfg,
                                                    const int8_t *input, int32_t y0, int32_t x0,
                                                    int32_t *w)
{
    const int32_t in_c = cfg->in_c;
    const int32_t row_taps = (int32_t)cfg->k_w * in_c;
    const int32_t k_h = cfg->k_h;
    const int32_t step = (int32_t)cfg->dil_h * cfg->in_w * in_c;
    const int8_t *row = input + ((int32_t)y0 * cfg->in_w + x0) * in_c;
    int8_t run[GATHER_TAPS + 4];
    int8_t *d = run;
    int32_t ky;
    int32_t j;
    for (ky = 0; ky < k_h; ++ky, row += step, d += row_taps) {
        for (j = 0; j + 4 <= row_taps; j += 4) {
            st32(d + j, asc_ld32(row + j));
        }
        for (; j < row_taps; ++j) {
            d[j] = row[j];
        }
    }
    take_run(run, k_h * row_taps, -cfg->in_offset,
             asc_offset2(cfg), w);
}

/* Any window of up to GATHER_TAPS taps: per kernel row the input zero point for every tap, then
 * the in-bounds positions' bytes over it. */
ASC_NOINLINE ASC_NO_LIBCALL static void gather_window(const asc_convp_cfg *cfg,
                                                      const int8_t *input, int32_t y0,
                                                      int32_t x0, int32_t *w)
{
    const int32_t in_c = cfg->in_c;
    const int32_t row_taps = (int32_t)cfg->k_w * in_c;
    const int32_t k_h = cfg->k_h;
    const int32_t zp = -cfg->in_offset;
    const asc_taps t = asc_taps_at(cfg, y0, x0);
    int8_t run[GATHER_TAPS + 4];
    int8_t *d = run;
    int32_t ky;
    int32_t kx;
    int32_t j;
    for (ky = 0; ky < k_h; ++ky, d += row_taps) {
        for (j = 0; j < row_taps; ++j) {
            d[j] = (int8_t)zp;
        }
        if (ky < t.y_lo || ky >= t.y_hi) {
            continue;
        }
        for (kx = t.x_lo; kx < t.x_hi; ++kx) {
            const int8_t *x = input + ((y0 + ky * cfg->dil_h) * cfg->in_w + x0 + kx * cfg->dil_w)
                                      * in_c;
            for (j = 0; j < in_c; ++j) {
                d[kx * in_c + j] = x[j];
            }
        }
    }
    take_run(run, k_h * row_taps, zp, asc_offset2(cfg),
             w);
}

/* One pixel slot's taps, by the cheapest way that applies when the window is not inside the
 * input with whole-group kernel rows: whole groups with zero groups for the padding, a gathered
 * window, or tap by tap. */
ASC_NOINLINE static void fill_slot(const asc_convp_cfg *cfg, const int8_t *input, int32_t y0,
                                   int32_t x0, int inside, int32_t pixel, int16_t *col, int32_t k)
{
    int32_t *slot = (int32_t *)(void *)(col + 2 * k);
    if (!inside && (cfg->in_c & 3) == 0) {
        im2col_edge(cfg, input, y0, x0, slot);
    } else if ((int32_t)cfg->k_h * cfg->k_w * cfg->in_c > GATHER_TAPS || cfg->in_offset < -127
               || cfg->in_offset > 128) {
        im2col(cfg, input, pixel, col, k);
    } else if (inside) {
        gather_rows(cfg, input, y0, x0, slot);
    } else {
        gather_window(cfg, input, y0, x0, slot);
    }
}

/* Where a pass's windows start, per layer: a window starting at (y0, x0) with 0 <= y0 <=
 * last_y and 0 <= x0 <= last_x lies inside the input; rows: such windows (without horizontal
 * dilation) are whole-group kernel rows, taken straight from the input. */
typedef struct {
    int32_t out_w, stride_h, stride_w, pad_top, pad_left;
    int32_t last_y, last_x;
    int32_t inside_ok, rows;
} col_plan;

static col_plan plan_columns(const asc_convp_cfg *cfg)
{
    col_plan c;
    c.out_w = cfg->out_w;
    c.stride_h = cfg->stride_h;
    c.stride_w = cfg->stride_w;
    c.pad_top = cfg->pad_top;
    c.pad_left = cfg->pad_left;
    c.last_y = cfg->in_h - 1 - (cfg->k_h - 1) * cfg->dil_h;
    c.last_x = cfg->in_w - 1 - (cfg->k_w - 1) * cfg->dil_w;
    c.inside_ok = cfg->dil_w == 1;
    c.rows = c.inside_ok && ((cfg->k_w * cfg->in_c) & 3) == 0;
    return c;
}

/* The columns of the PIX output pixels from p on (a short last pass of n pixels repeats its
 * last one). Out of line and short, so that the pass loop stays within the instruction cache. */
ASC_NOINLINE ASC_HOT static void fill_columns(const col_plan *plan, const asc_convp_cfg *cfg,
                                              const int8_t *input, int32_t p, int32_t n,
                                              int16_t *col)
{
    const int32_t out_w = plan->out_w;
    int32_t oy = p / out_w;
    int32_t ox = p - oy * out_w;
    int32_t k;
    for (k = 0; k < PIX; ++k) {
        int32_t y0;
        int32_t x0;
        int inside;
        if (k > 0 && k < n && ++ox == out_w) {
            ox = 0;
            ++oy;
        }
        y0 = oy * plan->stride_h - plan->pad_top;
        x0 = ox * plan->stride_w - plan->pad_left;
        inside = plan->inside_ok && y0 >= 0 && x0 >= 0 && y0 <= plan->last_y && x0 <= plan->last_x;
        if (inside && plan->rows) {
            im2col_rows(cfg, input, y0, x0, (int32_t *)(void *)(col + 2 * k));
        } else {
            fill_slot(cfg, input, y0, x0, inside, oy * out_w + ox, col, k);
        }
    }
}

/* acc[2k + j] = bias[j] + sum over the groups of column words (pixel k) x weight words (channel
 * j of the pair): the columns of PIX pixels against one channel pair's weight rows. cols and
 * weights are word-aligned; end = cols + 6 * groups words; bias: two little-endian int32. */
#if ASC_DSP_TARGET && defined(__GNUC__)
/* Fourteen registers: six accumulators (r3-r8), three column words (r9-r11), two weight words
 * (r12, lr), the two pointers and the end. One LDM per three column words, one per two weight
 * words; two groups a pass, an odd count entering the pass at its second group. */
#define ASC_MM_PAIR                                                                                \
    "ldm r0!, {r9, r10, r11}\n\t"                                                                  \
    "ldm r1!, {r12, lr}\n\t"                                                                       \
    "smlad r3, r9, r12, r3\n\t"                                                                    \
    "smlad r4, r9, lr, r4\n\t"                                                                     \
    "smlad r5, r10, r12, r5\n\t"                                                                   \
    "smlad r6, r10, lr, r6\n\t"                                                                    \
    "smlad r7, r11, r12, r7\n\t"                                                                   \
    "smlad r8, r11, lr, r8\n\t"
#define U_ __attribute__((unused))     /* a naked function reads its arguments in assembly */
__attribute__((naked, noinline)) static void mm3x2(U_ const void *cols, U_ const void *weights,
                                                   U_ const void *end, U_ const uint8_t *bias,
                                                   U_ int32_t *acc)
{
    __asm__("push {r3-r11, lr}\n\t"
            "ldrd r3, r4, [r3]\n\t"
            "mov r5, r3\n\t"
            "mov r6, r4\n\t"
            "mov r7, r3\n\t"
            "mov r8, r4\n\t"
            "sub r9, r2, r0\n\t"
            "tst r9, #8\n\t"        /* 24 bytes a group: bit 3 set when the count is odd */
            "bne 4f\n"
            "2:\n\t"
            ASC_MM_PAIR ASC_MM_PAIR
            "4:\n\t"
            ASC_MM_PAIR ASC_MM_PAIR
            "cmp r0, r2\n\t"
            "bne 2b\n\t"
            "ldr r9, [sp, #40]\n\t"
            "stm r9, {r3-r8}\n\t"
            "pop {r3-r11, pc}\n\t");
}
#undef U_
#else
static void mm3x2(const void *cols, const void *weights, const void *end, const uint8_t *bias,
                  int32_t *acc)
{
    const int8_t *c = (const int8_t *)cols;
    const int8_t *w = (const int8_t *)weights;
    int32_t k;
    for (k = 0; k < 2 * PIX; ++k) {
        acc[k] = asc_load_i32_le(bias + 4 * (k & 1));
    }
    for (; c != (const int8_t *)end; c += 4 * PIX, w += 8) {
        for (k = 0; k < PIX; ++k) {
            acc[2 * k] = ASC_SMLAD(asc_ld32(c + 4 * k), asc_ld32(w), acc[2 * k]);
            acc[2 * k + 1] = ASC_SMLAD(asc_ld32(c + 4 * k), asc_ld32(w + 4), acc[2 * k + 1]);
        }
    }
}
#endif

#if ASC_DSP_TARGET && defined(__GNUC__)
/* Every channel pair of three whole pixels in one call (the matrix product of mm3x2, then the
 * requantization in registers): what the generated code runs for fast layers on the target.
 * ``rq``: per channel the multiplier, the rounding half with the output zero point folded in
 * (half + zp * 2^e) and the right shift e; the output clamp is SSAT, then lo and hi where the
 * variant takes them. The struct is read and advanced by the assembly (offsets below). */
typedef struct {
    const int16_t *col;         /* 0: the columns */
    const int16_t *col_end;     /* 4 */
    const uint8_t *bias;        /* 8: the next pair's two biases */
    const int32_t *rq;          /* 12: the next pair's two channels' (m, half, e) */
    int8_t *out;                /* 16: pixel 0's output of the next pair's first channel */
    int32_t out_c;              /* 20: output pixel stride */
    int32_t pairs;              /* 24: channel pairs still to do */
    int32_t lo, hi;             /* 28, 32 */
    int32_t entry;              /* 36: groups mod 3, where the first pass of the loop starts */
} conv3_args;

#define CV_OUT(A, LO, HI)                                                                          \
    ASC_RQ_ASM(A, "r9", "r10", "r11")                                                              \
    ".if " #LO "\n\t" ASC_MAX_ASM(A, "r12") ".endif\n\t"                                           \
    ".if " #HI "\n\t" ASC_MIN_ASM(A, "r2") ".endif\n\t"
#define CV_ROWS3(NAME, LO, HI)                                                                     \
    __attribute__((naked, noinline, unused, aligned(32))) static void NAME(                        \
        __attribute__((unused)) conv3_args *args, __attribute__((unused)) const int16_t *weights)  \
    {                                                                                              \
        __asm__("push {r0, r4-r11, lr}\n"                                                          \
                "1:\n\t"                                                                          \
                "ldr r12, [sp]\n\t"                                                               \
                "ldr r9, [r12, #8]\n\t"                                                           \
                "ldrd r3, r4, [r9], #8\n\t"                                                       \
                "str r9, [r12, #8]\n\t"                                                           \
                "mov r5, r3\n\t"                                                                  \
                "mov r6, r4\n\t"                                                                  \
                "mov r7, r3\n\t"                                                                  \
                "mov r8, r4\n\t"                                                                  \
                "ldrd r0, r2, [r12]\n\t"                                                          \
                "ldr r9, [r12, #36]\n\t"                                                          \
                "cmp r9, #1\n\t"  /* groups mod 3: 0 from the top, else that many from the end */ \
                "beq 7f\n\t"                                                                      \
                "bhi 6f\n"                                                                         \
                "2:\n\t"                                                                          \
                ASC_MM_PAIR ASC_MM_PAIR                                                            \
                "6:\n\t"                                                                          \
                ASC_MM_PAIR ASC_MM_PAIR                                                            \
                "7:\n\t"                                                                          \
                ASC_MM_PAIR ASC_MM_PAIR                                                            \
                "cmp r0, r2\n\t"                                                                  \
                "bne 2b\n"                                                                         \
                "3:\n\t"                                                                          \
                "ldr r12, [sp]\n\t"                                                               \
                "ldr r9, [r12, #12]\n\t"                                                          \
                "ldr r0, [r12, #16]\n\t"                                                          \
                "ldr lr, [r12, #20]\n\t"                                                          \
                ".if " #HI "\n\t"                                                                 \
                "ldr r2, [r12, #32]\n\t"                                                          \
                ".endif\n\t"                                                                      \
                ".if " #LO "\n\t"                                                                 \
                "ldr r12, [r12, #28]\n\t"                                                         \
                ".endif\n\t"                                                                      \
                "ldm r9, {r9, r10, r11}\n\t"                                                      \
                CV_OUT("r3", LO, HI) "strb r3, [r0]\n\t"                                          \
                CV_OUT("r5", LO, HI) "strb r5, [r0, lr]\n\t"                                      \
                CV_OUT("r7", LO, HI) "strb r7, [r0, lr, lsl #1]\n\t"                              \
                "ldr r3, [sp]\n\t"                                                                \
                "ldr r5, [r3, #12]\n\t"                                                           \
                "add r5, r5, #12\n\t"                                                             \
                "add r0, r0, #1\n\t"     /* between: an address just computed stalls a cycle */  \
                "ldm r5!, {r9, r10, r11}\n\t"                                                     \
                "str r5, [r3, #12]\n\t"                                                           \
                CV_OUT("r4", LO, HI) "strb r4, [r0]\n\t"                                          \
                CV_OUT("r6", LO, HI) "strb r6, [r0, lr]\n\t"                                      \
                CV_OUT("r8", LO, HI) "strb r8, [r0, lr, lsl #1]\n\t"                              \
                "add r0, r0, #1\n\t"                                                              \
                "str r0, [r3, #16]\n\t"                                                           \
                "ldr r5, [r3, #24]\n\t"                                                           \
                "subs r5, r5, #1\n\t"                                                             \
                "str r5, [r3, #24]\n\t"                                                           \
                "bne 1b\n\t"                                                                      \
                "pop {r0, r4-r11, pc}\n\t");                                                      \
    }
CV_ROWS3(conv_rows3_sat, 0, 0)
CV_ROWS3(conv_rows3_lo, 1, 0)
CV_ROWS3(conv_rows3_lohi, 1, 1)
#undef CV_ROWS3
#undef ASC_MM_PAIR
#undef CV_OUT

/* The (m, half + zp 2^e, e) table of conv3_args in the scratch (asc_rq_fold); 0 (use C) where
 * a channel's fold could overflow. */
static int conv3_table(const asc_convp_cfg *cfg, int32_t *rq)
{
    int32_t oc;
    for (oc = 0; oc < cfg->out_c; ++oc) {
        if (!asc_rq_fold(cfg->multiplier[oc], cfg->shift[oc], cfg->out_zero_point, rq + 3 * oc)) {
            return 0;
        }
    }
    return 1;
}
#define CONV3_ASM 1
#else
#define CONV3_ASM 0
#endif

/* The requantization and clamp of a layer, as values (no pointer into memory the output
 * stores could alias, so they stay in registers). */
typedef struct {
    int32_t zp, lo, hi;
} rq_out;

/* Requantized, clamped output (multiplier m, shift s), the residual ADD applied when fused.
 * ``fast`` and ``has_add`` are constants in each instance; fast: 0 the reference arithmetic,
 * 1 the one-rounding form, 2-4 that with the clamp as SSAT and branch-free max/min. */
ASC_INLINE int8_t finish(rq_out r, int32_t fast, int has_add, int32_t acc, int32_t m, int32_t s,
                         const asc_add_cfg *add, int32_t residual)
{
    acc = (fast ? asc_rq(acc, m, -s) : asc_requantize(acc, m, (int)s)) + r.zp;
    if (fast >= 2) {        /* 2: the whole int8 range; 3: [lo, 127]; 4: [lo, hi] */
        acc = ASC_SAT8(acc);
        acc = fast >= 3 ? asc_max(acc, r.lo) : acc;
        acc = fast == 4 ? asc_min(acc, r.hi) : acc;
    } else {
        acc = asc_clamp(acc, r.lo, r.hi);
    }
    return has_add ? asc_add_one(add, acc, residual) : (int8_t)acc;
}

/* Channel oc of n pixels (a constant in the main loop): acc[2k] is pixel k's sum; pixel k's
 * outputs and residuals start at out + k * out_c, res + k * out_c. */
ASC_INLINE void finish_channel(const asc_convp_cfg *cfg, rq_out r, int32_t fast, int has_add,
                               int32_t n, const int32_t *acc, int32_t oc, const asc_add_cfg *add,
                               const int8_t *res, int8_t *out)
{
    const int32_t m = cfg->multiplier[oc];
    const int32_t s = cfg->shift[oc];
    const int32_t out_c = cfg->out_c;
    int32_t k;
    ASC_UNROLL
    for (k = 0; k < n; ++k) {
        out[k * out_c + oc] = finish(r, fast, has_add, acc[2 * k], m, s, add,
                                     has_add ? res[k * out_c + oc] : 0);
    }
}

/* The odd last channel oc = out_c - 1 of the first n pixels, against the weights' zero row
 * (``weights``: its pair's rows), with bias 0 for the missing channel. */
ASC_INLINE void last_channel(const asc_convp_cfg *cfg, rq_out r, int32_t fast, int has_add,
                             int32_t n, const int16_t *weights, const uint8_t *bias_le,
                             const int16_t *col, const asc_add_cfg *add, const int8_t *res,
                             int8_t *out)
{
    const int32_t oc = cfg->out_c - 1;
    int32_t acc[2 * PIX];
    uint8_t last[8];
    memcpy(last, bias_le + 4 * oc, 4);
    memset(last + 4, 0, 4);
    mm3x2(col, weights, col + 12 * ASC_CONVP_GROUPS(cfg->k_h, cfg->k_w, cfg->in_c), last, acc);
    finish_channel(cfg, r, fast, has_add, n, acc, oc, add, res, out);
}

/* Every output channel of the first n (<= PIX, a constant in the main loop) pixels whose
 * columns are in the scratch. An odd last channel runs against the weights' zero row, with
 * bias 0 for it. */
ASC_INLINE void conv_pixels(const asc_convp_cfg *cfg, rq_out r, int32_t fast, int has_add,
                            int32_t n, const int16_t *weights, const uint8_t *bias_le,
                            const int16_t *col, const asc_add_cfg *add, const int8_t *res,
                            int8_t *out)
{
    const int32_t out_c = cfg->out_c;
    const int32_t groups = ASC_CONVP_GROUPS(cfg->k_h, cfg->k_w, cfg->in_c);
    const int16_t *end = col + 12 * groups;
    int32_t acc[2 * PIX];
    int32_t oc;
    for (oc = 0; oc + 2 <= out_c; oc += 2) {
        mm3x2(col, weights, end, bias_le + 4 * oc, acc);
        weights += 8 * groups;
        finish_channel(cfg, r, fast, has_add, n, acc, oc, add, res, out);
        finish_channel(cfg, r, fast, has_add, n, acc + 1, oc + 1, add, res, out);
    }
    if (oc < out_c) {
        last_channel(cfg, r, fast, has_add, n, weights, bias_le, col, add, res, out);
    }
}

#if CONV3_ASM
/* Every channel of three whole pixels on the target: the channel pairs in one assembly call
 * (``rq``: the conv3_table of the layer), an odd last channel in C. */
ASC_INLINE void conv3_pass(const asc_convp_cfg *cfg, rq_out r, int32_t fast,
                           const int16_t *weights, const uint8_t *bias_le, const int16_t *col,
                           const int32_t *rq, int8_t *out)
{
    const int32_t groups = ASC_CONVP_GROUPS(cfg->k_h, cfg->k_w, cfg->in_c);
    conv3_args a;
    a.col = col;
    a.col_end = col + 12 * groups;
    a.bias = bias_le;
    a.rq = rq;
    a.out = out;
    a.out_c = cfg->out_c;
    a.pairs = cfg->out_c >> 1;
    a.lo = cfg->act_min;
    a.hi = cfg->act_max;
    a.entry = groups % 3;
    if (fast == 2 || (cfg->act_min == -128 && cfg->act_max == 127)) {
        conv_rows3_sat(&a, weights);
    } else if (cfg->act_max == 127) {
        conv_rows3_lo(&a, weights);
    } else {
        conv_rows3_lohi(&a, weights);
    }
    if (cfg->out_c & 1) {
        last_channel(cfg, r, fast, 0, PIX, weights + 8 * groups * (cfg->out_c >> 1), bias_le, col,
                     NULL, NULL, out);
    }
}
#endif

/* The fused ADD where asc_add_one_fast is exact (has_add 2), by table: ``scaled`` holds for
 * every int8 value v the first input's asc_rq_small((v + offset) << left_shift, ...) (256
 * words), then the second's; an output is then one requantization of the sum of two entries. */
static void add_tables(const asc_add_cfg *add, int32_t *scaled)
{
    int32_t v;
    for (v = -128; v < 128; ++v) {
        scaled[v + 128] = asc_rq_small((v + add->in1_offset) * ((int32_t)1 << add->left_shift),
                                       add->in1_multiplier, add->in1_shift);
        scaled[v + 384] = asc_rq_small((v + add->in2_offset) * ((int32_t)1 << add->left_shift),
                                       add->in2_multiplier, add->in2_shift);
    }
}

static void add_rows(const asc_add_cfg *add, const int32_t *scaled, const int8_t *in1,
                     const int8_t *in2, int8_t *output, int32_t count)
{
    const int32_t *t1 = scaled + 128;
    const int32_t *t2 = scaled + 384;
    const int32_t lo = add->act_min;
    const int32_t hi = add->act_max;
    int32_t rq[3];
    int32_t k;
    if (asc_rq_fold(add->out_multiplier, add->out_shift, add->out_offset, rq)) {
        const int32_t m = rq[0];
        const int32_t half = rq[1];
        const int32_t e = rq[2];
        for (k = 0; k < count; ++k) {
            const int32_t v = ASC_SAT8(asc_rq_half(t1[in1[k]] + t2[in2[k]], m, e, half));
            output[k] = (int8_t)asc_min(asc_max(v, lo), hi);
        }
        return;
    }
    for (k = 0; k < count; ++k) {
        const int32_t v = asc_rq_small(t1[in1[k]] + t2[in2[k]], add->out_multiplier, add->out_shift);
        output[k] = (int8_t)asc_clamp(v + add->out_offset, lo, hi);
    }
}

/* The DSP path: output pixels PIX at a time through the scratch columns (a short last pass
 * repeats its last pixel's columns and stores only its own). has_add 2: the convolution outputs
 * go to the scratch after the columns, then the ADD runs over them in a loop of its own. */
ASC_INLINE void convp_dsp(const asc_convp_cfg *layer, int32_t fast, int has_add,
                          const int16_t *weights, const uint8_t *bias_le, const int8_t *input,
                          const asc_add_cfg *add, const int8_t *residual, int8_t *output,
                          int16_t *col)
{
    /* local copies: the byte stores below cannot change them, so fields stay in registers */
    const asc_convp_cfg local = *layer;
    const asc_convp_cfg *cfg = &local;
    const int32_t pixels = (int32_t)cfg->out_h * cfg->out_w;
    const int32_t out_c = cfg->out_c;
    int8_t *sums = (int8_t *)(col + ASC_CONVP_COLUMNS(cfg->k_h, cfg->k_w, cfg->in_c));
    const rq_out r = {local.out_zero_point, local.act_min, local.act_max};
    const col_plan plan = plan_columns(cfg);
    asc_add_cfg add_local;
    /* has_add 2: both inputs' scaled values per int8 value, after the requantization table */
    int32_t *scaled = (int32_t *)(void *)(col + ASC_CONVP_COLUMNS(cfg->k_h, cfg->k_w, cfg->in_c)
                                          + 2 * ((3 * out_c + 3) / 4) + 6 * out_c);
    int32_t p;
    if (has_add) {
        add_local = *add;
        add = &add_local;
    }
    if (has_add == 2) {
        add_tables(add, scaled);
    }
#if CONV3_ASM
    /* the table after the columns and the sums (ASC_CONVP_SCRATCH) */
    int32_t *rq = (int32_t *)(void *)(col + ASC_CONVP_COLUMNS(cfg->k_h, cfg->k_w, cfg->in_c)
                                      + (has_add ? 2 * ((3 * out_c + 3) / 4) : 0));
    const int rows3 = fast && has_add != 1 && out_c >= 2 && conv3_table(cfg, rq);
#endif
    for (p = 0; p < pixels; p += PIX) {
        const int32_t n = pixels - p < PIX ? pixels - p : PIX;
        const int8_t *res = has_add == 1 ? residual + p * out_c : NULL;
        int8_t *out = has_add == 2 ? sums : output + p * out_c;
        fill_columns(&plan, cfg, input, p, n, col);
#if CONV3_ASM
        if (rows3 && n == PIX) {
            conv3_pass(cfg, r, fast, weights, bias_le, col, rq, out);
        } else
#endif
        if (n == PIX) {
            conv_pixels(cfg, r, fast, has_add == 1, PIX, weights, bias_le, col, add, res, out);
        } else {
            conv_pixels(cfg, r, fast, has_add == 1, n, weights, bias_le, col, add, res, out);
        }
        if (has_add == 2) {
            add_rows(add, scaled, sums, residual + p * out_c, output + p * out_c, n * out_c);
        }
    }
}

static void convp_dsp_fast(const asc_convp_cfg *cfg, const int16_t *weights,
                           const uint8_t *bias_le, const int8_t *input, int8_t *output,
                           int16_t *col)
{
    if (cfg->act_min == -128 && cfg->act_max == 127) {
        convp_dsp(cfg, 2, 0, weights, bias_le, input, NULL, NULL, output, col);
    } else if (cfg->act_max == 127) {
        convp_dsp(cfg, 3, 0, weights, bias_le, input, NULL, NULL, output, col);
    } else {
        convp_dsp(cfg, 4, 0, weights, bias_le, input, NULL, NULL, output, col);
    }
}

static void convp_dsp_any(const asc_convp_cfg *cfg, const int16_t *weights,
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

void asc_convp_s8(const asc_convp_cfg *cfg, const int16_t *weights, const uint8_t *bias_le,
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
