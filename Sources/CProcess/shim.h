#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

/* prctl is variadic, which Swift cannot call. Asks the kernel to send SIGKILL to this
   process when the thread that started it ends; then checks that the parent is still the
   one expected (it may have died before the request), returning 0 when it is. */
static inline int cprocess_die_with_parent(pid_t expected_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -1;
    return getppid() == expected_parent ? 0 : 1;
}
