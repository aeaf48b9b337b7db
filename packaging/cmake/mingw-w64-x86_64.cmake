# Cross-compiles the Windows slice of Mamori with Debian's mingw-w64 (posix
# threads flavour, so std::thread and std::jthread work) and runs its tests
# under Wine. Used by the `windows` preset; see docs/windows-build.md.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(MAMORI_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${MAMORI_MINGW_PREFIX}-gcc-posix)
set(CMAKE_CXX_COMPILER ${MAMORI_MINGW_PREFIX}-g++-posix)
set(CMAKE_RC_COMPILER ${MAMORI_MINGW_PREFIX}-windres)

# The cross-built dependency stack (packaging/windows/deps/build-deps.sh)
# is searched before the mingw-w64 system root (zlib).
set(CMAKE_FIND_ROOT_PATH ${MAMORI_MINGW_DEPS} /usr/${MAMORI_MINGW_PREFIX})
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES MAMORI_MINGW_DEPS)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Everything static (libstdc++, libgcc, winpthread): the executables then run
# under Wine, or on a bare Windows host, without MinGW DLLs beside them.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")

# ctest runs test executables through Wine. Debian's `wine` wrapper picks
# wine64 for a 64-bit executable when no 32-bit Wine is installed.
find_program(MAMORI_WINE NAMES wine wine64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${MAMORI_WINE})
