/* The application: hops of ASC_FEATURES_HOP samples (512 for the seed) -> streaming log-mel
 * features -> every ASC_FEATURES_N_COLUMNS new columns (32: 1.024 s for the seed) the network ->
 * one JSON result line (format in firmware/README.md). Audio arrives in blocks of any size. */
#ifndef ASC_CLASSIFIER_H
#define ASC_CLASSIFIER_H

#include <stdint.h>

#define CLASSIFIER_SMOOTH 7u     /* windows averaged for the smoothed label */

/* Create and initialise the network; returns 0, or the generated API's error type. */
int classifier_init(void);
/* Forget all audio and history; the next result has seq 0 and names src ("mic" or "feed"). */
void classifier_reset(const char *src);
/* Add n int16 samples, given as little-endian bytes (2n of them). */
void classifier_push_le(const uint8_t *bytes, uint32_t n);
/* Add n int16 samples. */
void classifier_push(const int16_t *pcm, uint32_t n);
uint32_t classifier_windows(void);

#endif
