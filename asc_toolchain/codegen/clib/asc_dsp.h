/* Part of the asc-tool kernel library (asc_toolchain/codegen/clib), copied unchanged into every
 * generated network folder; edit the library, not the copy. */
#ifndef ASC_DSP_H
#define ASC_DSP_H

/* Cortex-M4 DSP instructions the fast kernels use, or their exact host model.
 *
 * ASC_USE_DSP: the DSP kernel paths are compiled (on a core with __ARM_FEATURE_DSP unless
 * ASC_NO_DSP, or on the host with ASC_DSP_EMULATE, which models each instruction in C so the
 * host tests run the same sums). ASC_DSP_TARGET: real instructions. ASC_M4_ASM: the
 * inline-assembly kernels too, which need GCC to unroll the loops and fold the shapes into
 * constants (optimized builds). */

#include <stdint.h>
#include <string.h>

#if (defined(__ARM_FEATURE_DSP) && !defined(ASC_NO_DSP)) || defined(ASC_DSP_EMULATE)
#define ASC_USE_DSP 1
#else
#define ASC_USE_DSP 0
#endif

#if defined(__ARM_FEATURE_DSP) && !defined(ASC_NO_DSP) && !defined(ASC_DSP_EMULATE)
#define ASC_DSP_TARGET 1
#else
#define ASC_DSP_TARGET 0
#endif

#if ASC_DSP_TARGET && defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#define ASC_M4_ASM 1
#else
#define ASC_M4_ASM 0
#endif

#if defined(__GNUC__) && !defined(__clang__)
#define ASC_UNROLL _Pragma("GCC unroll 64")
#else
#define ASC_UNROLL
#endif

/* ASC_INLINE: the fast kernels, instantiated in their caller with its constants.
 * ASC_NOINLINE: the generated per-layer functions that call them, compiled on their own. */
#if defined(__GNUC__)
#define ASC_INLINE static inline __attribute__((always_inline))
#define ASC_NOINLINE __attribute__((noinline))
#else
#define ASC_INLINE static inline
#define ASC_NOINLINE
#endif

/* ASC_HOT: a function of a kernel's inner pass, started on a 32-byte line so that the pass's
 * code takes as few lines of the flash cache as it can. */
#if defined(__GNUC__)
#define ASC_HOT __attribute__((aligned(32)))
#else
#define ASC_HOT
#endif

/* ASC_NO_LIBCALL: a function whose short copy loops stay loops (GCC would call memcpy/memset
 * for them, whose set-up costs more than a few bytes' copy). */
#if defined(__GNUC__) && !defined(__clang__)
#define ASC_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define ASC_NO_LIBCALL
#endif

/* A 32-bit load from any alignment (one LDR on the M4, which allows unaligned words). */
static inline int32_t asc_ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#if ASC_DSP_TARGET
#include <arm_acle.h>

static inline int32_t asc_sxtb16_ror8(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
static inline int32_t asc_sxtab16_ror8(int32_t a, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}
/* Assembly text shared by the kernels' assembly (operands are register names as strings):
 * the one-rounding requantization of accumulator A (asc_rq_half: multiplier M, rounding half
 * H -- with the output zero point folded in where the kernel does so -- right shift E) and SSAT
 * to int8; then max(A, LO) and min(A, HI). */
#define ASC_RQ_ASM(A, M, H, E)                                                                     \
    "lsl " A ", " A ", #1\n\t"                                                                    \
    "smmulr " A ", " A ", " M "\n\t"                                                              \
    "add " A ", " A ", " A ", asr #31\n\t"                                                        \
    "add " A ", " A ", " H "\n\t"                                                                 \
    "asr " A ", " A ", " E "\n\t"                                                                 \
    "ssat " A ", #8, " A "\n\t"
#define ASC_MAX_ASM(A, LO) "cmp " A ", " LO "\n\tit lt\n\tmovlt " A ", " LO "\n\t"
#define ASC_MIN_ASM(A, HI) "cmp " A ", " HI "\n\tit gt\n\tmovgt " A ", " HI "\n\t"

#define ASC_SXTB16(x) __sxtb16(x)
#define ASC_SXTB16_ROR8(x) asc_sxtb16_ror8(x)
#define ASC_SXTAB16(a, x) __sxtab16((a), (x))
#define ASC_SXTAB16_ROR8(a, x) asc_sxtab16_ror8((a), (x))
#define ASC_SMLAD(a, b, acc) __smlad((a), (b), (acc))
#define ASC_SMLABB(a, b, acc) __smlabb((a), (b), (acc))
#define ASC_SMLABT(a, b, acc) __smlabt((a), (b), (acc))
#define ASC_SMLATB(a, b, acc) __smlatb((a), (b), (acc))
#define ASC_SMLATT(a, b, acc) __smlatt((a), (b), (acc))
#define ASC_SAT8(v) __ssat((v), 8)
#else
/* The host model. The instructions wrap modulo 2^32; so does the model (no signed overflow). */
static inline int32_t asc_sxtb16(int32_t x)
{
    const uint32_t u = (uint32_t)x;
    const uint32_t lo = (uint32_t)(uint16_t)(int16_t)(int8_t)(u & 0xFFu);
    const uint32_t hi = (uint32_t)(uint16_t)(int16_t)(int8_t)((u >> 16) & 0xFFu);
    return (int32_t)(lo | (hi << 16));
}

static inline int32_t asc_sxtb16_ror8(int32_t x)
{
    const uint32_t u = (uint32_t)x;
    return asc_sxtb16((int32_t)((u >> 8) | (u << 24)));
}

/* Halfwords of a plus the sign-extended bytes 0 and 2 of x, each modulo 2^16. */
static inline int32_t asc_sxtab16(int32_t a, int32_t x)
{
    const uint32_t e = (uint32_t)asc_sxtb16(x);
    const uint32_t u = (uint32_t)a;
    const uint32_t lo = (u + e) & 0xFFFFu;
    const uint32_t hi = ((u >> 16) + (e >> 16)) & 0xFFFFu;
    return (int32_t)(lo | (hi << 16));
}

static inline int32_t asc_sxtab16_ror8(int32_t a, int32_t x)
{
    const uint32_t u = (uint32_t)x;
    return asc_sxtab16(a, (int32_t)((u >> 8) | (u << 24)));
}

static inline int32_t asc_lo16(int32_t x) { return (int16_t)((uint32_t)x & 0xFFFFu); }
static inline int32_t asc_hi16(int32_t x) { return (int16_t)((uint32_t)x >> 16); }

static inline int32_t asc_mac16(int32_t acc, int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(a * b));
}

static inline int32_t asc_smlad(int32_t a, int32_t b, int32_t acc)
{
    return asc_mac16(asc_mac16(acc, asc_lo16(a), asc_lo16(b)), asc_hi16(a), asc_hi16(b));
}
#define ASC_SXTB16(x) asc_sxtb16(x)
#define ASC_SXTB16_ROR8(x) asc_sxtb16_ror8(x)
#define ASC_SXTAB16(a, x) asc_sxtab16((a), (x))
#define ASC_SXTAB16_ROR8(a, x) asc_sxtab16_ror8((a), (x))
#define ASC_SMLAD(a, b, acc) asc_smlad((a), (b), (acc))
#define ASC_SMLABB(a, b, acc) asc_mac16((acc), asc_lo16(a), asc_lo16(b))
#define ASC_SMLABT(a, b, acc) asc_mac16((acc), asc_lo16(a), asc_hi16(b))
#define ASC_SMLATB(a, b, acc) asc_mac16((acc), asc_hi16(a), asc_lo16(b))
#define ASC_SMLATT(a, b, acc) asc_mac16((acc), asc_hi16(a), asc_hi16(b))
static inline int32_t asc_sat8(int32_t v)
{
    return v < -128 ? -128 : (v > 127 ? 127 : v);
}
#define ASC_SAT8(v) asc_sat8(v)
#endif

#endif /* ASC_DSP_H */
