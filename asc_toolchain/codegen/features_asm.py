"""Cortex-M4 assembly for the feature front end's 8-point DFTs, laid out by the generator.

GCC loads and stores every float with its own VLDR/VSTR; the blocks here move complex values
as register pairs (VLDR.64/VSTR.64) and twiddle sets with one VLDM. Each block performs exactly
the floating-point operations of the portable C in templates/asc_features.c.j2, in the same
order and with the same fused multiply-adds (VFMA/VFMS = fmaf, never VMLA), so results are
bit-for-bit those of the C path; only how values reach the registers differs.

A block is written as a list of operations on named values (re/im pairs) and registers are
then assigned by a small allocator that keeps complex values in even/odd pairs where it can.
"""

from __future__ import annotations

import itertools

VLDR_REACH = 1020          # VLDR/VSTR immediate offset range in bytes (multiple of 4)
C8_REG = 31                # s31 holds cos(pi/4), pinned by the C caller
TWIDDLE_BASE = 16          # VLDM target of the 14 twiddle floats: s16..s29


class _Block:
    """Operations on named float values, then register allocation and assembly text."""

    def __init__(self):
        self.ops: list[tuple] = []
        self.fresh = itertools.count()

    def new(self, tag: str) -> str:
        return f"{tag}.{next(self.fresh)}"

    def binop(self, mnem: str, a: str, b: str, tag: str = "t") -> str:
        dst = self.new(tag)
        self.ops.append(("op", mnem, dst, a, b))
        return dst

    def fma(self, mnem: str, acc: str, a: str, b: str, tag: str = "t") -> str:
        """dst = acc + a*b (vfma) or acc - a*b (vfms), one rounding."""
        dst = self.new(tag)
        self.ops.append(("acc", mnem, dst, acc, a, b))
        return dst


def _complex(block: _Block, tag: str) -> tuple[str, str]:
    return block.new(tag + "r"), block.new(tag + "i")


def _bfly(b: _Block, x: list, i: int, j: int) -> None:
    """BFLY of the C: x[i] += x[j], x[j] = old x[i] - x[j]."""
    (ar, ai), (br, bi) = x[i], x[j]
    tr, ti = b.binop("vsub", ar, br, "r"), b.binop("vsub", ai, bi, "i")
    x[i] = (b.binop("vadd", ar, br, "r"), b.binop("vadd", ai, bi, "i"))
    x[j] = (tr, ti)


def dft8(b: _Block, x: list) -> list:
    """The C's DFT8_STORE arithmetic on x[0..7] (name pairs); returns out[0..7].

    x6 = (x6i, -x6r) and x7 = (x7i - x7r, -(x7r + x7i)) are kept with their negations folded
    into the next butterfly: a + (-b) and a - b (a - (-b) and a + b) are the same IEEE
    operation, so no negation instruction is needed.
    """
    for i in range(4):
        _bfly(b, x, i, i + 4)
    x5r, x5i = x[5]
    x[5] = (b.binop("vadd", x5r, x5i, "r"), b.binop("vsub", x5i, x5r, "i"))
    x6r, x6i = x[6]                                  # rotated: (x6i, -x6r)
    x7r, x7i = x[7]
    t7, s7 = b.binop("vsub", x7i, x7r, "r"), b.binop("vadd", x7r, x7i, "i")   # rotated: (t7, -s7)
    _bfly(b, x, 0, 2)
    _bfly(b, x, 1, 3)
    (ar, ai) = x[4]                                  # BFLY(x4, (x6i, -x6r))
    x[6] = (b.binop("vsub", ar, x6i, "r"), b.binop("vadd", ai, x6r, "i"))
    x[4] = (b.binop("vadd", ar, x6i, "r"), b.binop("vsub", ai, x6r, "i"))
    (ar, ai) = x[5]                                  # BFLY(x5, (t7, -s7))
    x[7] = (b.binop("vsub", ar, t7, "r"), b.binop("vadd", ai, s7, "i"))
    x[5] = (b.binop("vadd", ar, t7, "r"), b.binop("vsub", ai, s7, "i"))
    out = [None] * 8
    (x0r, x0i), (x1r, x1i), (x2r, x2i), (x3r, x3i) = x[0], x[1], x[2], x[3]
    out[0] = (b.binop("vadd", x0r, x1r, "r"), b.binop("vadd", x0i, x1i, "i"))
    out[4] = (b.binop("vsub", x0r, x1r, "r"), b.binop("vsub", x0i, x1i, "i"))
    out[2] = (b.binop("vadd", x2r, x3i, "r"), b.binop("vsub", x2i, x3r, "i"))
    out[6] = (b.binop("vsub", x2r, x3i, "r"), b.binop("vadd", x2i, x3r, "i"))
    (x4r, x4i), (x5r, x5i), (x6r, x6i), (x7r, x7i) = x[4], x[5], x[6], x[7]
    c8 = "c8"
    out[1] = (b.fma("vfma", x4r, c8, x5r, "r"), b.fma("vfma", x4i, c8, x5i, "i"))
    out[5] = (b.fma("vfms", x4r, c8, x5r, "r"), b.fma("vfms", x4i, c8, x5i, "i"))
    out[3] = (b.fma("vfma", x6r, c8, x7i, "r"), b.fma("vfms", x6i, c8, x7r, "i"))
    out[7] = (b.fma("vfms", x6r, c8, x7i, "r"), b.fma("vfma", x6i, c8, x7r, "i"))
    return out


def _last_uses(ops: list) -> dict:
    last = {}
    for i, op in enumerate(ops):
        for name in _reads(op):
            last[name] = i
    return last


def _reads(op: tuple) -> list:
    kind = op[0]
    if kind == "op":
        return [op[3], op[4]]
    if kind == "acc":
        return [op[3], op[4], op[5]]
    if kind == "st2":
        return list(op[1])
    return []


class _Regs:
    """Free S registers and the name -> register map; prefers even/odd pairs for (re, im)."""

    def __init__(self, usable, targets=None, high_first=False):
        self.targets = dict(targets or {})
        self.order = (lambda regs: sorted(regs, reverse=True)) if high_first else sorted
        self.free = set(usable)
        self.reg = {"c8": C8_REG}
        self.partner: dict[str, str] = {}
        self.used: set[int] = set()

    def take(self, name: str, reg: int) -> int:
        self.free.discard(reg)
        self.reg[name] = reg
        self.used.add(reg)
        return reg

    def release(self, name: str) -> None:
        if name != "c8":
            self.free.add(self.reg[name])

    def pick(self, name: str, hint: int | None = None) -> int:
        """A free register for ``name``: next to its partner, else one with a free partner
        slot (re even, im odd), else ``hint``, else the lowest free one."""
        other = self.partner.get(name)
        want_even = name.split(".")[0].endswith("r")
        if self.targets.get(name) in self.free:
            return self.take(name, self.targets[name])
        if other in self.reg and other != name:
            mate = self.reg[other] ^ 1
            if mate in self.free and (mate % 2 == 0) == want_even:
                return self.take(name, mate)
        if hint is not None and hint in self.free and (hint % 2 == 0) == want_even \
                and (hint ^ 1) in self.free:
            return self.take(name, hint)
        for r in self.order(self.free):
            if (r % 2 == 0) == want_even and (r ^ 1) in self.free:
                return self.take(name, r)
        if not self.free:
            raise ValueError("out of S registers")
        return self.take(name, min(self.free))

    def pair(self, re: str, im: str) -> int:
        """An even register r with r + 1 also free, for a 64-bit load."""
        for r in self.order(self.free):
            if r % 2 == 0 and r + 1 in self.free:
                self.take(re, r)
                self.take(im, r + 1)
                return r
        raise ValueError("no free S register pair")


def _addr(base: str, off: int) -> str:
    return f"[%[{base}], #{off}]" if off else f"[%[{base}]]"


def allocate(ops: list, usable=range(31), targets=None, high_first=False) -> tuple[list, set]:
    """Assembly lines for ``ops`` and the set of S registers they write. ``targets``: wished
    registers of some values (taken when free; a value updated in place inherits its
    result's wish); ``high_first``: other values go to the highest free registers."""
    last = _last_uses(ops)
    targets = dict(targets or {})
    for i in range(len(ops) - 1, -1, -1):
        op = ops[i]
        if op[0] == "acc" and last[op[3]] == i and op[2] in targets:
            targets.setdefault(op[3], targets[op[2]])
    regs = _Regs(usable, targets, high_first)
    for op in ops:                    # remember which names form one complex value
        if op[0] in ("ld2", "st2", "cvt2"):
            regs.partner[op[1][0]], regs.partner[op[1][1]] = op[1][1], op[1][0]
    _pair_results(ops, regs.partner)
    lines = []
    for i, op in enumerate(ops):
        lines += _emit(op, i, last, regs)
    return lines, regs.used


def _pair_results(ops: list, partner: dict) -> None:
    """Results computed side by side (re then im of one value) become partners too."""
    dsts = [op[2] for op in ops if op[0] in ("op", "acc")]
    for a, b in zip(dsts, dsts[1:]):
        ta, tb = a.split(".")[0], b.split(".")[0]
        if ta.endswith("r") and tb.endswith("i") and a not in partner and b not in partner:
            partner[a], partner[b] = b, a


def _emit(op: tuple, i: int, last: dict, regs: _Regs) -> list:
    """Assembly lines for operation ``op`` (the i-th); registers freed after their last use."""
    return _EMITTERS[op[0]](op, i, last, regs)


def _release_last(names, i: int, last: dict, regs: _Regs) -> None:
    for name in names:
        if last[name] == i:
            regs.release(name)


def _emit_ldm(op, i, last, regs):
    names, base = op[1], op[2]
    for k, name in enumerate(names):
        regs.take(name, TWIDDLE_BASE + k)
    bang = "!" if len(op) > 3 else ""
    return [f"vldmia %[{base}]{bang}, {{s{TWIDDLE_BASE}-s{TWIDDLE_BASE + len(names) - 1}}}"]


def _emit_ld2(op, i, last, regs):
    r = regs.pair(*op[1])
    base, off = op[2]
    if off == "ia!" or off == "db!":              # load and move the base on / back
        return [f"vldm{off[:2]} %[{base}]!, {{d{r // 2}}}"]
    return [f"vldr.64 d{r // 2}, {_addr(base, off)}"]


def _emit_cvt2(op, i, last, regs):
    r = regs.pair(*op[1])
    base, off = op[2]
    load = f"[%[{base}]], #4" if off == "ia!" else _addr(base, off)
    return [f"ldr %[lo], {load}", "asr %[hi], %[lo], #16",
            f"vmov s{r}, s{r + 1}, %[lo], %[hi]",
            f"vcvt.f32.s16 s{r}, s{r}, #0", f"vcvt.f32.s16 s{r + 1}, s{r + 1}, #0"]


def _emit_st2(op, i, last, regs):
    (re, im), (base, off) = op[1], op[2]
    r, q = regs.reg[re], regs.reg[im]
    _release_last((re, im), i, last, regs)
    paired = r % 2 == 0 and q == r + 1
    if off == "ia!":                              # store and move the base on
        if paired:
            return [f"vstmia %[{base}]!, {{d{r // 2}}}"]
        return [f"vstr s{r}, [%[{base}]]", f"vstr s{q}, [%[{base}], #4]", f"add %[{base}], %[{base}], #8"]
    if len(op) > 3:                               # the base's last use: advance it
        if paired and off == 0:
            return [f"vstmia %[{base}]!, {{d{r // 2}}}"]
        return [f"vstr s{r}, {_addr(base, off)}", f"vstr s{q}, {_addr(base, off + 4)}",
                f"add %[{base}], %[{base}], #8"]
    if paired:
        return [f"vstr.64 d{r // 2}, {_addr(base, off)}"]
    return [f"vstr s{r}, {_addr(base, off)}", f"vstr s{q}, {_addr(base, off + 4)}"]


def _emit_op(op, i, last, regs):
    _, mnem, dst, a, b = op
    src = f"s{regs.reg[a]}, s{regs.reg[b]}"
    hint = regs.reg[a]
    _release_last({a, b}, i, last, regs)
    return [f"{mnem}.f32 s{regs.pick(dst, hint)}, {src}"]


def _emit_acc(op, i, last, regs):
    _, mnem, dst, acc, a, b = op                  # dst = acc +- a*b
    src = f"s{regs.reg[a]}, s{regs.reg[b]}"
    if last[acc] == i:                            # accumulate in place
        reg = regs.reg[acc]
        _release_last({a, b} - {acc}, i, last, regs)
        regs.take(dst, reg)
        return [f"{mnem}.f32 s{reg}, {src}"]
    acc_reg = regs.reg[acc]
    _release_last({a, b}, i, last, regs)
    reg = regs.pick(dst)
    return [f"vmov.f32 s{reg}, s{acc_reg}", f"{mnem}.f32 s{reg}, {src}"]


_EMITTERS = {"ldm": _emit_ldm, "ld2": _emit_ld2, "cvt2": _emit_cvt2, "st2": _emit_st2,
             "op": _emit_op, "acc": _emit_acc}


def _bases(ptr: str, offsets: list, end_at_zero: bool = False) -> tuple[dict, list]:
    """Base registers for byte ``offsets`` from C pointer ``ptr`` so that each offset is in
    VLDR's reach: {offset: (base name, offset from it)} and [(base name, C expression)].
    With ``end_at_zero`` each base is the largest offset it serves (for VSTMIA base!)."""
    where, bases = {}, []
    todo = sorted(set(offsets))
    while todo:
        if end_at_zero:
            group = [o for o in todo if o - todo[0] <= VLDR_REACH]
            mid = group[-1]
        else:
            group = [o for o in todo if o - todo[0] <= 2 * VLDR_REACH]
            mid = 0 if all(abs(o) <= VLDR_REACH for o in group) \
                else (group[0] + group[-1]) // 8 * 4
        name = f"{ptr}{len(bases)}"
        bases.append((name, f"(const char *){ptr} + {mid}" if mid else f"(const char *){ptr}"))
        for o in group:
            where[o] = (name, o - mid)
        todo = todo[len(group):]
    return where, bases


def _finish(b: _Block, stores: list, out_ptr: str, step_bytes: int, bases: list,
            advance: bool = False) -> dict:
    """Store the outputs, allocate; with ``advance`` each output base pointer moves on by
    one complex value (8 bytes) in its last store, and the twiddle pointer past its set."""
    out_where, out_bases = _bases(out_ptr, [q * step_bytes for q in range(8)], advance)
    last_store = {}
    for q, value in enumerate(stores):
        last_store[out_where[q * step_bytes][0]] = len(b.ops)
        b.ops.append(("st2", value, out_where[q * step_bytes]))
    if advance:
        for i in last_store.values():
            b.ops[i] = b.ops[i] + (True,)
        b.ops = [op + (True,) if op[0] == "ldm" else op for op in b.ops]
    lines, used = allocate(b.ops)
    seen, inputs = set(), []
    for name, expr in bases + out_bases:
        if name not in seen:
            seen.add(name)
            inputs.append((name, expr))
    return {"lines": lines, "inputs": inputs, "clobbers": [f"s{r}" for r in sorted(used)]}


def stage_dft8(step_bytes: int, twiddled: bool, advance: bool = False) -> dict:
    """One 8-point DFT of a radix-8 stage: inputs and outputs at p + q * step_bytes, times
    the twiddles w[0..13] (W^j, j = 1..7, re/im) when ``twiddled`` (the C's TWIDDLE)."""
    b = _Block()
    offsets = [q * step_bytes for q in range(8)]
    where, bases = _bases("p", offsets, advance)
    if twiddled:
        w = [b.new("wr" if k % 2 == 0 else "wi") for k in range(14)]
        b.ops.append(("ldm", w, "w"))
        bases = bases + [("w", "(const char *)w")]
    x = []
    for j in range(8):
        pr, pi = _complex(b, "p")
        b.ops.append(("ld2", (pr, pi), where[j * step_bytes]))
        if twiddled and j:
            wr, wi = w[2 * j - 2], w[2 * j - 1]
            nt, m = b.binop("vnmul", pi, wi, "r"), b.binop("vmul", pi, wr, "i")
            x.append((b.fma("vfma", nt, pr, wr, "r"), b.fma("vfma", m, pr, wi, "i")))
        else:
            x.append((pr, pi))
    out = dft8(b, x)
    return _finish(b, out, "p", step_bytes, bases, advance=advance)


def first_dft8_moving(span: int) -> dict:
    """The C's first_stage inner body (x_j = o/v int16 pairs times Hann pairs, then one
    8-point DFT whose outputs are contiguous) for one step of its loop, with the pointers moved
    on in the loads (o, v by one int16 pair, the Hann pointers by one float pair: h up, hr
    down). Hann pairs
    come from two bases each (h and h + 2 span; hr + 1 and hr + 1 - 2 span, in floats), so
    spans must be within VLDR's reach: 4 span <= 1020 bytes."""
    if 4 * span > VLDR_REACH - 8:
        raise ValueError(f"span {span} is beyond VLDR's reach")
    b = _Block()
    d = 4 * span                                       # bytes between Hann pairs
    plan = {1: ("ha", d), 0: ("ha", "ia!"), 3: ("hb", d), 2: ("hb", "ia!")}
    rplan = {1: ("ra", -8 - d), 0: ("ra", "db!"), 3: ("rb", -8 - d), 2: ("rb", "db!")}
    x = [None] * 8
    for side, src, table in (("o", "o", plan), ("v", "v", rplan)):
        for i in (1, 3, 2, 0):                          # a base's offset 0 last: it moves
            sr, si = _complex(b, "s")
            ha, hb = _complex(b, "h")
            b.ops.append(("cvt2", (sr, si), (src, "ia!" if i == 0 else 2 * i * span)))
            b.ops.append(("ld2", (ha, hb), table[i]))
            if side == "o":
                x[i] = (b.binop("vmul", sr, ha, "r"), b.binop("vmul", si, hb, "i"))
            else:
                x[4 + i] = (b.binop("vmul", sr, hb, "r"), b.binop("vmul", si, ha, "i"))
    out = dft8(b, x)
    targets = {}
    for q, (re, im) in enumerate(out):                 # outputs in s0..s15, in order
        b.ops.append(("st2", (re, im), ("out0", "ia!")))
        targets[re], targets[im] = 2 * q, 2 * q + 1
    lines, used = allocate(b.ops, targets=targets, high_first=True)
    lines = _merge_stores(lines, "out0")
    lines.append(f"add %[out0], %[out0], #{4 * span - 64}")    # the next 8-point DFT
    moving = [("o", "(const char *)o"), ("v", "(const char *)v"), ("ha", "(const char *)h"),
              ("hb", f"(const char *)(h + {2 * span})"), ("ra", "(const char *)(hr + 1)"),
              ("rb", f"(const char *)(hr + {1 - 2 * span})")]
    moving.append(("out0", "(const char *)out"))
    return {"lines": lines, "inputs": moving, "scratch": ["lo", "hi"],
            "clobbers": [f"s{r}" for r in sorted(used)]}


def _merge_stores(lines: list, base: str) -> list:
    """Adjacent 'vstmia base!, {dA}', '{dA+1}' ... become one VSTMIA of the run."""
    out, prefix = [], f"vstmia %[{base}]!, {{d"
    for line in lines:
        if line.startswith(prefix) and out and out[-1].startswith(prefix):
            prev = out[-1][len(prefix):-1].split("-d")
            this = int(line[len(prefix):-1])
            if this == int(prev[-1]) + 1:
                out[-1] = f"{prefix}{prev[0]}-d{this}}}"
                continue
        out.append(line)
    return out


def split_mel_loop() -> list:
    """The C's SPLIT_MEL_RUN loop body for one k, n times: Z[k] (post-increment), Z[N-k]
    (pre-decrement), the k's twiddle and two rise weights with one VLDM, then the split step,
    both powers and the four segment sums (operands rl, sl, rh, sh), in the C's order."""
    return ["1:",
            "vldmia %[zk]!, {s0-s1}", "vldmdb %[zm]!, {s2-s3}", "vldmia %[t]!, {s4-s7}",
            "vadd.f32 s8, s0, s2", "vsub.f32 s9, s1, s3",          # er, ei
            "vadd.f32 s10, s1, s3", "vsub.f32 s11, s2, s0",        # orr, oi
            "vnmul.f32 s12, s5, s11", "vmul.f32 s13, s5, s10",
            "vfma.f32 s12, s4, s10", "vfma.f32 s13, s4, s11",     # tr, ti
            "vadd.f32 s0, s8, s12", "vadd.f32 s1, s9, s13",        # pr, pi
            "vsub.f32 s2, s8, s12", "vsub.f32 s3, s9, s13",        # mr, mi
            "vmul.f32 s14, s1, s1", "vmul.f32 s15, s3, s3",
            "vfma.f32 s14, s0, s0", "vfma.f32 s15, s2, s2",       # plo, phi
            "vfma.f32 %[rl], s6, s14", "vadd.f32 %[sl], %[sl], s14",
            "vfma.f32 %[rh], s7, s15", "vadd.f32 %[sh], %[sh], s15",
            "subs %[n], %[n], #1", "bne 1b"]


def window_column_loop(n_mels: int) -> dict:
    """The C's window_int8 inner loop over one column's mel values, ``chunk`` at a time: the
    values and their (gain, offset) pairs with one VLDM each, then per value the floor
    (strictly below: MI), the shift by the peak, one fused multiply-add, truncation, the
    -256 and the saturation to int8, stored with a post-increment of one row (32 bytes
    for 32 columns: operand ``stride``)."""
    chunk = max(c for c in range(1, 11) if n_mels % c == 0)
    lines = ["1:", f"vldmia %[col]!, {{s0-s{chunk - 1}}}",
             f"vldmia %[go]!, {{s{chunk}-s{3 * chunk - 1}}}"]
    for e in range(chunk):
        v, g, o = f"s{e}", f"s{chunk + 2 * e}", f"s{chunk + 2 * e + 1}"
        lines += [f"vcmp.f32 {v}, %[floor]", "vmrs APSR_nzcv, fpscr", "it mi",
                  f"vmovmi.f32 {v}, %[floor]", f"vsub.f32 {v}, {v}, %[peak]",
                  f"vfma.f32 {o}, {v}, {g}", f"vcvt.s32.f32 {o}, {o}", f"vmov %[q], {o}",
                  "sub %[q], %[q], #256", "ssat %[q], #8, %[q]", "strb %[q], [%[o]], %[stride]"]
    lines += ["subs %[n], %[n], #1", "bne 1b"]
    return {"lines": lines, "chunk": chunk,
            "clobbers": [f"s{r}" for r in range(3 * chunk)]}
