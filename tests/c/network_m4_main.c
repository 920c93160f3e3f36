/* Test program of a generated network ("net") for the emulated Cortex-M4 (semihosting build,
 * m4_semihosting.ld): runs the network through its X-CUBE-AI style API on every input of
 * inputs.h, written by tests/test_generator_model.py, and prints each output as a line, then
 * "# instructions N" per inference: SysTick time (run with -icount shift=0, so time follows
 * executed instructions) scaled by a calibration loop of a known instruction count. */
#include <stdio.h>

#include "net.h"
#include "net_data.h"
#include "inputs.h"     /* K_N, k_in[K_N][AI_NET_IN_1_SIZE] */

AI_ALIGNED(4) static ai_u8 activations[AI_NET_DATA_ACTIVATIONS_SIZE];
static int8_t out_data[AI_NET_OUT_1_SIZE];

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
extern volatile uint32_t asc_test_systick_wraps;

static uint32_t ticks(void)
{
    uint32_t v;
    uint32_t w;
    __asm__ volatile("cpsid i" ::: "memory");
    v = SYST_CVR;
    w = asc_test_systick_wraps;
    if (SCB_ICSR & (1u << 26)) {        /* wrapped, handler not run yet */
        v = SYST_CVR;
        w++;
    }
    __asm__ volatile("cpsie i" ::: "memory");
    return (w << 24) + (0xFFFFFFu - v);
}

/* SysTick ticks of 1,000,000 instructions (500,000 two-instruction loop passes). */
static uint32_t calibrate(void)
{
    uint32_t n = 500000u;
    const uint32_t t0 = ticks();
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) :: "cc");
    return ticks() - t0;
}

int main(void)
{
    ai_handle net = AI_HANDLE_NULL;
    ai_network_params params = AI_NETWORK_PARAMS_INIT(
        AI_NET_DATA_WEIGHTS(ai_net_data_weights_get()), AI_NET_DATA_ACTIVATIONS(activations));
    ai_buffer in[AI_NET_IN_NUM] = AI_NET_IN;
    ai_buffer out[AI_NET_OUT_NUM] = AI_NET_OUT;
    int n;
    int i;
    uint32_t per_million;
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 7u;                      /* enable, interrupt, core clock */
    per_million = calibrate();          /* the first pass starts before SysTick's first reload */
    per_million = calibrate();
    if (ai_net_create(&net, AI_NET_DATA_CONFIG).type != AI_ERROR_NONE || !ai_net_init(net, &params)) {
        printf("init failed\n");
        return 1;
    }
    out[0].data = AI_HANDLE_PTR(out_data);
    for (n = 0; n < K_N; ++n) {
        uint32_t t0;
        uint32_t t1;
        in[0].data = AI_HANDLE_PTR(k_in[n]);
        t0 = ticks();
        if (ai_net_run(net, &in[0], &out[0]) != 1) {
            printf("run failed\n");
            return 1;
        }
        t1 = ticks();
        for (i = 0; i < AI_NET_OUT_1_SIZE; ++i) {
            printf("%d ", out_data[i]);
        }
        printf("\n# instructions %lu\n",
               (unsigned long)((unsigned long long)(t1 - t0) * 1000000u / per_million));
    }
    return 0;
}
