/* Every error path of libberth that a caller can provoke, against a real
 * berthd: NULL for each pointer parameter, unknown containers, verbs in
 * the wrong state, bad spec values, refused callers. Each failure must
 * come with a message and leave out-parameters untouched.
 * Usage: errors ROOTFS */
#define _POSIX_C_SOURCE 200809L
#include <berth.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void expect(int line, const char *what, berth_result got, berth_result want, const char *mention, int exact)
{
    char *m = berth_last_error_message();
    if (got != want) {
        fprintf(stderr, "errors.c:%d: %s: got %s, want %s (%s)\n", line, what, berth_result_name(got),
                berth_result_name(want), m);
        failures++;
    } else if (want != BERTH_RESULT_OK && (m == NULL || m[0] == '\0')) {
        fprintf(stderr, "errors.c:%d: %s: no error message\n", line, what);
        failures++;
    } else if (want == BERTH_RESULT_OK && m[0] != '\0') {
        fprintf(stderr, "errors.c:%d: %s: message after success: %s\n", line, what, m);
        failures++;
    } else if (mention != NULL && strstr(m, mention) == NULL) {
        fprintf(stderr, "errors.c:%d: %s: message %s does not mention %s\n", line, what, m, mention);
        failures++;
    } else if (exact && strcmp(m, mention) != 0) {
        fprintf(stderr, "errors.c:%d: %s: message \"%s\", want \"%s\"\n", line, what, m, mention);
        failures++;
    }
    berth_string_free(m);
}

#define RESULT(want, call) expect(__LINE__, #call, (call), (want), NULL, 0)
#define MENTIONS(want, text, call) expect(__LINE__, #call, (call), (want), (text), 0)
/* The whole message, word for word. */
#define SAYS(want, text, call) expect(__LINE__, #call, (call), (want), (text), 1)
#define NULLP(call) RESULT(BERTH_RESULT_NULL_PARAMETER, call)
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "errors.c:%d: expected %s\n", __LINE__, #cond); failures++; } } while (0)

static void on_event(void *userdata, const berth_event *event)
{
    (void)userdata;
    (void)event;
}

static int on_line(void *userdata, const berth_log_line *line)
{
    (void)userdata;
    (void)line;
    return 0;
}

/* Reading is open to everyone; changing needs root: the bus refuses. Run
 * before any client exists, so the fork copies a single-threaded process. */
static void unprivileged(void)
{
    int status = 0;
    pid_t pid = fork();
    if (pid == 0) {
        berth_client *c = NULL;
        berth_container_list *l = NULL;
        berth_result r;
        char *m;
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        if (berth_client_new(&c) != BERTH_RESULT_OK)
            _exit(3);
        if (berth_client_list(c, &l) != BERTH_RESULT_OK)
            _exit(4);
        berth_container_list_free(l);
        r = berth_client_start(c, "anything", false);
        berth_client_free(c);
        if (r != BERTH_RESULT_ACCESS_DENIED)
            _exit(5);
        /* One clean sentence, naming the refused method. */
        m = berth_last_error_message();
        r = strcmp(m, "access denied: only root may call StartContainer") == 0;
        if (!r)
            fprintf(stderr, "errors.c: access denied says: %s\n", m);
        berth_string_free(m);
        _exit(r ? 0 : 6);
    }
    CHECK(pid > 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void null_parameters(berth_client *c, berth_spec *spec)
{
    const char *argv[] = {"/bin/sh", NULL};
    berth_client *c2 = NULL;
    berth_spec *s2 = NULL;
    berth_container_list *l = NULL;
    berth_event_watch *w = NULL;
    berth_state st = 0;
    int32_t code = 0;
    char *json = NULL;

    NULLP(berth_client_new(NULL));
    MENTIONS(BERTH_RESULT_NULL_PARAMETER, "address", berth_client_new_address(NULL, &c2));
    NULLP(berth_client_new_address("unix:path=/run/dbus/system_bus_socket", NULL));

    NULLP(berth_spec_clone(NULL, &s2));
    NULLP(berth_spec_clone(spec, NULL));
    NULLP(berth_spec_set_rootfs(NULL, "/x"));
    MENTIONS(BERTH_RESULT_NULL_PARAMETER, "Rootfs", berth_spec_set_rootfs(spec, NULL));
    NULLP(berth_spec_set_command(NULL, argv, 1));
    NULLP(berth_spec_set_command(spec, NULL, 1));
    MENTIONS(BERTH_RESULT_NULL_PARAMETER, "argv[1]", berth_spec_set_command(spec, argv, 2));
    NULLP(berth_spec_add_env(NULL, "A=1"));
    NULLP(berth_spec_add_env(spec, NULL));
    NULLP(berth_spec_set_working_dir(NULL, "/"));
    NULLP(berth_spec_set_working_dir(spec, NULL));
    NULLP(berth_spec_set_user(NULL, "0"));
    NULLP(berth_spec_set_user(spec, NULL));
    NULLP(berth_spec_set_hostname(NULL, "h"));
    NULLP(berth_spec_set_hostname(spec, NULL));
    NULLP(berth_spec_set_notify(NULL, true));
    NULLP(berth_spec_set_stop_signal(NULL, "TERM"));
    NULLP(berth_spec_set_stop_signal(spec, NULL));
    NULLP(berth_spec_set_stop_timeout(NULL, 1));
    NULLP(berth_spec_set_start_timeout(NULL, 1));
    NULLP(berth_spec_set_restart_policy(NULL, "no"));
    NULLP(berth_spec_set_restart_policy(spec, NULL));
    NULLP(berth_spec_add_dependency(NULL, "db"));
    NULLP(berth_spec_add_dependency(spec, NULL));
    NULLP(berth_spec_set_label(NULL, "k", "v"));
    NULLP(berth_spec_set_label(spec, NULL, "v"));
    NULLP(berth_spec_set_label(spec, "k", NULL));
    NULLP(berth_spec_add_volume(NULL, "/a:/b"));
    NULLP(berth_spec_add_volume(spec, NULL));
    NULLP(berth_spec_set_read_only(NULL, true));
    NULLP(berth_spec_set_network(NULL, "host"));
    NULLP(berth_spec_set_network(spec, NULL));
    NULLP(berth_spec_set_runtime(NULL, "crun"));
    NULLP(berth_spec_set_runtime(spec, NULL));
    NULLP(berth_spec_set_memory_max(NULL, 1));
    NULLP(berth_spec_set_tasks_max(NULL, 1));
    NULLP(berth_spec_set_cpu_weight(NULL, 1));
    NULLP(berth_spec_set_cpu_quota(NULL, 1));

    NULLP(berth_client_create(NULL, "n", spec));
    NULLP(berth_client_create(c, NULL, spec));
    NULLP(berth_client_create(c, "n", NULL));
    NULLP(berth_client_init(NULL, "n", false));
    NULLP(berth_client_init(c, NULL, false));
    NULLP(berth_client_start(NULL, "n", false));
    NULLP(berth_client_start(c, NULL, false));
    NULLP(berth_client_stop(NULL, "n", 0));
    NULLP(berth_client_stop(c, NULL, 0));
    NULLP(berth_client_kill(NULL, "n", 9));
    NULLP(berth_client_kill(c, NULL, 9));
    NULLP(berth_client_restart(NULL, "n", 0));
    NULLP(berth_client_restart(c, NULL, 0));
    NULLP(berth_client_pause(NULL, "n"));
    NULLP(berth_client_pause(c, NULL));
    NULLP(berth_client_unpause(NULL, "n"));
    NULLP(berth_client_unpause(c, NULL));
    NULLP(berth_client_update(NULL, "n", spec));
    NULLP(berth_client_update(c, NULL, spec));
    NULLP(berth_client_update(c, "n", NULL));
    NULLP(berth_client_remove(NULL, "n", false, 0));
    NULLP(berth_client_remove(c, NULL, false, 0));
    NULLP(berth_client_sync(NULL, "n"));
    NULLP(berth_client_sync(c, NULL));
    NULLP(berth_client_cleanup(NULL, "n"));
    NULLP(berth_client_cleanup(c, NULL));
    NULLP(berth_client_wait(NULL, "n", 0, 1, &code));
    NULLP(berth_client_wait(c, NULL, 0, 1, &code));
    MENTIONS(BERTH_RESULT_NULL_PARAMETER, "exit_code", berth_client_wait(c, "n", 0, 1, NULL));
    NULLP(berth_client_inspect(NULL, "n", &json));
    NULLP(berth_client_inspect(c, NULL, &json));
    NULLP(berth_client_inspect(c, "n", NULL));
    NULLP(berth_client_state(NULL, "n", &st));
    NULLP(berth_client_state(c, NULL, &st));
    NULLP(berth_client_state(c, "n", NULL));
    NULLP(berth_client_exit_code(NULL, "n", &code));
    NULLP(berth_client_exit_code(c, NULL, &code));
    NULLP(berth_client_exit_code(c, "n", NULL));
    NULLP(berth_client_list(NULL, &l));
    NULLP(berth_client_list(c, NULL));
    NULLP(berth_client_watch_events(NULL, on_event, NULL, &w));
    MENTIONS(BERTH_RESULT_NULL_PARAMETER, "callback", berth_client_watch_events(c, NULL, NULL, &w));
    NULLP(berth_client_watch_events(c, on_event, NULL, NULL));

    /* Nothing was written. */
    CHECK(c2 == NULL && s2 == NULL && l == NULL && w == NULL && json == NULL && st == 0 && code == 0);

    /* Getters and frees take NULL without harm. */
    CHECK(berth_container_list_len(NULL) == 0);
    CHECK(berth_container_list_get(NULL, 0) == NULL);
    berth_container_list_free(NULL);
    berth_event_watch_free(NULL);
    berth_spec_free(NULL);
    berth_client_free(NULL);
    berth_string_free(NULL);
    CHECK(strcmp(berth_result_name(9999), "Unknown") == 0);
    CHECK(strcmp(berth_result_name(BERTH_RESULT_NO_SUCH_CONTAINER), "NoSuchContainer") == 0);
    CHECK(berth_state_name(0) == NULL);
    CHECK(berth_state_name(BERTH_STATE_STOPPED | BERTH_STATE_EXITED) == NULL);
}

static void bad_addresses(void)
{
    berth_client *c = NULL;
    RESULT(BERTH_RESULT_INVALID_PARAMETER, berth_client_new_address("no-such-transport:x=y", &c));
    RESULT(BERTH_RESULT_BUS, berth_client_new_address("unix:path=/nonexistent/bus", &c));
    CHECK(c == NULL);
}

static void bad_spec_values(void)
{
    const char *empty[] = {""};
    berth_spec *s = berth_spec_new();
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Rootfs", berth_spec_set_rootfs(s, "relative/dir"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "StopSignal", berth_spec_set_stop_signal(s, "SIGBOGUS"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Command", berth_spec_set_command(s, empty, 0));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Command", berth_spec_set_command(s, empty, 1));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Env", berth_spec_add_env(s, "NOEQUALS"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "WorkingDir", berth_spec_set_working_dir(s, "tmp"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "User", berth_spec_set_user(s, "no body"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Hostname", berth_spec_set_hostname(s, "a_b"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "StopTimeout", berth_spec_set_stop_timeout(s, 10000000));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "StartTimeout", berth_spec_set_start_timeout(s, 0));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "RestartPolicy", berth_spec_set_restart_policy(s, "sometimes"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Dependencies", berth_spec_add_dependency(s, "-bad"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Labels", berth_spec_set_label(s, "", "v"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Network", berth_spec_set_network(s, "none,host"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Volumes", berth_spec_add_volume(s, "-bad-name:/data"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Volumes", berth_spec_add_volume(s, "/a:/b:bogus"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Image", berth_spec_set_image(s, "has space"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Runtime", berth_spec_set_runtime(s, "kata"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "MemoryMax", berth_spec_set_memory_max(s, 0));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "TasksMax", berth_spec_set_tasks_max(s, 0));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "CPUWeight", berth_spec_set_cpu_weight(s, 0));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "CPUQuota", berth_spec_set_cpu_quota(s, 0));
    RESULT(BERTH_RESULT_OK, berth_spec_set_stop_signal(s, "9"));
    berth_spec_free(s);
}

static berth_spec *serving(const char *rootfs)
{
    const char *argv[] = {"/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"};
    berth_spec *s = berth_spec_new();
    RESULT(BERTH_RESULT_OK, berth_spec_set_rootfs(s, rootfs));
    RESULT(BERTH_RESULT_OK, berth_spec_set_command(s, argv, 3));
    RESULT(BERTH_RESULT_OK, berth_spec_set_stop_timeout(s, 2));
    return s;
}

static void unknown_container(berth_client *c)
{
    char name[64];
    int32_t code = 7;
    berth_state st = 0;
    char *json = NULL;
    berth_spec *res = berth_spec_new();
    RESULT(BERTH_RESULT_OK, berth_spec_set_cpu_quota(res, 10));
    berth_logs *logs = NULL;
    char said[96];
    snprintf(name, sizeof name, "capi-nosuch-%d", (int)getpid());
    /* Every path says it once: "no such container: NAME". */
    snprintf(said, sizeof said, "no such container: %s", name);
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_start(c, name, false));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_init(c, name, false));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_stop(c, name, BERTH_TIMEOUT_DEFAULT));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_kill(c, name, 15));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_restart(c, name, 1));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_pause(c, name));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_unpause(c, name));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_update(c, name, res));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_remove(c, name, true, 0));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_sync(c, name));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_cleanup(c, name));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_wait(c, name, 0, 100, &code));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_inspect(c, name, &json));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_state(c, name, &st));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_exit_code(c, name, &code));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_client_logs(c, name, NULL, on_line, NULL));
    RESULT(BERTH_RESULT_OK, berth_logs_new(c, name, NULL, &logs));
    SAYS(BERTH_RESULT_NO_SUCH_CONTAINER, said, berth_logs_read(logs, on_line, NULL));
    berth_logs_free(logs);
    CHECK(code == 7 && st == 0 && json == NULL);
    berth_spec_free(res);
}

static void wrong_states(berth_client *c, const char *rootfs)
{
    char name[64], dependent[64], longname[200];
    int32_t code = 7;
    berth_spec *s = serving(rootfs);
    berth_spec *dep = serving(rootfs);
    berth_spec *not_resources = serving(rootfs);
    snprintf(name, sizeof name, "capi-state-%d", (int)getpid());
    snprintf(dependent, sizeof dependent, "capi-dep-%d", (int)getpid());
    memset(longname, 'x', 129);
    longname[129] = '\0';

    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "-bad", berth_client_create(c, "-bad", s));
    RESULT(BERTH_RESULT_INVALID_ARGUMENT, berth_client_create(c, longname, s));
    {
        berth_spec *incomplete = berth_spec_new();
        RESULT(BERTH_RESULT_OK, berth_spec_set_rootfs(incomplete, rootfs));
        MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Command", berth_client_create(c, name, incomplete));
        berth_spec_free(incomplete);
    }
    RESULT(BERTH_RESULT_OK, berth_spec_add_dependency(dep, "capi-no-such-dependency"));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "Dependencies", berth_client_create(c, dependent, dep));
    berth_spec_free(dep);

    RESULT(BERTH_RESULT_OK, berth_client_create(c, name, s));
    MENTIONS(BERTH_RESULT_CONTAINER_EXISTS, name, berth_client_create(c, name, s));
    RESULT(BERTH_RESULT_INVALID_STATE, berth_client_kill(c, name, 15));
    RESULT(BERTH_RESULT_INVALID_STATE, berth_client_pause(c, name));
    RESULT(BERTH_RESULT_INVALID_STATE, berth_client_unpause(c, name));
    RESULT(BERTH_RESULT_INVALID_STATE, berth_client_stop(c, name, BERTH_TIMEOUT_DEFAULT));

    /* A dependency that does not run. */
    dep = serving(rootfs);
    RESULT(BERTH_RESULT_OK, berth_spec_add_dependency(dep, name));
    RESULT(BERTH_RESULT_OK, berth_client_create(c, dependent, dep));
    MENTIONS(BERTH_RESULT_DEPENDENCY_NOT_RUNNING, name, berth_client_start(c, dependent, false));
    RESULT(BERTH_RESULT_OK, berth_client_remove(c, dependent, false, BERTH_TIMEOUT_DEFAULT));
    berth_spec_free(dep);

    RESULT(BERTH_RESULT_OK, berth_client_start(c, name, false));
    RESULT(BERTH_RESULT_INVALID_STATE, berth_client_start(c, name, false));
    RESULT(BERTH_RESULT_INVALID_STATE, berth_client_init(c, name, false));
    RESULT(BERTH_RESULT_INVALID_STATE, berth_client_unpause(c, name));
    RESULT(BERTH_RESULT_INVALID_STATE, berth_client_cleanup(c, name));
    RESULT(BERTH_RESULT_INVALID_STATE, berth_client_remove(c, name, false, BERTH_TIMEOUT_DEFAULT));
    RESULT(BERTH_RESULT_INVALID_ARGUMENT, berth_client_kill(c, name, -1));
    RESULT(BERTH_RESULT_INVALID_ARGUMENT, berth_client_kill(c, name, 65));
    RESULT(BERTH_RESULT_INVALID_ARGUMENT, berth_client_stop(c, name, 999999999));
    RESULT(BERTH_RESULT_INVALID_PARAMETER, berth_client_wait(c, name, 1u << 20, 100, &code));
    MENTIONS(BERTH_RESULT_INVALID_ARGUMENT, "not a resource key", berth_client_update(c, name, not_resources));
    RESULT(BERTH_RESULT_TIMEOUT, berth_client_wait(c, name, BERTH_STATE_EXITED, 200, &code));
    CHECK(code == 7);

    RESULT(BERTH_RESULT_OK, berth_client_stop(c, name, BERTH_TIMEOUT_DEFAULT));
    MENTIONS(BERTH_RESULT_ALREADY_STOPPED, name, berth_client_stop(c, name, BERTH_TIMEOUT_DEFAULT));
    RESULT(BERTH_RESULT_INVALID_STATE, berth_client_pause(c, name));
    RESULT(BERTH_RESULT_OK, berth_client_remove(c, name, false, BERTH_TIMEOUT_DEFAULT));
    RESULT(BERTH_RESULT_NO_SUCH_CONTAINER, berth_client_remove(c, name, false, BERTH_TIMEOUT_DEFAULT));
    berth_spec_free(s);
    berth_spec_free(not_resources);
}

int main(int argc, char **argv)
{
    berth_client *c = NULL;
    berth_spec *spec = berth_spec_new();
    if (argc != 2) {
        fprintf(stderr, "usage: errors ROOTFS\n");
        return 2;
    }
    unprivileged();
    bad_addresses();
    RESULT(BERTH_RESULT_OK, berth_client_new(&c));
    null_parameters(c, spec);
    bad_spec_values();
    unknown_container(c);
    wrong_states(c, argv[1]);
    berth_spec_free(spec);
    berth_client_free(c);
    if (failures) {
        fprintf(stderr, "errors: %d failures\n", failures);
        return 1;
    }
    printf("errors: ok\n");
    return 0;
}
