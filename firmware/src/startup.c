/* Vector table and reset handler for the STM32L475VG (82 peripheral interrupts, RM0351 §12). */
#include <stdint.h>
#include <string.h>
#include "regs.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _sstack, _estack;
extern int main(void);

#define STACK_PAINT 0xA5A5A5A5u
#define N_IRQ 82

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);
void USART1_IRQHandler(void);
void DMA1_Channel4_IRQHandler(void);
void DFSDM1_FLT0_IRQHandler(void);

typedef void (*vector_t)(void);

/* Every vector the firmware does not use points at Default_Handler (entries 7-10 and 13 are
 * reserved by ARMv7-M and stay 0). The range initialiser is overridden on purpose below. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
__attribute__((section(".isr_vector"), used))
const vector_t vector_table[16 + N_IRQ] = {
    [16 ... 16 + N_IRQ - 1] = Default_Handler,
    [0] = (vector_t)(uintptr_t)&_estack,
    [1] = Reset_Handler,
    [2] = Default_Handler,      /* NMI */
    [3] = HardFault_Handler,
    [4] = HardFault_Handler,    /* MemManage, BusFault, UsageFault: one report for all */
    [5] = HardFault_Handler,
    [6] = HardFault_Handler,
    [11] = Default_Handler,     /* SVCall */
    [12] = Default_Handler,     /* DebugMonitor */
    [14] = Default_Handler,     /* PendSV */
    [15] = SysTick_Handler,
    [16 + 14] = DMA1_Channel4_IRQHandler,
    [16 + 37] = USART1_IRQHandler,
    [16 + 61] = DFSDM1_FLT0_IRQHandler,
};
#pragma GCC diagnostic pop

void Default_Handler(void)
{
    for (;;) {
    }
}

/* Paint the unused stack so stack_high_water() can find the deepest point reached. The few
 * words below the current frame are left alone: this function is running on them. */
static void paint_stack(void)
{
    uint32_t *p = &_sstack;
    uint32_t *limit = (uint32_t *)__builtin_frame_address(0) - 16;
    while (p < limit)
        *p++ = STACK_PAINT;
}

uint32_t stack_high_water(void)
{
    const uint32_t *p = &_sstack;
    while (p < &_estack && *p == STACK_PAINT)
        p++;
    return (uint32_t)((uintptr_t)&_estack - (uintptr_t)p);
}

uint32_t stack_size(void)
{
    return (uint32_t)((uintptr_t)&_estack - (uintptr_t)&_sstack);
}

void Reset_Handler(void)
{
    memcpy(&_sdata, &_sidata, (size_t)((uintptr_t)&_edata - (uintptr_t)&_sdata));
    memset(&_sbss, 0, (size_t)((uintptr_t)&_ebss - (uintptr_t)&_sbss));
    SCB_VTOR = (uint32_t)(uintptr_t)vector_table;
    SCB_CPACR |= 0xFu << 20;                 /* CP10/CP11 full access: the FPU */
    __asm volatile("dsb\n isb" ::: "memory");
    paint_stack();
    main();
    for (;;) {
    }
}
