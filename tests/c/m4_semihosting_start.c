/* Reset of the semihosting test programs (m4_semihosting.ld): enable the FPU, then newlib's
 * start-up (_start: .bss, semihosting handles, main, exit). */
#include <stdint.h>

extern void _start(void);
extern uint32_t __stack_top;

void asc_test_reset(void);

void asc_test_reset(void)
{
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;   /* CPACR: CP10/CP11 full access */
    __asm__ volatile("dsb\n\tisb");
    _start();
}

__attribute__((section(".isr_vector"), used))
static const void *const vectors[16] = {&__stack_top, (const void *)asc_test_reset};
