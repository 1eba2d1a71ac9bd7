/* The whole lifecycle of a container through libberth, against a real
 * berthd: create, init, start, pause, update, restart, stop, remove; a
 * container that exits 3 on its own; a killed one. Usage: lifecycle ROOTFS */
#define _POSIX_C_SOURCE 200809L
#include <berth.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail(int line, const char *what, berth_result r)
{
    char *m = berth_last_error_message();
    fprintf(stderr, "lifecycle.c:%d: %s: %s: %s\n", line, what, berth_result_name(r), m);
    berth_string_free(m);
    exit(1);
}

#define OK(call) do { berth_result r_ = (call); if (r_ != BERTH_RESULT_OK) fail(__LINE__, #call, r_); } while (0)
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "lifecycle.c:%d: expected %s\n", __LINE__, #cond); exit(1); } } while (0)

static berth_state state_of(const berth_client *c, const char *name)
{
    berth_state s = 0;
    OK(berth_client_state(c, name, &s));
    return s;
}

static berth_spec *spec_running(const char *rootfs, const char *script)
{
    const char *argv[] = {"/bin/sh", "-c", script};
    berth_spec *spec = berth_spec_new();
    EXPECT(spec != NULL);
    OK(berth_spec_set_rootfs(spec, rootfs));
    OK(berth_spec_set_command(spec, argv, 3));
    return spec;
}

/* Run until SIGTERM, then exit 0. */
static const char *const SERVE = "trap 'exit 0' TERM; while true; do sleep 0.1; done";

int main(int argc, char **argv)
{
    berth_client *c = NULL;
    berth_spec *spec, *resources;
    berth_container_list *list = NULL;
    char name[64], name3[64], namek[64];
    char *json = NULL;
    int32_t code = 12345;
    berth_state state = 0;
    size_t i;
    int listed = 0;

    EXPECT(argc == 2);
    EXPECT(strcmp(berth_version(), BERTH_VERSION) == 0);
    EXPECT(BERTH_VERSION_MAJOR >= 0 && BERTH_VERSION_MINOR >= 0 && BERTH_VERSION_PATCH >= 0);
    snprintf(name, sizeof name, "capi-life-%d", (int)getpid());
    snprintf(name3, sizeof name3, "capi-exit3-%d", (int)getpid());
    snprintf(namek, sizeof namek, "capi-kill-%d", (int)getpid());

    OK(berth_client_new(&c));
    EXPECT(c != NULL);

    spec = spec_running(argv[1], SERVE);
    OK(berth_spec_add_env(spec, "GREETING=hello"));
    OK(berth_spec_set_working_dir(spec, "/tmp"));
    OK(berth_spec_set_hostname(spec, "capi"));
    OK(berth_spec_set_stop_timeout(spec, 5));
    OK(berth_spec_set_stop_signal(spec, "SIGTERM"));
    OK(berth_spec_set_label(spec, "suite", "ffi"));
    OK(berth_spec_set_memory_max(spec, 256u << 20));
    OK(berth_client_create(c, name, spec));
    EXPECT(state_of(c, name) == BERTH_STATE_CONFIGURED);
    OK(berth_client_exit_code(c, name, &code));
    EXPECT(code == -1);

    OK(berth_client_init(c, name, false));
    EXPECT(state_of(c, name) == BERTH_STATE_CREATED);
    OK(berth_client_start(c, name, false));
    EXPECT(state_of(c, name) == BERTH_STATE_RUNNING);
    EXPECT(strcmp(berth_state_name(state_of(c, name)), "running") == 0);

    OK(berth_client_list(c, &list));
    for (i = 0; i < berth_container_list_len(list); i++) {
        const berth_container_info *info = berth_container_list_get(list, i);
        EXPECT(info != NULL);
        if (strcmp(info->name, name) == 0) {
            listed = 1;
            EXPECT(strlen(info->id) == 64);
            EXPECT(info->state == BERTH_STATE_RUNNING);
        }
    }
    EXPECT(listed);
    EXPECT(berth_container_list_get(list, berth_container_list_len(list)) == NULL);
    berth_container_list_free(list);

    OK(berth_client_inspect(c, name, &json));
    EXPECT(strstr(json, name) != NULL);
    EXPECT(strstr(json, "GREETING=hello") != NULL);
    EXPECT(strstr(json, "\"suite\"") != NULL);
    berth_string_free(json);

    OK(berth_client_pause(c, name));
    EXPECT(state_of(c, name) == BERTH_STATE_PAUSED);
    OK(berth_client_unpause(c, name));
    EXPECT(state_of(c, name) == BERTH_STATE_RUNNING);

    /* Update takes a spec that holds only resource keys. */
    resources = berth_spec_new();
    OK(berth_spec_set_memory_max(resources, 64u << 20));
    OK(berth_spec_set_cpu_quota(resources, 50));
    OK(berth_spec_set_cpu_weight(resources, 200));
    OK(berth_spec_set_tasks_max(resources, 64));
    OK(berth_client_update(c, name, resources));
    berth_spec_free(resources);
    OK(berth_client_inspect(c, name, &json));
    EXPECT(strstr(json, "67108864") != NULL);
    berth_string_free(json);

    OK(berth_client_restart(c, name, 2));
    EXPECT(state_of(c, name) == BERTH_STATE_RUNNING);
    OK(berth_client_sync(c, name));

    OK(berth_client_stop(c, name, BERTH_TIMEOUT_DEFAULT));
    EXPECT(state_of(c, name) == BERTH_STATE_STOPPED);
    OK(berth_client_exit_code(c, name, &code));
    EXPECT(code == 0);
    code = 12345;
    OK(berth_client_wait(c, name, BERTH_STATE_STOPPED | BERTH_STATE_EXITED, 10000, &code));
    EXPECT(code == 0);
    OK(berth_client_cleanup(c, name));
    OK(berth_client_remove(c, name, false, BERTH_TIMEOUT_DEFAULT));
    EXPECT(berth_client_state(c, name, &state) == BERTH_RESULT_NO_SUCH_CONTAINER);
    berth_spec_free(spec);

    /* A container that exits 3 by itself: wait sees it. */
    spec = spec_running(argv[1], "sleep 0.3; exit 3");
    OK(berth_client_create(c, name3, spec));
    OK(berth_client_start(c, name3, false));
    code = 12345;
    OK(berth_client_wait(c, name3, 0, BERTH_WAIT_FOREVER, &code));
    EXPECT(code == 3);
    EXPECT(state_of(c, name3) == BERTH_STATE_EXITED);
    OK(berth_client_exit_code(c, name3, &code));
    EXPECT(code == 3);
    OK(berth_client_remove(c, name3, false, BERTH_TIMEOUT_DEFAULT));
    berth_spec_free(spec);

    /* Killed by SIGKILL: 128 + 9. */
    spec = spec_running(argv[1], SERVE);
    OK(berth_client_create(c, namek, spec));
    OK(berth_client_start(c, namek, false));
    OK(berth_client_kill(c, namek, 9));
    OK(berth_client_wait(c, namek, BERTH_STATE_STOPPED | BERTH_STATE_EXITED, 20000, &code));
    EXPECT(code == 137);
    OK(berth_client_remove(c, namek, true, 0));
    berth_spec_free(spec);

    berth_client_free(c);
    printf("lifecycle: ok\n");
    return 0;
}
