/* Test program of the asc-tool kernel library for the emulated Cortex-M4 (semihosting build,
 * m4_semihosting.ld): runs one kernel on every input of case.h, written by
 * tests/test_kernel_library.py, and prints each output as a line of integers. The kernel's
 * configuration is a `static const` there, as in a generated network, so the inline kernels are
 * instantiated with constant shapes and take their assembly paths where the shape allows. */
#include <stdio.h>

#include "asc_kernels.h"
#include "case.h"   /* K_KERNEL, K_N, K_IN_SIZE, K_OUT_SIZE, k_cfg, k_in and the layer's tables */

static int8_t k_out[K_OUT_SIZE];
#if K_KERNEL == 3
static int16_t k_ring[K_IN_SIZE];
#endif

static ASC_NOINLINE void run(const int8_t *in)
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
            printf("%d ", k_out[i]);
        }
        printf("\n");
    }
    return 0;
}
