/* Runner firmware of one generated network in the emulated board (semihosting, run with
 * -icount shift=0 so that time follows executed instructions). runner_net.h, written beside it
 * by the build, maps the network's ai_<name>_* API onto RUN_* names.
 *
 * Reads inputs from inputs.bin (RUN_IN_BYTES bytes each: int8, or float32 for a float input edge,
 * until the end of the file), runs the network on each, writes the outputs (RUN_OUT_BYTES each) to
 * outputs.bin and prints on stdout:
 *   # per_million T       SysTick ticks of 1,000,000 instructions (calibration loop)
 *   # run N T             ticks of inference N (ai_<name>_run alone)
 *   # layer N I T         ticks of layer I in inference N (built with ASC_PROFILE only)
 * The window markers asc_runner_window_begin/end and the layer hooks asc_profile_begin/end are
 * functions of their own, so an execution trace shows where each inference and layer starts. */
#include <stdint.h>
#include <stdio.h>

#include "runner_net.h"

AI_ALIGNED(4) static ai_u8 activations[RUN_ACT_SIZE];
AI_ALIGNED(4) static ai_u8 in_data[RUN_IN_BYTES];
AI_ALIGNED(4) static ai_u8 out_data[RUN_OUT_BYTES];

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
extern volatile uint32_t asc_runner_systick_wraps;

static uint32_t ticks(void)
{
    uint32_t v;
    uint32_t w;
    __asm__ volatile("cpsid i" ::: "memory");
    v = SYST_CVR;
    w = asc_runner_systick_wraps;
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

void asc_runner_window_begin(void);
void asc_runner_window_end(void);

__attribute__((noinline)) void asc_runner_window_begin(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void asc_runner_window_end(void)
{
    __asm__ volatile("" ::: "memory");
}

#ifdef ASC_PROFILE
static uint32_t layer_t0;
static uint32_t layer_ticks[RUN_LAYERS];

__attribute__((noinline)) void asc_profile_begin(int layer)
{
    (void)layer;
    layer_t0 = ticks();
}

__attribute__((noinline)) void asc_profile_end(int layer)
{
    const uint32_t t = ticks();
    if (layer >= 0 && layer < RUN_LAYERS) {
        layer_ticks[layer] += t - layer_t0;
    }
}
#endif

int main(void)
{
    ai_handle net = AI_HANDLE_NULL;
    ai_network_params params = AI_NETWORK_PARAMS_INIT(RUN_WEIGHTS(RUN_WEIGHTS_GET()),
                                                      RUN_ACTIVATIONS(activations));
    ai_buffer in[RUN_IN_NUM] = RUN_IN;
    ai_buffer out[RUN_OUT_NUM] = RUN_OUT;
    FILE *fin;
    FILE *fout;
    unsigned long n = 0;
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 7u;                      /* enable, interrupt, core clock */
    (void)calibrate();                  /* the first pass starts before SysTick's first reload */
    printf("# per_million %lu\n", (unsigned long)calibrate());
    if (RUN_CREATE(&net, RUN_CONFIG).type != AI_ERROR_NONE || !RUN_INIT(net, &params)) {
        printf("# error init failed\n");
        return 1;
    }
    fin = fopen("inputs.bin", "rb");
    fout = fopen("outputs.bin", "wb");
    if (fin == NULL || fout == NULL) {
        printf("# error cannot open inputs.bin or outputs.bin\n");
        return 1;
    }
    in[0].data = AI_HANDLE_PTR(in_data);
    out[0].data = AI_HANDLE_PTR(out_data);
    while (fread(in_data, 1, RUN_IN_BYTES, fin) == RUN_IN_BYTES) {
        uint32_t t0;
        uint32_t t1;
        ai_i32 done;
#ifdef ASC_PROFILE
        int i;
        for (i = 0; i < RUN_LAYERS; ++i) {
            layer_ticks[i] = 0u;
        }
#endif
        asc_runner_window_begin();
        t0 = ticks();
        done = RUN_RUN(net, &in[0], &out[0]);
        t1 = ticks();
        asc_runner_window_end();
        if (done != 1) {
            printf("# error run failed\n");
            return 1;
        }
        if (fwrite(out_data, 1, RUN_OUT_BYTES, fout) != RUN_OUT_BYTES) {
            printf("# error cannot write outputs.bin\n");
            return 1;
        }
        printf("# run %lu %lu\n", n, (unsigned long)(t1 - t0));
#ifdef ASC_PROFILE
        for (i = 0; i < RUN_LAYERS; ++i) {
            printf("# layer %lu %d %lu\n", n, i, (unsigned long)layer_ticks[i]);
        }
#endif
        ++n;
    }
    fclose(fin);
    fclose(fout);
    printf("# done %lu\n", n);
    return 0;
}
