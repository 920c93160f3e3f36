"""From generated C to a board: the RAM/flash budget, the CMake firmware build, the emulated
board (QEMU), flash runners, and the serial side (port, host feed, result lines, monitor).
"""
