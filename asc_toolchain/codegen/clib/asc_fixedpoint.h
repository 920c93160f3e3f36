/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */
#ifndef ASC_FIXEDPOINT_H
#define ASC_FIXEDPOINT_H

/* The fixed-point arithmetic of the TensorFlow Lite int8 specification, shared by every kernel:
 * a q31 multiplier and a shift per output channel, a rounding doubling high multiply and a
 * rounding right shift, then the output zero point and the activation clamp. */

#include <stdint.h>
#include <string.h>

#include "asc_dsp.h"

static inline int32_t asc_load_i32_le(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    int32_t v;                  /* one load on a little-endian core */
    memcpy(&v, p, sizeof v);
    return v;
#else
    const uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16)
                       | ((uint32_t)p[3] << 24);
    return (int32_t)u;
#endif
}

static inline int32_t asc_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* max(v, lo) and min(v, hi) without a branch (a compare and one conditional move on the core). */
static inline int32_t asc_max(int32_t v, int32_t lo)
{
#if ASC_DSP_TARGET && defined(__GNUC__)
    __asm__(ASC_MAX_ASM("%0", "%1") : "+r"(v) : "r"(lo) : "cc");
    return v;
#else
    return v < lo ? lo : v;
#endif
}

static inline int32_t asc_min(int32_t v, int32_t hi)
{
#if ASC_DSP_TARGET && defined(__GNUC__)
    __asm__(ASC_MIN_ASM("%0", "%1") : "+r"(v) : "r"(hi) : "cc");
    return v;
#else
    return v > hi ? hi : v;
#endif
}

/* The activation clamp; one saturating instruction when it is the whole int8 range (the
 * condition folds away when lo and hi are constants). */
static inline int32_t asc_activation(int32_t v, int32_t lo, int32_t hi)
{
    return (lo == -128 && hi == 127) ? ASC_SAT8(v) : asc_clamp(v, lo, hi);
}

/* High 32 bits of 2*a*b, rounded to nearest (ties away from zero); saturates the one
 * overflowing case a = b = INT32_MIN. */
static inline int32_t asc_srdhm(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudge;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    /* C99 division truncates toward zero, as the reference does. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31). */
static inline int32_t asc_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^exponent saturated to int32 (0 <= exponent < 31). */
static inline int32_t asc_saturating_shift_left(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* round(x * multiplier * 2^shift / 2^31) with TFLite's rounding (two roundings); shift > 0
 * shifts left. */
static inline int32_t asc_requantize(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    /* The reference multiplies by 2^left in int32 and lets it wrap; so do we, without UB. */
    const int32_t scaled = (int32_t)((uint32_t)x << left);
    return asc_rounding_divide_by_pot(asc_srdhm(scaled, multiplier), right);
}

/* asc_requantize for a multiplier m >= 0 and a right shift e >= 1, valid when the generator
 * has checked that no accumulator can overflow the rounding add (|acc| < 2^30): for m >= 0 the
 * high multiply equals floor((acc * m + 2^30) / 2^31), and rounding x / 2^e half away from
 * zero equals (x - (x < 0) + 2^(e-1)) >> e. One 64-bit multiply-accumulate, no division. */
/* The high multiply of asc_srdhm for |acc| < 2^30: floor((acc * m + 2^30) / 2^31), which equals
 * the reference's rounding (ties away from zero) for either sign of acc * m. */
static inline int32_t asc_hmul(int32_t acc, int32_t m)
{
#if ASC_DSP_TARGET
    /* SMMULR: floor((2 acc m + 2^31) / 2^32), the same value. */
    int32_t x;
    __asm__("smmulr %0, %1, %2" : "=r"(x) : "r"(acc * 2), "r"(m));
    return x;
#else
    return (int32_t)(((int64_t)acc * m + ((int64_t)1 << 30)) >> 31);
#endif
}

static inline int32_t asc_rq(int32_t acc, int32_t m, int32_t e)
{
    const int32_t x = asc_hmul(acc, m);
    return (x + (x >> 31) + ((int32_t)1 << (e - 1))) >> e;
}

/* asc_rq with its rounding constant precomputed: half = 2^(e-1). */
static inline int32_t asc_rq_half(int32_t acc, int32_t m, int32_t e, int32_t half)
{
    const int32_t x = asc_hmul(acc, m);
    return (x + (x >> 31) + half) >> e;
}

#endif /* ASC_FIXEDPOINT_H */
