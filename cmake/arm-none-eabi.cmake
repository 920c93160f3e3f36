# Toolchain file: arm-none-eabi-gcc, newlib-nano, bare metal. It names no CPU: -mcpu, -mfpu and
# -mfloat-abi come from the board file (CMakeLists.txt: ASC_CPU, ASC_FPU, ASC_FLOAT_ABI).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(ASC_TOOLCHAIN_PREFIX "arm-none-eabi-" CACHE STRING "Prefix of the cross tools")
find_program(CMAKE_C_COMPILER ${ASC_TOOLCHAIN_PREFIX}gcc REQUIRED)
find_program(CMAKE_ASM_COMPILER ${ASC_TOOLCHAIN_PREFIX}gcc REQUIRED)
find_program(CMAKE_OBJCOPY ${ASC_TOOLCHAIN_PREFIX}objcopy REQUIRED)
find_program(CMAKE_SIZE ${ASC_TOOLCHAIN_PREFIX}size)

set(CMAKE_C_FLAGS_INIT "-ffunction-sections -fdata-sections -fno-common")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nano.specs --specs=nosys.specs -nostartfiles -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
