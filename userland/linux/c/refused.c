/* A trivial program the kernel must refuse to run, built twice by the root build script: as a
 * non-PIE static executable (ET_EXEC: `linux-static-exec`) and as a dynamically linked one with
 * an interpreter (PT_INTERP: `linux-dynamic`). The `linux-abi` suite checks both refusals. */
#include <stdio.h>

int main(void) {
    puts("this program should never have run on shoal");
    return 0;
}
