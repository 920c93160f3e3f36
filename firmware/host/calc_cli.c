/* Host harness for calc.c: one query per stdin line, one answer line on stdout.
 *   pll MSI SYSCLK            -> N
 *   latency HCLK              -> wait states
 *   brr PCLK BAUD             -> BRR
 *   plan KERNEL FS MIN MAX TARGET -> div mic fosr order shift peak ckout chcfgr2 fcr  (or "none")
 *   cr1 CHANNEL               -> FLTxCR1 before DFEN
 *   sample WORD               -> int16
 *   dc N X1 .. XN             -> the N samples through a fresh DC blocker, space-separated */
#include <stdio.h>
#include <string.h>
#include "calc.h"

static void plan_line(unsigned long k, unsigned long fs, unsigned long lo, unsigned long hi,
                      unsigned long target)
{
    dfsdm_plan_t p;
    if (calc_dfsdm_plan((uint32_t)k, (uint32_t)fs, (uint32_t)lo, (uint32_t)hi, (uint32_t)target, &p) != 0) {
        puts("none");
        return;
    }
    printf("%lu %lu %lu %lu %lu %lu %lu %lu %lu\n", (unsigned long)p.ckout_div,
           (unsigned long)p.mic_hz, (unsigned long)p.fosr, (unsigned long)p.order,
           (unsigned long)p.shift, (unsigned long)p.peak,
           (unsigned long)calc_dfsdm_ckout_bits(&p), (unsigned long)calc_dfsdm_chcfgr2(&p),
           (unsigned long)calc_dfsdm_fcr(&p));
}

static int dc_line(unsigned long n)
{
    static int16_t pcm[4096];
    calc_dc_t st;
    if (n > 4096u)
        return 0;
    for (unsigned long i = 0; i < n; i++) {
        long v;
        if (scanf("%ld", &v) != 1)
            return 0;
        pcm[i] = (int16_t)v;
    }
    calc_dc_init(&st);
    calc_dc_block(&st, pcm, (uint32_t)n);
    for (unsigned long i = 0; i < n; i++)
        printf(i + 1 < n ? "%d " : "%d", pcm[i]);
    putchar('\n');
    return 1;
}

int main(void)
{
    char cmd[16];
    unsigned long a, b, c, d, e;
    while (scanf("%15s", cmd) == 1) {
        if (!strcmp(cmd, "pll") && scanf("%lu %lu", &a, &b) == 2)
            printf("%lu\n", (unsigned long)calc_pll_n((uint32_t)a, (uint32_t)b));
        else if (!strcmp(cmd, "latency") && scanf("%lu", &a) == 1)
            printf("%lu\n", (unsigned long)calc_flash_latency((uint32_t)a));
        else if (!strcmp(cmd, "brr") && scanf("%lu %lu", &a, &b) == 2)
            printf("%lu\n", (unsigned long)calc_usart_brr((uint32_t)a, (uint32_t)b));
        else if (!strcmp(cmd, "plan") && scanf("%lu %lu %lu %lu %lu", &a, &b, &c, &d, &e) == 5)
            plan_line(a, b, c, d, e);
        else if (!strcmp(cmd, "cr1") && scanf("%lu", &a) == 1)
            printf("%lu\n", (unsigned long)calc_dfsdm_cr1((uint32_t)a));
        else if (!strcmp(cmd, "sample") && scanf("%lu", &a) == 1)
            printf("%d\n", (int)calc_dfsdm_sample((uint32_t)a));
        else if (!strcmp(cmd, "dc") && scanf("%lu", &a) == 1 && dc_line(a))
            continue;
        else
            return 2;
    }
    return 0;
}
