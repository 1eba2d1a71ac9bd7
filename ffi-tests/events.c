/* Event callbacks: a watch sees create, start, died and remove of a
 * container, with its userdata, on a library thread that may call
 * libberth itself; a second watch frees itself from its own callback.
 * Usage: events ROOTFS */
#define _POSIX_C_SOURCE 200809L
#include <berth.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OK(call) do { berth_result r_ = (call); if (r_ != BERTH_RESULT_OK) { char *m_ = berth_last_error_message(); \
    fprintf(stderr, "events.c:%d: %s: %s: %s\n", __LINE__, #call, berth_result_name(r_), m_); exit(1); } } while (0)
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "events.c:%d: expected %s\n", __LINE__, #cond); exit(1); } } while (0)

enum { MAX_EVENTS = 64 };

struct seen {
    pthread_mutex_t lock;
    const berth_client *client;
    char name[64];
    berth_event_kind kinds[MAX_EVENTS];
    int count;
    int foreign_thread; /* callbacks ran on a thread other than main's */
    int state_in_callback; /* berth_client_state() worked from the callback */
    pthread_t main_thread;
    berth_event_watch *self_watch; /* for the watch that frees itself */
    int self_freed;
};

static void on_event(void *userdata, const berth_event *ev)
{
    struct seen *s = userdata;
    berth_state st = 0;
    int state_ok;
    if (strcmp(ev->name, s->name) != 0)
        return;
    if (strlen(ev->id) != 64 || ev->usec == 0)
        return;
    /* Calling libberth from the callback thread must work (under valgrind
       the container may be gone by the time the callback runs). */
    if (ev->kind == BERTH_EVENT_KIND_START) {
        berth_result r = berth_client_state(s->client, s->name, &st);
        state_ok = r == BERTH_RESULT_OK || r == BERTH_RESULT_NO_SUCH_CONTAINER;
        if (!state_ok) {
            char *m = berth_last_error_message();
            fprintf(stderr, "events.c: berth_client_state() in the callback: %s: %s\n", berth_result_name(r), m);
            berth_string_free(m);
        }
    } else
        state_ok = 0;
    pthread_mutex_lock(&s->lock);
    s->state_in_callback |= state_ok;
    if (s->count < MAX_EVENTS)
        s->kinds[s->count++] = ev->kind;
    if (!pthread_equal(pthread_self(), s->main_thread))
        s->foreign_thread = 1;
    pthread_mutex_unlock(&s->lock);
    /* The event's name and kind agree. */
    if ((ev->kind == BERTH_EVENT_KIND_DIED) != (strcmp(ev->event, "died") == 0))
        abort();
}

static void on_event_then_stop(void *userdata, const berth_event *ev)
{
    struct seen *s = userdata;
    berth_event_watch *w;
    if (strcmp(ev->name, s->name) != 0 || ev->kind != BERTH_EVENT_KIND_REMOVE)
        return;
    pthread_mutex_lock(&s->lock);
    w = s->self_watch;
    s->self_watch = NULL;
    pthread_mutex_unlock(&s->lock);
    if (w == NULL)
        return;
    berth_event_watch_free(w);
    pthread_mutex_lock(&s->lock);
    s->self_freed = 1;
    pthread_mutex_unlock(&s->lock);
}

static int has(struct seen *s, berth_event_kind k)
{
    int i, found = 0;
    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->count; i++)
        found |= s->kinds[i] == k;
    pthread_mutex_unlock(&s->lock);
    return found;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int poll_until(struct seen *s, const berth_event_kind *kinds, int n)
{
    int tries, i, all = 0;
    for (tries = 0; tries < 200 && !all; tries++) {
        all = 1;
        for (i = 0; i < n; i++)
            all &= has(s, kinds[i]);
        if (!all)
            sleep_ms(50);
    }
    return all;
}

int main(int argc, char **argv)
{
    const char *cmd[] = {"/bin/sh", "-c", "sleep 0.5; exit 2"};
    const berth_event_kind want[] = {BERTH_EVENT_KIND_CREATE, BERTH_EVENT_KIND_START, BERTH_EVENT_KIND_DIED,
                                     BERTH_EVENT_KIND_REMOVE};
    struct seen s, s2;
    berth_client *c = NULL;
    berth_spec *spec;
    berth_event_watch *watch = NULL, *watch2 = NULL;
    int32_t code = 0;
    int count_after, freed;

    EXPECT(argc == 2);
    memset(&s, 0, sizeof s);
    memset(&s2, 0, sizeof s2);
    pthread_mutex_init(&s.lock, NULL);
    pthread_mutex_init(&s2.lock, NULL);
    s.main_thread = s2.main_thread = pthread_self();
    snprintf(s.name, sizeof s.name, "capi-events-%d", (int)getpid());
    memcpy(s2.name, s.name, sizeof s.name);

    OK(berth_client_new(&c));
    s.client = s2.client = c;
    OK(berth_client_watch_events(c, on_event, &s, &watch));
    pthread_mutex_lock(&s2.lock);
    OK(berth_client_watch_events(c, on_event_then_stop, &s2, &watch2));
    s2.self_watch = watch2;
    pthread_mutex_unlock(&s2.lock);

    spec = berth_spec_new();
    OK(berth_spec_set_rootfs(spec, argv[1]));
    OK(berth_spec_set_command(spec, cmd, 3));
    OK(berth_client_create(c, s.name, spec));
    OK(berth_client_start(c, s.name, false));
    OK(berth_client_wait(c, s.name, 0, 30000, &code));
    EXPECT(code == 2);
    OK(berth_client_remove(c, s.name, false, BERTH_TIMEOUT_DEFAULT));
    berth_spec_free(spec);

    EXPECT(poll_until(&s, want, 4));
    EXPECT(s.foreign_thread);
    EXPECT(s.state_in_callback);

    /* The second watch stopped itself from its callback. */
    for (freed = 0; !freed; sleep_ms(50)) {
        pthread_mutex_lock(&s2.lock);
        freed = s2.self_freed;
        pthread_mutex_unlock(&s2.lock);
    }

    /* After the free no callback runs: new events go unseen. */
    berth_event_watch_free(watch);
    pthread_mutex_lock(&s.lock);
    count_after = s.count;
    pthread_mutex_unlock(&s.lock);
    spec = berth_spec_new();
    OK(berth_spec_set_rootfs(spec, argv[1]));
    OK(berth_spec_set_command(spec, cmd, 3));
    OK(berth_client_create(c, s.name, spec));
    OK(berth_client_remove(c, s.name, false, BERTH_TIMEOUT_DEFAULT));
    berth_spec_free(spec);
    sleep_ms(300);
    EXPECT(s.count == count_after);

    berth_client_free(c);
    pthread_mutex_destroy(&s.lock);
    pthread_mutex_destroy(&s2.lock);
    printf("events: ok (%d events)\n", count_after);
    return 0;
}
