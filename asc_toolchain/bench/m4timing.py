"""Estimated Cortex-M4 cycles of a run in the emulated board, from its executed instructions.

QEMU counts instructions, not cycles. An execution trace (``-d in_asm,exec,nochain``: each
translated block's instructions once, then one line per block executed, with its address) gives
every executed instruction and, from the address that follows each block, whether its closing
branch was taken. This module applies a timing model to that stream. The figures it gives are an
ESTIMATE of cycles on silicon, not a measurement.

Timing model (Cortex-M4 Technical Reference Manual, r0p1, section 3.3 "Instruction set summary",
cycle counts per instruction; P = pipeline refill):

* data processing, shifts, bit fields, saturation, SIMD add/sub, SXTB16/UXTB16, SEL, IT, NOP,
  barriers and system instructions: 1 cycle (IT folding is not credited);
* multiplies and multiply-accumulates, 32- and 64-bit results, halfword and dual (MUL, MLA, MLS,
  SMULL, UMULL, SMLAL, UMLAL, SMLAxy, SMULxy, SMLAWx, SMLAD, SMUAD, SMLSD, SMMUL, SMMLA, …): 1;
* SDIV/UDIV: 2 to 12 depending on the operands; the model takes 7 (midpoint);
* single loads and stores (LDR/STR and byte, halfword, signed, exclusive forms, PLD): 2, or 1
  when pipelined: a load or store that directly follows a load, and does not use that load's
  result as its address, overlaps with it; nothing overlaps with an instruction after a store;
  with the rules of the TRM's "Load/store timings": a store with an immediate offset and no
  base update (``STR Rx,[Ry,#imm]``) is always 1 (the write buffer takes it while the next
  instruction runs); a load with a base update (``[Rn], #imm`` or ``[Rn, #imm]!``) is not
  pipelined (2); a load or store whose address registers the directly preceding data-processing
  instruction wrote stalls 1 more cycle (no forwarding path to the address generation);
* LDRD/STRD: 1 + 2 = 3; LDM/STM/PUSH/POP: 1 + N (N registers);
* branches (B, BL, BX, BLX, CBZ, CBNZ) and any instruction writing the PC (POP/LDM with PC, LDR
  PC, MOV/ADD PC): 1 when not taken, 1 + P when taken, with P = 2 (``BRANCH_REFILL``); TBB/TBH
  2 + P;
* FPU (FPv4-SP): VADD/VSUB/VMUL/VNEG/VABS/VCVT/VCMP/VMOV/VMRS 1, VMLA/VMLS/VNMLA/VNMLS/VFMA/VFMS
  3, VDIV/VSQRT 14, VLDR/VSTR 2, VLDM/VSTM/VPUSH/VPOP 1 + N.

Flash wait states (a stated assumption, not in the TRM): the STM32L4 needs 4 wait states at
80 MHz (RM0351, "Number of wait states according to CPU clock (HCLK) frequency", range 1: one per
16 MHz step beyond the first, so ``wait_states`` = ceil(f / 16 MHz) - 1). Its ART accelerator
holds an instruction cache of 32 lines of 32 bytes (1 KB), modelled here as fully associative
with least-recently-used replacement over the executed instruction addresses; each line missed
costs the wait states of the four 64-bit flash reads that fill it (4 × WS cycles), the single
cycle of each read overlapping with execution. Data reads from flash (weights, constant tables)
cannot be seen in the trace (it carries no data addresses): they are charged only the load
timing above, as if the ART data cache and prefetch hid their wait states; code and data in RAM
have none. Exception entry/exit and bus contention are not modelled.

Trace details: QEMU may stop a block part-way for an I/O access ("cpu_io_recompile: rewound
execution of TB to ADDR"); only the instructions before ADDR are counted for that execution.
The trace is parsed as it streams (through a FIFO), never held in memory.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
import threading
from collections import Counter, OrderedDict
from pathlib import Path

from ..core.executor import Executor

BRANCH_REFILL = 2                  # P: cycles to refill the pipeline after a taken branch
DIV_CYCLES = 7                     # SDIV/UDIV: 2..12 in the TRM, midpoint assumed
ICACHE_LINES = 32                  # ART instruction cache of the STM32L4: 32 lines of 4x64 bits
ICACHE_LINE_BYTES = 32
FLASH_READS_PER_LINE = 4           # 64-bit flash reads per cache line
WS_STEP_HZ = 16_000_000            # STM32L4 range 1: one wait state per 16 MHz step

CLASSES = ("alu", "mac", "div", "load", "store", "load_store_multiple", "branch", "fpu", "system")

_CONDS = ("eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt",
          "le", "al")
_BRANCH = {"b", "bl", "blx", "bx", "cbz", "cbnz"}
_TABLE_BRANCH = {"tbb", "tbh"}
_LOAD = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrex", "ldrexb", "ldrexh", "ldrt", "ldrbt",
         "ldrht", "ldrsbt", "ldrsht", "pld", "pli"}
_STORE = {"str", "strb", "strh", "strex", "strexb", "strexh", "strt", "strbt", "strht"}
_DOUBLE = {"ldrd", "strd"}
_MULTIPLE = {"ldm", "ldmia", "ldmfd", "ldmdb", "ldmea", "stm", "stmia", "stmea", "stmdb", "stmfd",
             "push", "pop"}
_MAC = {"mul", "mla", "mls", "smull", "umull", "smlal", "umlal", "umaal", "smlad", "smladx",
        "smlsd", "smlsdx", "smuad", "smuadx", "smusd", "smusdx", "smlald", "smlaldx", "smlsld",
        "smlsldx", "smmul", "smmulr", "smmla", "smmlar", "smmls", "smmlsr", "usad8", "usada8",
        *(f"smla{a}{b}" for a in "bt" for b in "bt"), *(f"smul{a}{b}" for a in "bt" for b in "bt"),
        *(f"smlal{a}{b}" for a in "bt" for b in "bt"), "smlawb", "smlawt", "smulwb", "smulwt"}
_DIV = {"sdiv", "udiv"}
_SYSTEM = {"nop", "dsb", "dmb", "isb", "cpsid", "cpsie", "mrs", "msr", "wfi", "wfe", "sev", "bkpt",
           "svc", "it", "yield"}
_FPU_MAC = {"vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"}
_FPU_LONG = {"vdiv", "vsqrt"}
_FPU_MULTIPLE = {"vldm", "vldmia", "vldmdb", "vstm", "vstmia", "vstmdb", "vpush", "vpop"}
_ALU = {"adc", "add", "addw", "adr", "and", "asr", "bic", "bfc", "bfi", "clz", "cmn", "cmp", "eor",
        "lsl", "lsr", "mov", "movw", "movt", "mvn", "neg", "orn", "orr", "rev", "rev16", "revsh",
        "rbit", "ror", "rrx", "rsb", "sbc", "sbfx", "ubfx", "sel", "ssat", "usat", "ssat16", "usat16",
        "sub", "subw", "sxtb", "sxth", "uxtb", "uxth", "sxtb16", "uxtb16", "sxtab", "sxtah",
        "sxtab16", "uxtab", "uxtah", "uxtab16", "tst", "teq", "pkhbt", "pkhtb", "qadd", "qsub",
        "qdadd", "qdsub", "ssax", "sasx", "usax", "uasx", "qasx", "qsax",
        *(f"{p}{op}{w}" for p in ("s", "u", "q", "uq", "sh", "uh") for op in ("add", "sub")
          for w in ("8", "16"))}
_FPU_ALL = {"vadd", "vsub", "vmul", "vnmul", "vneg", "vabs", "vcvt", "vcvtr", "vcmp", "vcmpe",
            "vmov", "vmrs", "vmsr", "vldr", "vstr", *_FPU_MAC, *_FPU_LONG, *_FPU_MULTIPLE}
_KNOWN = (_BRANCH | _TABLE_BRANCH | _LOAD | _STORE | _DOUBLE | _MULTIPLE | _MAC | _DIV | _SYSTEM
          | _ALU)
_INSN = re.compile(r"^0x([0-9a-f]+):\s+((?:[0-9a-f]{4} )+)\s*(\S+)\s*(.*)$")
_REG = re.compile(r"\b(r1[0-5]|r[0-9]|sb|sl|fp|ip|sp|lr|pc)\b")


def model_summary(ws: int) -> dict:
    """The timing model's parameters, for reports beside the estimate."""
    return {"reference": "Cortex-M4 Technical Reference Manual r0p1, 3.3 (cycles per instruction)",
            "branch_refill_cycles": BRANCH_REFILL, "div_cycles": DIV_CYCLES,
            "load_store": "2, or 1 pipelined after a load; STR [Rn, #imm] 1; base-update loads not "
                          "pipelined; +1 for an address written by the preceding data-processing "
                          "instruction; LDRD/STRD 3; LDM/STM/PUSH/POP 1+N",
            "instruction_cache": f"{ICACHE_LINES} lines x {ICACHE_LINE_BYTES} B, fully associative, LRU",
            "flash_wait_states": ws, "cycles_per_missed_line": FLASH_READS_PER_LINE * ws,
            "data_reads_from_flash": "load timing only (ART data cache and prefetch assumed to hide "
                                     "their wait states)"}


def wait_states(clock_hz: int) -> int:
    """Flash wait states at ``clock_hz`` (STM32L4, voltage range 1)."""
    return max(0, math.ceil(clock_hz / WS_STEP_HZ) - 1)


def base_mnemonic(mnemonic: str) -> str:
    """``mnemonic`` without its width (.w/.n), type (.f32, .s32…), condition and flag-setting
    suffixes: ``movge.w`` → ``mov``, ``addseq`` → ``add``, ``bls`` → ``b``, ``vmla.f32`` → ``vmla``."""
    m = mnemonic.lower().split(".")[0]
    if m.startswith("it"):
        return "it"
    if m.startswith("v"):
        return m[:-2] if len(m) > 4 and m[-2:] in _CONDS and m[:-2] in _FPU_ALL else m
    cond = m[:-2] if len(m) > 2 and m[-2:] in _CONDS else None
    for c in (m, cond, m[:-1] if m.endswith("s") else None,
              cond[:-1] if cond and cond.endswith("s") else None):
        if c and c in _KNOWN:
            return c
    return m


def _registers(operands: str) -> list[str]:
    return _REG.findall(operands.lower())


def _list_size(operands: str) -> int:
    body = operands[operands.find("{") + 1:operands.find("}")] if "{" in operands else operands
    n = 0
    for part in body.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = (re.sub(r"\D", "", x) for x in part.split("-", 1))
            n += int(hi) - int(lo) + 1 if lo and hi else 1
        elif part:
            n += 1
    return max(n, 1)


_NO_DEST = {"cmp", "cmn", "tst", "teq", "it", "nop"}


def _address(operands: str) -> tuple[list[str], bool, bool]:
    """(address registers, base update, immediate-or-no offset) of a load/store's operands."""
    ops = operands.lower()
    inside = ops[ops.find("[") + 1:ops.find("]")] if "[" in ops else ""
    regs = _REG.findall(inside)
    update = "!" in ops or bool(re.search(r"\]\s*,", ops))
    return regs, update, len(regs) <= 1


def _written(m: str, cls: str, operands: str) -> set[str]:
    """Registers a data-processing instruction writes (the address-dependency stall)."""
    if cls not in ("alu", "mac") or m in _NO_DEST:
        return set()
    regs = _registers(operands)
    if m in ("smull", "umull", "smlal", "umlal", "umaal", "smlald", "smlaldx", "smlsld", "smlsldx") \
            or m.startswith("smlal"):
        return set(regs[:2])
    return set(regs[:1])


def classify(mnemonic: str, operands: str) -> tuple[str, int, bool]:
    """(class, cycles before pipelining and branch refill, writes the PC) of one instruction."""
    m = base_mnemonic(mnemonic)
    ops = operands.lower()
    regs = _registers(ops)
    dest_pc = bool(regs) and regs[0] == "pc"
    if m.startswith("v"):
        if m in _FPU_MULTIPLE:
            return "fpu", 1 + _list_size(ops), False
        if m in ("vldr", "vstr"):
            return "fpu", 2, False
        if m in _FPU_MAC:
            return "fpu", 3, False
        if m in _FPU_LONG:
            return "fpu", 14, False
        return "fpu", 1, False
    if m in _BRANCH:
        return "branch", 1, True
    if m in _TABLE_BRANCH:
        return "branch", 2, True
    if m in _MULTIPLE:
        return "load_store_multiple", 1 + _list_size(ops), "pc" in regs and m in ("pop", "ldm", "ldmia", "ldmfd", "ldmdb", "ldmea")
    if m in _DOUBLE:
        return ("load" if m == "ldrd" else "store"), 3, False
    if m in _LOAD:
        return "load", 2, dest_pc
    if m in _STORE:
        return "store", 2, False
    if m in _MAC:
        return "mac", 1, False
    if m in _DIV:
        return "div", DIV_CYCLES, False
    if m in _SYSTEM:
        return "system", 1, False
    return "alu", 1, dest_pc


class Block:
    """One translated block: its instructions and what executing it costs (refill excluded)."""

    __slots__ = ("pc", "addrs", "insns", "end", "n", "cycles", "classes", "writes_pc", "lines")

    def __init__(self, pc: int, insns: list[tuple[int, int, str, str]]):
        self.pc = pc
        self.addrs = [a for a, _, _, _ in insns]
        self.insns = insns
        self.end = insns[-1][0] + insns[-1][1] if insns else pc
        self.n = len(insns)
        counts = Counter()
        cycles = 0
        prev_load_dest = None          # destination register of a load directly before, or None
        prev_store = False
        writes_pc = False
        written: set[str] = set()       # registers the previous data-processing instruction wrote
        for _, _, mnem, ops in insns:
            cls, cyc, wpc = classify(mnem, ops)
            m = base_mnemonic(mnem)
            single = m in _LOAD or m in _STORE
            if single or m in _DOUBLE or m in _MULTIPLE:
                if "[" in ops:
                    addr, update, imm = _address(ops)
                else:                               # LDM/STM Rn!, {..}; PUSH/POP use SP
                    addr, update, imm = (["sp"] if m in ("push", "pop") else _registers(ops)[:1]), False, True
                if single and m in _STORE and imm and not update:
                    cyc = 1
                elif single and cyc == 2 and prev_load_dest is not None and not prev_store \
                        and not (m in _LOAD and update):
                    if prev_load_dest not in addr:
                        cyc = 1
                if written & set(addr):
                    cyc += 1
            if m in _LOAD and m not in ("pld", "pli"):
                regs = _registers(ops)
                prev_load_dest = regs[0] if regs else ""
            else:
                prev_load_dest = None
            prev_store = m in _STORE or m in _DOUBLE and m == "strd"
            written = _written(m, cls, ops)
            counts[cls] += 1
            cycles += cyc
            writes_pc = wpc
        self.cycles = cycles
        self.classes = counts
        self.writes_pc = writes_pc          # the last instruction may branch
        first, last = self.pc // ICACHE_LINE_BYTES, max(self.pc, self.end - 1) // ICACHE_LINE_BYTES
        self.lines = tuple(range(first, last + 1))

    def prefix(self, stop: int) -> "Block":
        """The block cut before address ``stop`` (an execution QEMU rewound)."""
        return Block(self.pc, [i for i in self.insns if i[0] < stop])


class Segment:
    """Executions counted for one part of the run (a layer, or the whole inference)."""

    def __init__(self):
        self.executions = Counter()     # block id -> times executed
        self.taken = Counter()          # block id -> times its closing PC write was taken
        self.icache_misses = 0
        self.misses = Counter()         # block id -> cache lines missed when it ran

    def by_function(self, blocks: list[Block], ws: int, name_of) -> list[dict]:
        """Instructions and estimated cycles summed per function (``name_of``: block start
        address -> function name), costliest first."""
        rows: dict[str, dict] = {}
        for bid, times in self.executions.items():
            b = blocks[bid]
            r = rows.setdefault(name_of(b.pc), {"instructions": 0, "estimated_cycles": 0,
                                                "estimated_flash_wait_cycles": 0})
            wait = self.misses[bid] * FLASH_READS_PER_LINE * ws
            r["instructions"] += b.n * times
            r["estimated_cycles"] += b.cycles * times + BRANCH_REFILL * self.taken[bid] + wait
            r["estimated_flash_wait_cycles"] += wait
        return [{"function": name, **r} for name, r in
                sorted(rows.items(), key=lambda kv: -kv[1]["estimated_cycles"])]

    def figures(self, blocks: list[Block], ws: int) -> dict:
        classes = Counter()
        instructions = cycles = 0
        for bid, times in self.executions.items():
            b = blocks[bid]
            instructions += b.n * times
            cycles += b.cycles * times
            for cls, k in b.classes.items():
                classes[cls] += k * times
        refill = BRANCH_REFILL * sum(self.taken.values())
        taken = sum(self.taken.values())
        flash = self.icache_misses * FLASH_READS_PER_LINE * ws
        total = cycles + refill + flash
        return {"instructions": instructions, "estimated_cycles": total,
                "estimated_cycles_core": cycles + refill, "estimated_flash_wait_cycles": flash,
                "taken_branches": taken, "icache_line_misses": self.icache_misses,
                "instruction_classes": {c: classes.get(c, 0) for c in CLASSES}}


class TraceCounter:
    """Parses a QEMU ``-d in_asm,exec,nochain`` log line by line and counts, per segment, the
    executed blocks. Segments: the inference window (between entries of ``window_begin`` and
    ``window_end``) and the layers inside it (``layer_begin`` entry to ``layer_end`` entry, in
    order); blocks of the ``skip`` address ranges (the profiling hooks) are left out."""

    def __init__(self, window: tuple[int, int], layer_hooks: tuple[int, int],
                 skip: list[tuple[int, int]], ws: int):
        self.window_begin, self.window_end = window
        self.layer_begin, self.layer_end = layer_hooks
        self.skip = skip
        self.ws = ws
        self.blocks: list[Block] = []
        self.by_host: dict[str, int] = {}
        self.pending: dict[int, int] = {}
        self.prefixes: dict[tuple[int, int], int] = {}
        self.total = Segment()
        self.layers: list[Segment] = []
        self.in_window = False
        self.windows = 0
        self.layer: Segment | None = None
        self.icache: OrderedDict[int, None] = OrderedDict()
        self.last_lines: tuple = ()
        self.prev: tuple[Segment | None, int] | None = None   # (segments, block id) last counted
        self._asm: list[tuple[int, int, str, str]] | None = None

    # -- the log, line by line ------------------------------------------------------------
    def feed(self, line: str) -> None:
        c = line[:1]
        if c == "T" and line.startswith("Trace "):
            self._exec(line)
        elif c == "0" and self._asm is not None:
            m = _INSN.match(line)
            if m:
                size = len(m.group(2).replace(" ", "")) // 2
                self._asm.append((int(m.group(1), 16), size, m.group(3), m.group(4)))
        elif c == "I" and line.startswith("IN:"):
            self._asm = []
        elif c in ("", "\n", "-") and self._asm:
            self._close_asm()
        elif c == "c" and line.startswith("cpu_io_recompile: rewound execution of TB to "):
            self._rewind(int(line.rsplit(" ", 1)[1], 16))

    def _close_asm(self) -> None:
        insns, self._asm = self._asm, None
        if insns:
            self.blocks.append(Block(insns[0][0], insns))
            self.pending[insns[0][0]] = len(self.blocks) - 1

    def _exec(self, line: str) -> None:
        if self._asm:
            self._close_asm()
        self._asm = None
        head, _, rest = line.partition("[")
        host = head.split()[2]
        pc = int(rest.split("/", 2)[1], 16)
        bid = self.pending.pop(pc, None)
        if bid is not None:
            self.by_host[host] = bid
        else:
            bid = self.by_host.get(host)
            if bid is None or self.blocks[bid].pc != pc:
                return                              # a block never disassembled: not counted
        self._branch_outcome(pc)
        if pc == self.window_begin:
            self.in_window, self.layer = True, None
            self.windows += 1
        elif pc == self.window_end:
            self.in_window, self.layer = False, None
        elif self.in_window and pc == self.layer_begin:
            self.layers.append(Segment())
            self.layer = self.layers[-1]
        elif self.in_window and pc == self.layer_end:
            self.layer = None
        if not self.in_window or any(lo <= pc < hi for lo, hi in self.skip):
            self.prev = None
            return
        self._count(bid)

    def _count(self, bid: int) -> None:
        segments = (self.total, self.layer) if self.layer is not None else (self.total,)
        for s in segments:
            s.executions[bid] += 1
        lines = self.blocks[bid].lines
        if lines != self.last_lines:
            misses = 0
            cache = self.icache
            for ln in lines:
                if ln in cache:
                    cache.move_to_end(ln)
                else:
                    misses += 1
                    cache[ln] = None
                    if len(cache) > ICACHE_LINES:
                        cache.popitem(last=False)
            self.last_lines = lines
            if misses:
                for s in segments:
                    s.icache_misses += misses
                    s.misses[bid] += misses
        self.prev = (segments, bid)

    def _branch_outcome(self, next_pc: int) -> None:
        if self.prev is None:
            return
        segments, bid = self.prev
        b = self.blocks[bid]
        if b.writes_pc and next_pc != b.end:
            for s in segments:
                s.taken[bid] += 1
        self.prev = None

    def _rewind(self, stop: int) -> None:
        if self.prev is None:
            return
        segments, bid = self.prev
        key = (bid, stop)
        if key not in self.prefixes:
            self.blocks.append(self.blocks[bid].prefix(stop))
            self.prefixes[key] = len(self.blocks) - 1
        cut = self.prefixes[key]
        for s in segments:
            s.executions[bid] -= 1
            s.executions[cut] += 1
        self.prev = (segments, cut)

    def finish(self) -> None:
        if self._asm:
            self._close_asm()
        self.prev = None

    def result(self) -> dict:
        return {"windows": self.windows, "total": self.total.figures(self.blocks, self.ws),
                "layers": [s.figures(self.blocks, self.ws) for s in self.layers]}


def trace_run(argv: list[str], cwd: Path, counter: TraceCounter, log_flag_index: int,
              timeout_s: float = 1800.0) -> tuple[int, str, str]:
    """Run QEMU (``argv``, whose element ``log_flag_index`` is the -D path placeholder) with its
    log streamed through a FIFO into ``counter``; (exit code, stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="asc-trace-") as tmp:
        fifo = Path(tmp) / "trace.fifo"
        os.mkfifo(fifo)
        argv = list(argv)
        argv[log_flag_index] = str(fifo)
        proc = Executor().start(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        outcome: dict = {}

        def watch():
            try:
                outcome["out"] = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                outcome["out"] = proc.communicate()
                outcome["timeout"] = True
            try:                                     # unblock a reader still waiting in open()
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        with open(fifo, "r", encoding="utf-8", errors="replace", buffering=1 << 20) as log:
            for line in log:
                counter.feed(line)
        counter.finish()
        watcher.join()
        stdout, stderr = outcome.get("out", ("", ""))
        code = -9 if outcome.get("timeout") else proc.returncode
        return code, stdout or "", stderr or ""
