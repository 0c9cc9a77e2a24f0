#include <stddef.h>
#include <stdint.h>

/* libFuzzer's driver (compiler-rt, FuzzerInterface.h), linked in by -sanitize=fuzzer.
   The fuzz targets call it from their own `main`: SwiftPM names an executable's entry
   point itself, so libFuzzer's `main` cannot be the one that runs. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
