/* Part of asc-tool: the host harness of the generated feature front end (asc_features.c),
 * compiled beside it on this machine by asc_toolchain.codegen.features_c.build_features_harness;
 * never part of the firmware.
 *
 *   features_harness < pcm.s16le > records.bin
 *       pushes the int16 samples on stdin block by block (ASC_FEATURES_HOP samples; a partial
 *       last block is dropped) and writes one record per push: int8 return value of
 *       asc_features_push, uint8 column count, the window as ASC_FEATURES_INPUT_SIZE float32 dB
 *       values, then the window as ASC_FEATURES_INPUT_SIZE int8 values.
 *   features_harness --sizeof      prints sizeof(asc_features_t)
 *   features_harness --bench N     pushes N blocks of seeded noise, forms a window every
 *                                  ASC_FEATURES_N_COLUMNS pushes, prints a checksum (for
 *                                  instruction counting with callgrind)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asc_features.h"

static asc_features_t state;

static int stream(void)
{
    static int16_t block[ASC_FEATURES_HOP];
    static float db[ASC_FEATURES_INPUT_SIZE];
    static int8_t q[ASC_FEATURES_INPUT_SIZE];

    asc_features_init(&state);
    while (fread(block, sizeof(block[0]), ASC_FEATURES_HOP, stdin) == ASC_FEATURES_HOP) {
        int8_t head[2];
        head[0] = (int8_t)asc_features_push(&state, block);
        head[1] = (int8_t)asc_features_columns(&state);
        asc_features_window_db(&state, db);
        asc_features_window_int8(&state, q);
        if (fwrite(head, 1, 2, stdout) != 2 || fwrite(db, sizeof(db), 1, stdout) != 1 ||
            fwrite(q, sizeof(q), 1, stdout) != 1) {
            fprintf(stderr, "features_harness: write failed\n");
            return 1;
        }
    }
    return 0;
}

static int bench(long blocks)
{
    static int16_t block[ASC_FEATURES_HOP];
    static int8_t q[ASC_FEATURES_INPUT_SIZE];
    uint32_t seed = 12345u;
    long n, sum = 0;
    int i;

    asc_features_init(&state);
    for (n = 0; n < blocks; n++) {
        for (i = 0; i < ASC_FEATURES_HOP; i++) {
            seed = seed * 1664525u + 1013904223u;
            block[i] = (int16_t)((int32_t)(seed >> 16) - 32768) / 8;
        }
        asc_features_push(&state, block);
        if ((n + 1) % ASC_FEATURES_N_COLUMNS == 0) {
            asc_features_window_int8(&state, q);
            for (i = 0; i < ASC_FEATURES_INPUT_SIZE; i++) {
                sum += q[i];
            }
        }
    }
    printf("%ld\n", sum);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--sizeof") == 0) {
        printf("%lu\n", (unsigned long)sizeof(asc_features_t));
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--bench") == 0) {
        return bench(strtol(argv[2], NULL, 10));
    }
    if (argc != 1) {
        fprintf(stderr, "usage: features_harness [--sizeof | --bench N] < pcm > records\n");
        return 2;
    }
    return stream();
}
