/*
 * PTX floating-point semantics as pure functions on bit patterns: conversions between every
 * pair of types with every rounding mode and modifier, half-precision (f16/bf16 and their x2
 * forms) arithmetic, f32/f64 arithmetic under the non-default rounding modes, and the approximate
 * math instructions. The executor (exec*.c) inlines its own fast paths for the common cases
 * (f32/f64 add/sub/mul/fma/setp with .rn) and calls these for everything else.
 *
 * Conventions: values travel as uint64_t bit patterns, low bits used for narrower types (an f16
 * in bits 0-15, an f16x2 pair as lo | hi << 16, an f32 in bits 0-31). `type` arguments are
 * enum ptx_type, `rnd` is enum ptx_rnd (PTX_RND_NONE = the instruction's default), `flags` are
 * PTX_F_* bits of the instruction (FTZ, SAT, RELU, SATFINITE, NAN, XORSIGN, ABS, APPROX, FULL).
 * Nothing here reads or writes the host's floating-point environment globally (no FTZ/DAZ, the
 * rounding mode is restored if changed).
 */
#ifndef GPOOL_PTX_FP_H
#define GPOOL_PTX_FP_H

#include <stdint.h>

/* cvt.rnd.flags.dtype.stype: every integer/float/f16/bf16 pair; float->int saturates to the
 * destination range and NaN gives 0; .rni/.rzi/.rmi/.rpi round float->float to an integral value;
 * .sat clamps floats to [0, 1]; .relu clamps negatives to 0 for f16/bf16 destinations (a NaN becomes the canonical NaN);
 * .ftz flushes f32 subnormal inputs and results to sign-preserving zero. Integer->integer
 * conversions truncate or extend per type (.sat clamps). For the packing form
 * cvt.frnd2.f16x2.f32 / .bf16x2.f32 d, a, b pass dtype F16X2/BF16X2 and src = a << 32 | b (a goes
 * to the upper half of d). Integer results come back sign-extended (s*) or zero-extended to 64. */
uint64_t ptx_fp_cvt(unsigned dtype, unsigned stype, unsigned rnd, unsigned flags, uint64_t src);

/* Binary and ternary arithmetic for any float type (f16, f16x2, bf16, bf16x2, f32, f64) honouring
 * rnd and flags: op is PTX_OP_ADD, SUB, MUL, DIV (f32/f64, incl. .approx and .full), MIN, MAX
 * (with .NaN/.xorsign.abs where PTX allows them), FMA/MAD (c used; single rounding). Half types
 * compute exactly in a wider type and round once. */
uint64_t ptx_fp_arith(unsigned op, unsigned type, unsigned rnd, unsigned flags, uint64_t a,
                      uint64_t b, uint64_t c);

/* Unary operations for any float type: PTX_OP_ABS, NEG, SQRT (rnd or .approx), RSQRT, RCP (rnd or
 * .approx), SIN, COS, LG2, EX2, TANH (approximate ones within the PTX ISA's documented error
 * bounds). */
uint64_t ptx_fp_unary(unsigned op, unsigned type, unsigned rnd, unsigned flags, uint64_t a);

/* setp/set comparison of two float values of type (cmp is enum ptx_cmp incl. the unordered
 * forms, .ftz honoured); for x2 types returns two results in bits 0 and 1. */
unsigned ptx_fp_compare(unsigned cmp, unsigned type, unsigned flags, uint64_t a, uint64_t b);

/* testp.mode.type: mode is enum ptx_mode (PTX_TESTP_*). */
int ptx_fp_testp(unsigned mode, unsigned type, uint64_t a);

/* copysign.type a, b: the magnitude of b with the sign of a (PTX operand order). */
uint64_t ptx_fp_copysign(unsigned type, uint64_t a, uint64_t b);

/* f32 <-> f16/bf16 helpers with round-to-nearest-even, for the executor's hot paths. */
uint16_t ptx_fp_f32_to_f16(float f);
float ptx_fp_f16_to_f32(uint16_t h);
uint16_t ptx_fp_f32_to_bf16(float f);
float ptx_fp_bf16_to_f32(uint16_t h);

#endif
