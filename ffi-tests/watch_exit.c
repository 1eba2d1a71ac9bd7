/* An event watch that frees itself from its own callback, after its client
 * was freed (so its thread holds the last connection), and a program that
 * returns from main as soon as that callback has freed it: nothing of
 * libberth may still run, or leak, when the process exits. tests/capi.rs
 * runs it many times in a row under valgrind. Usage: watch_exit ROOTFS */
#define _POSIX_C_SOURCE 200809L
#include <berth.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OK(call) do { berth_result r_ = (call); if (r_ != BERTH_RESULT_OK) { char *m_ = berth_last_error_message(); \
    fprintf(stderr, "watch_exit.c:%d: %s: %s: %s\n", __LINE__, #call, berth_result_name(r_), m_); exit(1); } } while (0)

struct state {
    pthread_mutex_t lock;
    char name[64];
    berth_event_watch *self;
    int freed;
};

static void on_event(void *userdata, const berth_event *ev)
{
    struct timespec later = {0, 50000000L};
    struct state *s = userdata;
    berth_event_watch *w;
    if (strcmp(ev->name, s->name) != 0)
        return;
    pthread_mutex_lock(&s->lock);
    w = s->self;
    s->self = NULL;
    pthread_mutex_unlock(&s->lock);
    if (w == NULL)
        return;
    berth_event_watch_free(w);
    pthread_mutex_lock(&s->lock);
    s->freed = 1;
    pthread_mutex_unlock(&s->lock);
    /* Still running when main returns: exit must wait for this thread. */
    nanosleep(&later, NULL);
}

int main(int argc, char **argv)
{
    const char *cmd[] = {"/bin/true"};
    struct state s;
    berth_client *watcher = NULL, *c = NULL;
    berth_spec *spec;
    int freed = 0;
    struct timespec ms = {0, 1000000L};

    if (argc != 2)
        return 2;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    snprintf(s.name, sizeof s.name, "capi-watch-exit-%d", (int)getpid());

    OK(berth_client_new(&watcher));
    pthread_mutex_lock(&s.lock);
    OK(berth_client_watch_events(watcher, on_event, &s, &s.self));
    pthread_mutex_unlock(&s.lock);
    /* The watch keeps its own reference: it is now the last one. */
    berth_client_free(watcher);

    OK(berth_client_new(&c));
    spec = berth_spec_new();
    OK(berth_spec_set_rootfs(spec, argv[1]));
    OK(berth_spec_set_command(spec, cmd, 1));
    OK(berth_client_create(c, s.name, spec));
    OK(berth_client_remove(c, s.name, false, BERTH_TIMEOUT_DEFAULT));
    berth_spec_free(spec);
    berth_client_free(c);

    while (!freed) {
        nanosleep(&ms, NULL);
        pthread_mutex_lock(&s.lock);
        freed = s.freed;
        pthread_mutex_unlock(&s.lock);
    }
    /* Straight out, while the watch thread may still be winding down. */
    puts("watch_exit: ok");
    return 0;
}
