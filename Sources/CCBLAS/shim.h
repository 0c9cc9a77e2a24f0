// OpenBLAS's CBLAS interface plus its thread and configuration calls.
// Debian: libopenblas-dev (cblas.h under /usr/include/x86_64-linux-gnu/openblas-pthread).
#include <cblas.h>
