/* Pure arithmetic of the firmware's clock tree, USART and DFSDM setup (RM0351 facts) and of
 * the microphone samples. No register access here, so the same file compiles for the host,
 * where tests compare it with tests/dfsdm_oracle.py. */
#ifndef ASC_CALC_H
#define ASC_CALC_H

#include <stdint.h>

#define CALC_MSI_HZ 4000000u          /* MSI after reset: range 6 = 4 MHz */

/* PLL fed by MSI with M = 1 and R = 2: returns N (8..86) for sysclk_hz, or 0 if impossible. */
uint32_t calc_pll_n(uint32_t msi_hz, uint32_t sysclk_hz);
/* Flash wait states for HCLK in voltage range 1 (16 MHz per wait state, at most 4). */
uint32_t calc_flash_latency(uint32_t hclk_hz);
/* USART BRR for 16x oversampling, rounded to nearest; 0 if the baud cannot be reached. */
uint32_t calc_usart_brr(uint32_t pclk_hz, uint32_t baud);

typedef struct {
    uint32_t ckout_div;     /* kernel clock / microphone clock, 2..256 */
    uint32_t mic_hz;        /* clock driven on DFSDM1_CKOUT */
    uint32_t fosr;          /* sinc filter oversampling ratio, 1..1024 */
    uint32_t order;         /* sinc order, 1..5 */
    uint32_t shift;         /* channel data right shift, 0..31 */
    uint32_t peak;          /* full-scale filter output before the shift: fosr^order */
} dfsdm_plan_t;

/* Choose the DFSDM setup that turns a PDM microphone into fs_hz PCM: the divider whose mic
 * clock lies in [mic_min_hz, mic_max_hz] with an integer FOSR and is closest to mic_target_hz
 * (ties: the higher clock), the highest sinc order whose peak fits 31 bits, and the smallest
 * right shift that brings the peak within int16. Returns 0 on success, -1 if no divider fits. */
int calc_dfsdm_plan(uint32_t kernel_hz, uint32_t fs_hz, uint32_t mic_min_hz,
                    uint32_t mic_max_hz, uint32_t mic_target_hz, dfsdm_plan_t *plan);
/* Register values for the plan (RM0351 §24.8): channel-0 CFGR1 clock bits, CHyCFGR2, FLTxFCR. */
uint32_t calc_dfsdm_ckout_bits(const dfsdm_plan_t *plan);
uint32_t calc_dfsdm_chcfgr2(const dfsdm_plan_t *plan);
uint32_t calc_dfsdm_fcr(const dfsdm_plan_t *plan);
/* FLTxCR1 for continuous regular conversions of `channel` read by DMA, with DFEN = 0. FAST is
 * set: only then is the output rate f_ckin / (FOSR * IOSR) (the plan's fs); with FAST = 0 it is
 * f_ckin / (FOSR * (IOSR - 1 + FORD) + FORD + 1), a quarter of that for sinc4 (RM0351). */
uint32_t calc_dfsdm_cr1(uint32_t channel);
/* One DFSDM RDATAR word (24-bit sample in bits 31:8) to int16, saturating. */
int16_t calc_dfsdm_sample(uint32_t rdatar);

/* DC blocker of the microphone path: y[n] = x[n] - x[n-1] + p * y[n-1] with the pole p =
 * CALC_DC_POLE_Q15 / 32768 (-3 dB at about 13 Hz for 16 kHz), the output kept with 8 fraction
 * bits so rounding leaves no DC of its own; outputs saturate to int16. Integer only, so the
 * Python mirror (tests/dfsdm_oracle.py) is bit-exact. */
#define CALC_DC_POLE_Q15 32604
typedef struct {
    int32_t x1;            /* previous input sample */
    int32_t y1;            /* previous output, 8 fraction bits */
} calc_dc_t;

void calc_dc_init(calc_dc_t *st);
/* Filter n samples in place, carrying the state across calls. */
void calc_dc_block(calc_dc_t *st, int16_t *pcm, uint32_t n);

#endif
