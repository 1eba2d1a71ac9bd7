/* berth.h on its own, with nothing included before it: compiled as C99,
 * C11 and C++17 by tests/capi.rs. */
#include <berth.h>

int main(void)
{
    berth_result r = BERTH_RESULT_OK;
    berth_state s = BERTH_STATE_RUNNING;
    uint32_t conditions = BERTH_STATE_STOPPED | BERTH_STATE_EXITED;
    berth_event_callback cb = NULL;
    berth_container_info *info = NULL;
    (void)s;
    (void)conditions;
    (void)cb;
    (void)info;
    return (int)r + BERTH_VERSION_MAJOR * 0 + (int)(BERTH_TIMEOUT_DEFAULT - BERTH_TIMEOUT_DEFAULT);
}
