/* Pure clock / USART / DFSDM / microphone-sample arithmetic (see calc.h). Mirrored by
 * tests/dfsdm_oracle.py. */
#include "calc.h"

uint32_t calc_pll_n(uint32_t msi_hz, uint32_t sysclk_hz)
{
    if (msi_hz == 0u || (2u * sysclk_hz) % msi_hz != 0u)
        return 0u;
    uint32_t n = 2u * sysclk_hz / msi_hz;
    uint64_t vco = (uint64_t)msi_hz * n;
    /* RM0351: PLLN 8..86, VCO output 64..344 MHz, PLLCLK at most 80 MHz */
    if (n < 8u || n > 86u || vco < 64000000u || vco > 344000000u || sysclk_hz > 80000000u)
        return 0u;
    return n;
}

uint32_t calc_flash_latency(uint32_t hclk_hz)
{
    if (hclk_hz == 0u)
        return 0u;
    uint32_t ws = (hclk_hz - 1u) / 16000000u;
    return ws > 4u ? 4u : ws;
}

uint32_t calc_usart_brr(uint32_t pclk_hz, uint32_t baud)
{
    if (baud == 0u)
        return 0u;
    uint32_t brr = (pclk_hz + baud / 2u) / baud;
    return (brr < 16u || brr > 0xFFFFu) ? 0u : brr;
}

static uint64_t ipow(uint32_t base, uint32_t exp)
{
    uint64_t r = 1u;
    while (exp--)
        r *= base;
    return r;
}

static uint32_t distance(uint32_t a, uint32_t b)
{
    return a > b ? a - b : b - a;
}

static void finish_plan(dfsdm_plan_t *plan)
{
    uint32_t order = 5u;
    while (order > 1u && ipow(plan->fosr, order) > 0x7FFFFFFFu)
        order--;
    plan->order = order;
    plan->peak = (uint32_t)ipow(plan->fosr, order);
    uint32_t shift = 0u;
    while ((plan->peak >> shift) > 32767u)
        shift++;
    plan->shift = shift;
}

int calc_dfsdm_plan(uint32_t kernel_hz, uint32_t fs_hz, uint32_t mic_min_hz,
                    uint32_t mic_max_hz, uint32_t mic_target_hz, dfsdm_plan_t *plan)
{
    int found = 0;
    for (uint32_t div = 2u; div <= 256u && fs_hz != 0u; div++) {
        uint32_t mic = kernel_hz / div;
        if (kernel_hz % div != 0u || mic < mic_min_hz || mic > mic_max_hz || mic % fs_hz != 0u)
            continue;
        uint32_t fosr = mic / fs_hz;
        if (fosr < 1u || fosr > 1024u)
            continue;
        /* dividers ascend, so mic clocks descend: a tie keeps the earlier, higher clock */
        if (found && distance(mic, mic_target_hz) >= distance(plan->mic_hz, mic_target_hz))
            continue;
        plan->ckout_div = div;
        plan->mic_hz = mic;
        plan->fosr = fosr;
        found = 1;
    }
    if (!found)
        return -1;
    finish_plan(plan);
    return 0;
}

uint32_t calc_dfsdm_ckout_bits(const dfsdm_plan_t *plan)
{
    /* CKOUTDIV (bits 23:16) holds divider - 1; CKOUTSRC = 0 (system clock) */
    return ((plan->ckout_div - 1u) & 0xFFu) << 16;
}

uint32_t calc_dfsdm_chcfgr2(const dfsdm_plan_t *plan)
{
    /* DTRBS (bits 7:3), OFFSET (31:8) = 0 */
    return (plan->shift & 0x1Fu) << 3;
}

uint32_t calc_dfsdm_fcr(const dfsdm_plan_t *plan)
{
    /* FORD (31:29), FOSR (25:16) holds ratio - 1, IOSR (7:0) = 0: integrator bypassed */
    return ((plan->order & 7u) << 29) | (((plan->fosr - 1u) & 0x3FFu) << 16);
}

uint32_t calc_dfsdm_cr1(uint32_t channel)
{
    /* FAST (29), RCH (26:24), RDMAEN (21), RCONT (18); DFEN (0) stays 0 */
    return (1u << 29) | ((channel & 7u) << 24) | (1u << 21) | (1u << 18);
}

static int16_t saturate16(int32_t v)
{
    if (v > 32767)
        return 32767;
    if (v < -32768)
        return -32768;
    return (int16_t)v;
}

int16_t calc_dfsdm_sample(uint32_t rdatar)
{
    return saturate16((int32_t)rdatar >> 8);   /* arithmetic shift keeps the 24-bit sign */
}

void calc_dc_init(calc_dc_t *st)
{
    st->x1 = 0;
    st->y1 = 0;
}

void calc_dc_block(calc_dc_t *st, int16_t *pcm, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int32_t x = pcm[i];
        /* |y| <= 2 * 32768 (the filter's L1 gain is 2): y1 < 2^25 with 8 fraction bits, and
         * y1 * p needs 64 bits; >> on a negative value is arithmetic with GCC and Clang */
        int64_t feedback = ((int64_t)st->y1 * CALC_DC_POLE_Q15 + (1 << 14)) >> 15;
        st->y1 = (int32_t)((x - st->x1) * 256 + (int32_t)feedback);
        st->x1 = x;
        pcm[i] = saturate16((st->y1 + 128) >> 8);
    }
}
