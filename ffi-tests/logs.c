/* A container's output through berth_client_logs(): every line in order,
 * one stream, the tail, a follow that returns when the container stops,
 * and the error paths. Usage: logs ROOTFS */
#define _POSIX_C_SOURCE 200809L
#include <berth.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OK(call) do { berth_result r_ = (call); if (r_ != BERTH_RESULT_OK) { char *m_ = berth_last_error_message(); \
    fprintf(stderr, "logs.c:%d: %s: %s: %s\n", __LINE__, #call, berth_result_name(r_), m_); exit(1); } } while (0)
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "logs.c:%d: expected %s\n", __LINE__, #cond); exit(1); } } while (0)

struct lines {
    int count;
    int out_of_order;
    int errors;
    char last[128];
};

static void on_line(void *userdata, const char *line, size_t len)
{
    struct lines *l = userdata;
    char want[32];
    if (strncmp(line, "err", 3) == 0) {
        l->errors++;
    } else {
        snprintf(want, sizeof want, "line-%d", l->count - l->errors + 1);
        if (strlen(line) != len || strcmp(line, want) != 0)
            l->out_of_order++;
    }
    l->count++;
    snprintf(l->last, sizeof l->last, "%s", line);
}

int main(int argc, char **argv)
{
    berth_client *client = NULL;
    berth_spec *spec = berth_spec_new();
    char name[64];
    const char *cmd[] = {"/bin/sh", "-c", "sleep 0.5; for i in $(seq 1 50); do echo line-$i; done; echo err-1 >&2; sleep 0.3"};
    berth_logs_options all = {0}, out = {0}, tail = {0}, follow = {0};
    struct lines l;
    int code = 0;

    if (argc < 2)
        return 2;
    snprintf(name, sizeof name, "clogs-%d", (int)getpid());
    OK(berth_client_new(&client));
    OK(berth_spec_set_rootfs(spec, argv[1]));
    OK(berth_spec_set_command(spec, cmd, 3));
    OK(berth_client_create(client, name, spec));
    OK(berth_client_start(client, name, false));

    /* Follow from the start: every line, and back once the container stops. */
    follow.follow = true;
    memset(&l, 0, sizeof l);
    OK(berth_client_logs(client, name, &follow, on_line, &l));
    EXPECT(l.count == 51 && l.errors == 1 && l.out_of_order == 0);
    OK(berth_client_wait(client, name, BERTH_STATE_EXITED, 10000, &code));
    EXPECT(code == 0);

    memset(&l, 0, sizeof l);
    OK(berth_client_logs(client, name, &all, on_line, &l));
    EXPECT(l.count == 51 && l.out_of_order == 0);
    memset(&l, 0, sizeof l);
    OK(berth_client_logs(client, name, NULL, on_line, &l));
    EXPECT(l.count == 51);

    out.streams = BERTH_LOGS_STDOUT;
    memset(&l, 0, sizeof l);
    OK(berth_client_logs(client, name, &out, on_line, &l));
    EXPECT(l.count == 50 && l.errors == 0);

    tail.tail = 5;
    tail.streams = BERTH_LOGS_STDOUT;
    memset(&l, 0, sizeof l);
    OK(berth_client_logs(client, name, &tail, on_line, &l));
    EXPECT(l.count == 5 && strcmp(l.last, "line-50") == 0);

    EXPECT(berth_client_logs(NULL, name, NULL, on_line, &l) == BERTH_RESULT_NULL_PARAMETER);
    EXPECT(berth_client_logs(client, NULL, NULL, on_line, &l) == BERTH_RESULT_NULL_PARAMETER);
    EXPECT(berth_client_logs(client, name, NULL, NULL, &l) == BERTH_RESULT_NULL_PARAMETER);
    EXPECT(berth_client_logs(client, "no-such-container", NULL, on_line, &l) == BERTH_RESULT_NO_SUCH_CONTAINER);

    OK(berth_client_remove(client, name, true, BERTH_TIMEOUT_DEFAULT));
    berth_spec_free(spec);
    berth_client_free(client);
    puts("logs: ok");
    return 0;
}
