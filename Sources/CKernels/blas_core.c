// OpenBLAS (Debian builds it with DYNAMIC_ARCH) picks its kernels from the CPU's family and
// model numbers. A CPU it does not know by number, as virtual machines often report, gets the
// generic "Prescott" (SSE3) kernels: on an AVX-512 Xeon VM, SGEMM then runs 4-5x below what
// the same library does with its Skylake-X kernels. This reselects by instruction set when
// that happens, through OpenBLAS's own re-initialisation entry points (looked up at run time,
// so a BLAS without them is left alone), unless the user chose with OPENBLAS_CORETYPE.
#include "CKernels.h"
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static const char *select_blas_kernels(void) {
    char *(*corename)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
    void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (!corename || !quit || !init || getenv("OPENBLAS_CORETYPE")) return NULL;
    const char *current = corename();
    if (!current || strcmp(current, "Prescott") != 0) return NULL;
    const char *wanted = NULL;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        wanted = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        wanted = "Haswell";
#endif
    if (!wanted) return NULL;
    setenv("OPENBLAS_CORETYPE", wanted, 0);
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
    const char *now = corename();
    return now && strcmp(now, wanted) == 0 ? wanted : NULL;
}

// The choice is made once, when the program loads (after OpenBLAS's own initialisation, before
// any code can call a BLAS function): kernels switched between two GEMMs would give one run two
// arithmetics (a test comparing two passes of the same model saw 4e-6 relative differences)
// and would race with a GEMM running on another thread.
static const char *selected_blas_kernels;

__attribute__((constructor)) static void select_blas_kernels_at_load(void) {
    selected_blas_kernels = select_blas_kernels();
}

const char *lk_select_blas_kernels(void) { return selected_blas_kernels; }
