#include "CKernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void lk_retain_freed_memory(void) {
#if defined(__GLIBC__)
    // glibc serves blocks above the mmap threshold with fresh mappings and gives the top of the
    // heap back past the trim threshold, so a training step that frees and reallocates its
    // multi-megabyte activations pays a page fault for every page, every step. Keep freed
    // memory in the heap instead; the process's peak footprint is unchanged.
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
#endif
}
