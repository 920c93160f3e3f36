/* Pure arithmetic of the firmware's clock tree, USART and DFSDM setup (RM0351 facts).
 * No register access here, so the same file compiles for the host, where tests compare it
 * with asc_toolchain/dfsdm.py. */
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
/* One DFSDM RDATAR word (24-bit sample in bits 31:8) to int16, saturating. */
int16_t calc_dfsdm_sample(uint32_t rdatar);

#endif
