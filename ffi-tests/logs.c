/* A container's output through berth_client_logs() and berth_logs handles:
 * every line in order with its stream and time, one stream, the tail, a
 * follow that returns when the container stops, a follow that ends at
 * until_usec, a follow cancelled from another thread, a callback that stops
 * the read, stdout and stderr written alternately read back in order, and
 * the error paths. Usage: logs ROOTFS */
#define _POSIX_C_SOURCE 200809L
#include <berth.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OK(call) do { berth_result r_ = (call); if (r_ != BERTH_RESULT_OK) { char *m_ = berth_last_error_message(); \
    fprintf(stderr, "logs.c:%d: %s: %s: %s\n", __LINE__, #call, berth_result_name(r_), m_); exit(1); } } while (0)
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "logs.c:%d: expected %s\n", __LINE__, #cond); exit(1); } } while (0)

static uint64_t now_usec(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static double monotonic_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

struct lines {
    int count;
    int out_of_order;
    int errors;
    int wrong_stream;
    int stop_after; /* 0: never */
    uint64_t first_usec, last_usec;
    int time_went_back;
    char last[128];
};

static int on_line(void *userdata, const berth_log_line *line)
{
    struct lines *l = userdata;
    char want[32];
    if (line->line[line->len] != '\0' || strlen(line->line) != line->len)
        l->out_of_order++;
    if (strncmp(line->line, "err", 3) == 0) {
        l->errors++;
        l->wrong_stream += line->stream != BERTH_LOGS_STDERR;
    } else {
        snprintf(want, sizeof want, "line-%d", l->count - l->errors + 1);
        if (strcmp(line->line, want) != 0)
            l->out_of_order++;
        l->wrong_stream += line->stream != BERTH_LOGS_STDOUT;
    }
    if (l->count == 0)
        l->first_usec = line->usec;
    l->time_went_back |= line->usec < l->last_usec;
    l->last_usec = line->usec;
    l->count++;
    snprintf(l->last, sizeof l->last, "%s", line->line);
    return l->stop_after > 0 && l->count >= l->stop_after;
}

static void create_started(berth_client *client, const char *rootfs, const char *name, const char *script)
{
    const char *cmd[] = {"/bin/sh", "-c", script};
    berth_spec *spec = berth_spec_new();
    OK(berth_spec_set_rootfs(spec, rootfs));
    OK(berth_spec_set_command(spec, cmd, 3));
    OK(berth_spec_set_stop_timeout(spec, 1));
    OK(berth_client_create(client, name, spec));
    OK(berth_client_start(client, name, false));
    berth_spec_free(spec);
}

/* Every way of reading one container that printed 50 lines and one error. */
static void reads(berth_client *client, const char *rootfs)
{
    char name[64];
    berth_logs_options all = {0}, out = {0}, tail = {0}, follow = {0}, stamped = {0}, bad = {0};
    struct lines l;
    int code = 0;
    uint64_t started = now_usec();
    berth_logs *handle = NULL;
    char *msg;

    snprintf(name, sizeof name, "clogs-%d", (int)getpid());
    create_started(client, rootfs, name, "sleep 0.5; for i in $(seq 1 50); do echo line-$i; done; echo err-1 >&2; sleep 0.3");

    /* Follow from the start: every line, and back once the container stops. */
    follow.follow = true;
    memset(&l, 0, sizeof l);
    OK(berth_client_logs(client, name, &follow, on_line, &l));
    EXPECT(l.count == 51 && l.errors == 1 && l.out_of_order == 0 && l.wrong_stream == 0);
    EXPECT(l.first_usec >= started - 1000000u && l.last_usec <= now_usec() && !l.time_went_back);
    OK(berth_client_wait(client, name, BERTH_STATE_EXITED, 10000, &code));
    EXPECT(code == 0);

    memset(&l, 0, sizeof l);
    OK(berth_client_logs(client, name, &all, on_line, &l));
    EXPECT(l.count == 51 && l.out_of_order == 0 && l.wrong_stream == 0);
    memset(&l, 0, sizeof l);
    OK(berth_client_logs(client, name, NULL, on_line, &l));
    EXPECT(l.count == 51);

    out.streams = BERTH_LOGS_STDOUT;
    memset(&l, 0, sizeof l);
    OK(berth_client_logs(client, name, &out, on_line, &l));
    EXPECT(l.count == 50 && l.errors == 0 && l.wrong_stream == 0);

    tail.tail = 5;
    tail.streams = BERTH_LOGS_STDOUT;
    memset(&l, 0, sizeof l);
    OK(berth_client_logs(client, name, &tail, on_line, &l));
    EXPECT(l.count == 5 && strcmp(l.last, "line-50") == 0);

    /* The callback ends the read. */
    memset(&l, 0, sizeof l);
    l.stop_after = 3;
    OK(berth_client_logs(client, name, NULL, on_line, &l));
    EXPECT(l.count == 3);

    /* A handle reads the same, more than once. */
    OK(berth_logs_new(client, name, &out, &handle));
    memset(&l, 0, sizeof l);
    OK(berth_logs_read(handle, on_line, &l));
    EXPECT(l.count == 50);
    memset(&l, 0, sizeof l);
    OK(berth_logs_read(handle, on_line, &l));
    EXPECT(l.count == 50);
    /* Cancelled before a read: that read returns at once. */
    berth_logs_cancel(handle);
    memset(&l, 0, sizeof l);
    EXPECT(berth_logs_read(handle, on_line, &l) == BERTH_RESULT_CANCELED && l.count == 0);
    berth_logs_free(handle);
    handle = NULL;

    stamped.timestamps = true;
    stamped.tail = 1;
    memset(&l, 0, sizeof l);
    l.errors = 1; /* the last line is err-1, after the time */
    OK(berth_client_logs(client, name, &stamped, on_line, &l));
    EXPECT(l.count == 1 && strlen(l.last) == 27 + 1 + 5 && l.last[10] == 'T' && l.last[26] == 'Z');
    EXPECT(strcmp(l.last + 28, "err-1") == 0);

    /* Errors: libberth's own checks, and berthd's. */
    bad.streams = 4;
    EXPECT(berth_client_logs(client, name, &bad, on_line, &l) == BERTH_RESULT_INVALID_PARAMETER);
    EXPECT(berth_logs_new(client, name, &bad, &handle) == BERTH_RESULT_INVALID_PARAMETER && handle == NULL);
    EXPECT(berth_client_logs(NULL, name, NULL, on_line, &l) == BERTH_RESULT_NULL_PARAMETER);
    EXPECT(berth_client_logs(client, NULL, NULL, on_line, &l) == BERTH_RESULT_NULL_PARAMETER);
    EXPECT(berth_client_logs(client, name, NULL, NULL, &l) == BERTH_RESULT_NULL_PARAMETER);
    EXPECT(berth_logs_new(NULL, name, NULL, &handle) == BERTH_RESULT_NULL_PARAMETER);
    EXPECT(berth_logs_new(client, name, NULL, NULL) == BERTH_RESULT_NULL_PARAMETER);
    EXPECT(berth_logs_read(NULL, on_line, &l) == BERTH_RESULT_NULL_PARAMETER);
    berth_logs_cancel(NULL);
    berth_logs_free(NULL);
    EXPECT(berth_client_logs(client, "no-such-container", NULL, on_line, &l) == BERTH_RESULT_NO_SUCH_CONTAINER);
    msg = berth_last_error_message();
    EXPECT(strcmp(msg, "no such container: no-such-container") == 0);
    berth_string_free(msg);

    OK(berth_client_remove(client, name, true, BERTH_TIMEOUT_DEFAULT));
}

/* A follow with until_usec ends then, though the container goes on. */
static void follow_until(berth_client *client, const char *rootfs)
{
    char name[64];
    berth_logs_options o = {0};
    struct lines l;
    double t0, took;

    snprintf(name, sizeof name, "clogs-until-%d", (int)getpid());
    create_started(client, rootfs, name, "i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.1; done");
    o.follow = true;
    o.until_usec = now_usec() + 1500000u;
    memset(&l, 0, sizeof l);
    t0 = monotonic_ms();
    OK(berth_client_logs(client, name, &o, on_line, &l));
    took = monotonic_ms() - t0;
    /* Generous bounds: a busy machine under valgrind. */
    EXPECT(took > 1000 && took < 1500 + 2000);
    EXPECT(l.count > 0 && l.out_of_order == 0 && l.last_usec < o.until_usec);
    printf("follow with until: returned %.0f ms after the call, until was 1500 ms ahead (%d lines)\n", took, l.count);
    OK(berth_client_remove(client, name, true, 0));
}

struct canceller {
    berth_logs *logs;
    double cancelled_at;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    sleep_ms(700);
    c->cancelled_at = monotonic_ms();
    berth_logs_cancel(c->logs);
    return NULL;
}

/* A follow that would never end, cancelled from another thread. */
static void follow_cancelled(berth_client *client, const char *rootfs)
{
    char name[64];
    berth_logs_options o = {0};
    struct canceller c = {NULL, 0};
    struct lines l;
    pthread_t t;
    double took;

    snprintf(name, sizeof name, "clogs-cancel-%d", (int)getpid());
    create_started(client, rootfs, name, "i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.1; done");
    o.follow = true;
    OK(berth_logs_new(client, name, &o, &c.logs));
    EXPECT(pthread_create(&t, NULL, cancel_later, &c) == 0);
    memset(&l, 0, sizeof l);
    EXPECT(berth_logs_read(c.logs, on_line, &l) == BERTH_RESULT_CANCELED);
    took = monotonic_ms() - c.cancelled_at;
    EXPECT(pthread_join(t, NULL) == 0);
    EXPECT(l.count > 0 && l.out_of_order == 0);
    /* 100 ms is the aim (examples/bench.rs measures it); this bound is for a busy machine. */
    EXPECT(took < 2000);
    printf("follow cancelled from another thread: returned %.1f ms after berth_logs_cancel()\n", took);
    berth_logs_free(c.logs);
    OK(berth_client_remove(client, name, true, 0));
}

enum { ROUNDS = 10000 };

struct interleaved {
    int count, bad, descents, max_shift;
    int next_out, next_err; /* the next N expected of each stream */
    int last_pos;
};

/* out-N was written at position 2(N-1), err-N right after it. */
static int on_interleaved(void *userdata, const berth_log_line *line)
{
    struct interleaved *s = userdata;
    int n = 0, pos, shift;
    if (sscanf(line->line, "out-%d", &n) == 1 && line->stream == BERTH_LOGS_STDOUT && n == s->next_out + 1) {
        s->next_out = n;
        pos = 2 * (n - 1);
    } else if (sscanf(line->line, "err-%d", &n) == 1 && line->stream == BERTH_LOGS_STDERR && n == s->next_err + 1) {
        s->next_err = n;
        pos = 2 * (n - 1) + 1;
    } else {
        s->bad++;
        return 0;
    }
    if (s->count > 0 && pos < s->last_pos)
        s->descents++;
    shift = pos > s->count ? pos - s->count : s->count - pos;
    if (shift > s->max_shift)
        s->max_shift = shift;
    s->last_pos = pos;
    s->count++;
    return 0;
}

/* A container alternating stdout and stderr as fast as its shell can:
 * every line arrives once, each stream in order, with its stream; where
 * the two streams' lines come back in another order than written is
 * counted and printed (berth-monitor reads two pipes: writes made between
 * two of its reads cannot be ordered across the pipes). */
static void interleaving(berth_client *client, const char *rootfs)
{
    char name[64], script[160];
    struct interleaved s;
    int code = -1;

    snprintf(name, sizeof name, "clogs-mix-%d", (int)getpid());
    snprintf(script, sizeof script, "i=0; while [ $i -lt %d ]; do i=$((i+1)); echo out-$i; echo err-$i >&2; done", ROUNDS);
    create_started(client, rootfs, name, script);
    OK(berth_client_wait(client, name, 0, 120000, &code));
    EXPECT(code == 0);
    memset(&s, 0, sizeof s);
    OK(berth_client_logs(client, name, NULL, on_interleaved, &s));
    EXPECT(s.bad == 0 && s.count == 2 * ROUNDS && s.next_out == ROUNDS && s.next_err == ROUNDS);
    printf("interleaving: %d lines, each stream in order; %d places where stderr and stdout came back "
           "in another order than written (%.2f%% of lines), at most %d lines from the written place\n",
           s.count, s.descents, 100.0 * s.descents / s.count, s.max_shift);
    OK(berth_client_remove(client, name, false, BERTH_TIMEOUT_DEFAULT));
}

int main(int argc, char **argv)
{
    berth_client *client = NULL;

    if (argc < 2)
        return 2;
    OK(berth_client_new(&client));
    reads(client, argv[1]);
    follow_until(client, argv[1]);
    follow_cancelled(client, argv[1]);
    interleaving(client, argv[1]);
    berth_client_free(client);
    puts("logs: ok");
    return 0;
}
