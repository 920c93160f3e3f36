/* Test driver of the asc-tool kernel library (asc_toolchain/codegen/clib): runs one kernel on
 * cases read from stdin and writes its int8 outputs to stdout (tests/test_kernel_library.py).
 *
 * stdin is a stream of little-endian int32 words: the kernel (1 conv rows, 2 conv c1k3, 3 conv
 * ring, 4 max-pool, 5 fully connected, 6 softmax, 7 quantize float32 -> int8, 8 dequantize
 * int8 -> float32, 9 requantize int8 -> int8, 10 padded conv with the scratch a generated
 * network gives it, 11 depthwise conv, 12 padded conv without scratch), its configuration
 * fields in struct order
 * (a float field as its bit pattern; float inputs and outputs likewise),
 * per-channel multipliers and shifts, the weight count and weights (one word each), biases,
 * then the number of inputs and each input (one word per int8 value). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asc_kernels.h"

#define MAX_WORDS (1 << 20)
#define ARENA_BYTES (1 << 22)

static int32_t words[MAX_WORDS];
static size_t n_words;
static size_t pos;
static int32_t arena[ARENA_BYTES / 4];     /* every array of a run; nothing is freed */
static size_t arena_used;

/* n zeroed bytes, 4-aligned. */
static void *take(size_t n)
{
    const size_t n_words_needed = (n + 3) / 4;
    void *p;
    if (arena_used + n_words_needed > ARENA_BYTES / 4) {
        fprintf(stderr, "kernel_driver: case too large\n");
        exit(2);
    }
    p = &arena[arena_used];
    memset(p, 0, n_words_needed * 4);
    arena_used += n_words_needed;
    return p;
}

static int32_t next(void)
{
    if (pos >= n_words) {
        fprintf(stderr, "kernel_driver: input ends early (word %lu)\n", (unsigned long)pos);
        exit(2);
    }
    return words[pos++];
}

static int32_t *next_i32(size_t n)
{
    int32_t *a = (int32_t *)take(n * sizeof *a);
    size_t i;
    for (i = 0; i < n; ++i) {
        a[i] = next();
    }
    return a;
}

/* n words as int8 values. */
static int8_t *next_i8(size_t n)
{
    int8_t *a = (int8_t *)take(n);
    size_t i;
    for (i = 0; i < n; ++i) {
        a[i] = (int8_t)next();
    }
    return a;
}

/* n words as int16 values. */
static int16_t *next_i16(size_t n)
{
    int16_t *a = (int16_t *)take(n * sizeof *a);
    size_t i;
    for (i = 0; i < n; ++i) {
        a[i] = (int16_t)next();
    }
    return a;
}

static int8_t *next_shifts(size_t n)
{
    return next_i8(n);
}

/* Biases as the library reads them: little-endian int32 bytes. */
static uint8_t *next_bias_le(size_t n)
{
    uint8_t *b = (uint8_t *)take(4 * n);
    size_t i;
    for (i = 0; i < n; ++i) {
        const uint32_t u = (uint32_t)next();
        b[4 * i] = (uint8_t)u;
        b[4 * i + 1] = (uint8_t)(u >> 8);
        b[4 * i + 2] = (uint8_t)(u >> 16);
        b[4 * i + 3] = (uint8_t)(u >> 24);
    }
    return b;
}

static void emit(const int8_t *out, size_t n)
{
    if (fwrite(out, 1, n, stdout) != n) {
        fprintf(stderr, "kernel_driver: write failed\n");
        exit(1);
    }
}

static void read_conv(asc_conv_cfg *c, const int8_t **weights, const uint8_t **bias)
{
    c->in_h = (uint16_t)next(); c->in_w = (uint16_t)next(); c->in_c = (uint16_t)next();
    c->out_c = (uint16_t)next(); c->k_h = (uint16_t)next(); c->k_w = (uint16_t)next();
    c->stride_h = (uint16_t)next(); c->stride_w = (uint16_t)next();
    c->pool_h = (uint16_t)next(); c->pool_w = (uint16_t)next();
    c->pool_stride_h = (uint16_t)next(); c->pool_stride_w = (uint16_t)next();
    c->out_h = (uint16_t)next(); c->out_w = (uint16_t)next();
    c->out_zero_point = next(); c->act_min = next(); c->act_max = next();
    c->multiplier = next_i32(c->out_c);
    c->shift = next_shifts(c->out_c);
    *weights = next_i8((size_t)next());
    *bias = next_bias_le(c->out_c);
}

/* The input as int16 rows in ring order (see ASC_RING_POS), as a producing conv writes them. */
static int16_t *ring_of(const asc_conv_cfg *c, const int8_t *in)
{
    const size_t pixels = (size_t)c->in_h * c->in_w;
    int16_t *ring = (int16_t *)take(pixels * c->in_c * sizeof *ring);
    size_t p;
    int ch;
    for (p = 0; p < pixels; ++p) {
        for (ch = 0; ch < c->in_c; ++ch) {
            ring[p * c->in_c + ASC_RING_POS(ch)] = in[p * c->in_c + ch];
        }
    }
    return ring;
}

static void run_conv(int kernel, const asc_conv_cfg *c, const int8_t *w, const uint8_t *b,
                     const int8_t *in, int8_t *out)
{
    const int rows_per_out = c->pool_stride_h * c->stride_h;
    int16_t *ring;
    int oy;
    if (kernel == 1) {
        asc_conv_rows(c, w, b, in, NULL, 0, c->out_h, out, NULL);
        return;
    }
    if (kernel == 2) {
        asc_conv_c1k3_rows(c, w, b, in, 0, c->out_h, out, NULL);
        return;
    }
    ring = ring_of(c, in);
    for (oy = 0; oy < c->out_h; ++oy) {
        asc_conv_ring_row(c, w, b, ring + (size_t)oy * rows_per_out * c->in_w * c->in_c, oy, out);
    }
}

static void conv_cases(int kernel)
{
    asc_conv_cfg c;
    const int8_t *w;
    const uint8_t *b;
    int32_t n;
    read_conv(&c, &w, &b);
    n = next();
    while (n-- > 0) {
        const size_t out_size = (size_t)c.out_h * c.out_w * c.out_c;
        const int8_t *in = next_i8((size_t)c.in_h * c.in_w * c.in_c);
        int8_t *out = (int8_t *)take(out_size);
        run_conv(kernel, &c, w, b, in, out);
        emit(out, out_size);
    }
}

static void pool_cases(void)
{
    asc_pool_cfg c;
    int32_t n;
    c.in_h = (uint16_t)next(); c.in_w = (uint16_t)next(); c.c = (uint16_t)next();
    c.pool_h = (uint16_t)next(); c.pool_w = (uint16_t)next();
    c.stride_h = (uint16_t)next(); c.stride_w = (uint16_t)next();
    c.out_h = (uint16_t)next(); c.out_w = (uint16_t)next();
    c.act_min = next(); c.act_max = next();
    n = next();
    while (n-- > 0) {
        const size_t out_size = (size_t)c.out_h * c.out_w * c.c;
        const int8_t *in = next_i8((size_t)c.in_h * c.in_w * c.c);
        int8_t *out = (int8_t *)take(out_size);
        asc_maxpool_s8(&c, in, out);
        emit(out, out_size);
    }
}

static void fc_cases(void)
{
    asc_fc_cfg c;
    const int8_t *w;
    const uint8_t *b;
    int32_t n;
    c.in_features = (uint16_t)next(); c.out_features = (uint16_t)next();
    c.out_zero_point = next(); c.act_min = next(); c.act_max = next(); c.fast_rq = next();
    c.multiplier = next_i32(c.out_features);
    c.shift = next_shifts(c.out_features);
    w = next_i8((size_t)next());
    b = next_bias_le(c.out_features);
    n = next();
    while (n-- > 0) {
        const int8_t *in = next_i8(c.in_features);
        int8_t *out = (int8_t *)take(c.out_features);
        asc_fc_s8(&c, w, b, in, out);
        emit(out, c.out_features);
    }
}

static void softmax_cases(void)
{
    asc_softmax_cfg c;
    int32_t n;
    c.depth = (uint16_t)next(); c.input_multiplier = next();
    c.input_left_shift = next(); c.diff_min = next();
    n = next();
    while (n-- > 0) {
        const int8_t *in = next_i8(c.depth);
        int8_t *out = (int8_t *)take(c.depth);
        asc_softmax_s8(&c, in, out);
        emit(out, c.depth);
    }
}

/* The edges of a float graph (quantize_s8.c): float32 values travel as their bit patterns. */
static float bits_to_float(int32_t w)
{
    float f;
    memcpy(&f, &w, sizeof f);
    return f;
}

static void edge_cases(int kernel)
{
    asc_quant_cfg q;
    asc_requant_cfg r;
    int32_t size;
    int32_t n;
    int32_t i;
    if (kernel == 9) {
        r.size = next(); r.in_zero_point = next(); r.out_zero_point = next();
        r.multiplier = next(); r.shift = next();
        size = r.size;
    } else {
        q.size = next(); q.scale = bits_to_float(next()); q.zero_point = next();
        size = q.size;
    }
    n = next();
    while (n-- > 0) {
        if (kernel == 7) {
            float *in = (float *)take((size_t)size * sizeof *in);
            int8_t *out = (int8_t *)take((size_t)size);
            for (i = 0; i < size; ++i) {
                in[i] = bits_to_float(next());
            }
            asc_quantize_f32_s8(&q, in, out);
            emit(out, (size_t)size);
        } else if (kernel == 8) {
            const int8_t *in = next_i8((size_t)size);
            float *out = (float *)take((size_t)size * sizeof *out);
            asc_dequantize_s8_f32(&q, in, out);
            emit((const int8_t *)(const void *)out, (size_t)size * sizeof *out);
        } else {
            const int8_t *in = next_i8((size_t)size);
            int8_t *out = (int8_t *)take((size_t)size);
            asc_requantize_s8(&r, in, out);
            emit(out, (size_t)size);
        }
    }
}

/* Padded or depthwise convolution cases (asc_convp_cfg): 10 the matrix product (int16
 * weights, scratch), 12 the same without scratch, 11 depthwise in place, 13 depthwise through
 * its scratch plane. */
static void convp_cases(int kernel)
{
    asc_convp_cfg c;
    const int8_t *w = NULL;
    const int16_t *w16 = NULL;
    const uint8_t *b;
    int16_t *scratch = NULL;
    int32_t n;
    c.in_h = (uint16_t)next(); c.in_w = (uint16_t)next(); c.in_c = (uint16_t)next();
    c.out_h = (uint16_t)next(); c.out_w = (uint16_t)next(); c.out_c = (uint16_t)next();
    c.k_h = (uint16_t)next(); c.k_w = (uint16_t)next();
    c.stride_h = (uint16_t)next(); c.stride_w = (uint16_t)next();
    c.dil_h = (uint16_t)next(); c.dil_w = (uint16_t)next();
    c.pad_top = (int16_t)next(); c.pad_left = (int16_t)next(); c.depth_mult = (uint16_t)next();
    c.in_offset = next(); c.out_zero_point = next(); c.act_min = next(); c.act_max = next();
    c.fast_rq = next();
    c.multiplier = next_i32(c.out_c);
    c.shift = next_shifts(c.out_c);
    if (kernel == 10 || kernel == 12) {
        w16 = next_i16((size_t)next());
    } else {
        w = next_i8((size_t)next());
    }
    b = next_bias_le(c.out_c);
    if (kernel == 10) {
        scratch = (int16_t *)take(2 * (size_t)ASC_CONVP_SCRATCH(c.k_h, c.k_w, c.in_c, c.out_c, 0));
    } else if (kernel == 13) {
        scratch = (int16_t *)take(2 * (size_t)ASC_DW_SCRATCH(&c));
    }
    n = next();
    while (n-- > 0) {
        const size_t out_size = (size_t)c.out_h * c.out_w * c.out_c;
        const int8_t *in = next_i8((size_t)c.in_h * c.in_w * c.in_c);
        int8_t *out = (int8_t *)take(out_size);
        if (kernel == 11 || kernel == 13) {
            asc_dwconv_s8(&c, w, b, in, out, scratch);
        } else {
            asc_convp_s8(&c, w16, b, in, NULL, NULL, out, scratch);
        }
        emit(out, out_size);
    }
}

int main(void)
{
    int32_t kernel;
    n_words = fread(words, sizeof words[0], MAX_WORDS, stdin);
    kernel = next();
    if (kernel >= 1 && kernel <= 3) {
        conv_cases(kernel);
    } else if (kernel == 4) {
        pool_cases();
    } else if (kernel == 5) {
        fc_cases();
    } else if (kernel == 6) {
        softmax_cases();
    } else if (kernel >= 7 && kernel <= 9) {
        edge_cases(kernel);
    } else if (kernel >= 10 && kernel <= 13) {
        convp_cases(kernel);
    } else {
        fprintf(stderr, "kernel_driver: unknown kernel %ld\n", (long)kernel);
        return 2;
    }
    return 0;
}
