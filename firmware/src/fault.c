/* HardFault (and MemManage/BusFault/UsageFault) handler: one JSON line with the fault
 * registers (MMFAR/BFAR only when their valid bits are set) and the stacked frame, then halt so
 * a debugger can still look. */
#include <stdint.h>
#include "regs.h"
#include "jsonw.h"

void fault_report(const uint32_t *frame, uint32_t exc_return);

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mov r1, lr\n"
        "b fault_report\n");
}

void fault_report(const uint32_t *frame, uint32_t exc_return)
{
    static const char *const names[] = {"r0", "r1", "r2", "r3", "r12", "lr", "pc", "xpsr"};
    uint32_t cfsr = SCB_CFSR;
    jw_begin("fault");
    jw_hex("cfsr", cfsr);
    jw_hex("hfsr", SCB_HFSR);
    /* the address registers hold a fault address only when CFSR says so; otherwise stale */
    if (cfsr & SCB_CFSR_MMARVALID)
        jw_hex("mmfar", SCB_MMFAR);
    if (cfsr & SCB_CFSR_BFARVALID)
        jw_hex("bfar", SCB_BFAR);
    jw_hex("exc_return", exc_return);
    for (unsigned i = 0; i < 8u; i++)
        jw_hex(names[i], frame[i]);
    jw_end();
    for (;;) {
    }
}
