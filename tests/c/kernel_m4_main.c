/* Test program of the asc-tool kernel library for the emulated Cortex-M4 (semihosting build,
 * m4_semihosting.ld): runs one kernel on every input of case.h, written by
 * tests/test_kernel_library.py, and prints each output as a line of integers. The kernel's
 * configuration is a `static const` there, as in a generated network, so the inline kernels are
 * instantiated with constant shapes and take their assembly paths where the shape allows. */
#include <stdio.h>
#include <string.h>

#include "asc_kernels.h"
#include "case.h"   /* K_KERNEL, K_N, K_IN_SIZE, K_OUT_SIZE, k_cfg, k_in and the layer's tables */

#ifndef K_IN_T                 /* float32 for the edges of a float graph (quantize_s8.c) */
#define K_IN_T int8_t
#endif
#ifndef K_OUT_T
#define K_OUT_T int8_t
#endif
static K_OUT_T k_out[K_OUT_SIZE];
#if K_KERNEL == 3
static int16_t k_ring[K_IN_SIZE];
#endif
#if K_KERNEL == 10 || K_KERNEL == 13
static int32_t k_scratch[(K_SCRATCH + 1) / 2];  /* int16 scratch, word-aligned as in an arena */
#endif

static ASC_NOINLINE void run(const K_IN_T *in)
{
#if K_KERNEL == 1
    asc_conv_rows(&k_cfg, k_w, k_b, in, NULL, 0, k_cfg.out_h, k_out, NULL);
#elif K_KERNEL == 2
    asc_conv_c1k3_rows(&k_cfg, k_w, k_b, in, 0, k_cfg.out_h, k_out, NULL);
#elif K_KERNEL == 3
    const int rows_per_out = k_cfg.pool_stride_h * k_cfg.stride_h;
    int i;
    int oy;
    for (i = 0; i < K_IN_SIZE; ++i) {       /* the input as a producing conv's int16 ring */
        k_ring[i - i % k_cfg.in_c + ASC_RING_POS(i % k_cfg.in_c)] = in[i];
    }
    for (oy = 0; oy < k_cfg.out_h; ++oy) {
        asc_conv_ring_row(&k_cfg, k_w, k_b, k_ring + oy * rows_per_out * k_cfg.in_w * k_cfg.in_c,
                          oy, k_out);
    }
#elif K_KERNEL == 4
    asc_maxpool_s8(&k_cfg, in, k_out);
#elif K_KERNEL == 5
    asc_fc_s8(&k_cfg, k_w, k_b, in, k_out);
#elif K_KERNEL == 7
    asc_quantize_f32_s8(&k_cfg, in, k_out);
#elif K_KERNEL == 8
    asc_dequantize_s8_f32(&k_cfg, in, k_out);
#elif K_KERNEL == 9
    asc_requantize_s8(&k_cfg, in, k_out);
#elif K_KERNEL == 10
    asc_convp_s8(&k_cfg, k_w, k_b, in, NULL, NULL, k_out, (int16_t *)(void *)k_scratch);
#elif K_KERNEL == 11
    asc_dwconv_s8(&k_cfg, k_w, k_b, in, k_out, NULL);
#elif K_KERNEL == 13
    asc_dwconv_s8(&k_cfg, k_w, k_b, in, k_out, (int16_t *)(void *)k_scratch);
#elif K_KERNEL == 12
    asc_convp_s8(&k_cfg, k_w, k_b, in, NULL, NULL, k_out, NULL);
#else
    asc_softmax_s8(&k_cfg, in, k_out);
#endif
}

int main(void)
{
    int n;
    int i;
    for (n = 0; n < K_N; ++n) {
        run(k_in[n]);
        for (i = 0; i < K_OUT_SIZE; ++i) {
#if K_KERNEL == 8
            uint32_t bits;                  /* a float output as its bit pattern */
            memcpy(&bits, &k_out[i], sizeof bits);
            printf("%lu ", (unsigned long)bits);
#else
            printf("%d ", k_out[i]);
#endif
        }
        printf("\n");
    }
    return 0;
}
