/* MP34DT01 PDM microphone through DFSDM1 channel 2 and DMA1 channel 4 (RM0351, UM2153).
 * Pins: PE9 = DFSDM1_CKOUT (clock to both microphones), PE7 = DFSDM1_DATIN2 (their shared
 * data line; this microphone answers on the rising clock edge). Blocks come out DC-blocked
 * (calc_dc_block); the host feed never goes through here. */
#ifndef ASC_MIC_H
#define ASC_MIC_H

#include <stdint.h>
#include "calc.h"

#define MIC_BLOCK 512u          /* samples per block (the seed's feature hop; any hop works) */

typedef struct {
    uint32_t dma_irqs;          /* half- and full-transfer events: 7.8125 per second at 16 kHz */
    uint32_t dropped;           /* blocks overwritten before they were read */
    uint32_t dma_errors;        /* DMA transfer errors (each restarts the path) */
    uint32_t overruns;          /* DFSDM regular overruns: a sample lost before the DMA read it */
} mic_counters_t;

/* Configure and start the microphone path; returns 0, or -1 if no DFSDM plan fits. */
int mic_start(uint32_t kernel_hz, uint32_t fs_hz, uint32_t mic_min_hz, uint32_t mic_max_hz,
              uint32_t mic_target_hz);
void mic_stop(void);
const dfsdm_plan_t *mic_plan(void);
/* Copy the next finished block to out (int16, DC-blocked); returns 1 if there was one. */
int mic_read(int16_t *out);
/* Counters since boot (a consistent snapshot). */
mic_counters_t mic_counters(void);

#endif
