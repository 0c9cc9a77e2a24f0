// LAPACK's C interface. Debian: liblapacke-dev (LAPACK itself comes from OpenBLAS).
#include <lapacke.h>
