/* An interactive shell driven through the C API: a container with a
 * terminal started attached, typed into, resized (in band and through
 * berthd), detached from and attached to again; exec sessions with piped
 * input, a terminal and a missing command; the error paths. Usage:
 * attach ROOTFS */
#define _POSIX_C_SOURCE 200809L
#include <berth.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OK(call) do { berth_result r_ = (call); if (r_ != BERTH_RESULT_OK) { char *m_ = berth_last_error_message(); \
    fprintf(stderr, "attach.c:%d: %s: %s: %s\n", __LINE__, #call, berth_result_name(r_), m_); exit(1); } } while (0)
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "attach.c:%d: expected %s\n", __LINE__, #cond); exit(1); } } while (0)
#define FAILS(call, code) do { berth_result r_ = (call); if (r_ != (code)) { fprintf(stderr, "attach.c:%d: %s gave %s, not %s\n", \
    __LINE__, #call, berth_result_name(r_), berth_result_name(code)); exit(1); } } while (0)

/* What came on an attach descriptor so far. */
struct seen {
    char text[65536];
    size_t len;
    int exited;
    int exit_code;
    int detached;
    int ended;
};

/* Read frames until `needle` is in the output, or the stream's last frame. */
static void read_until(int fd, const char *needle, struct seen *s)
{
    static char buf[BERTH_ATTACH_MAX_PACKET];
    while (!(needle && strstr(s->text, needle)) && !s->exited && !s->detached && !s->ended) {
        uint8_t kind = 0;
        size_t len = 0;
        OK(berth_attach_read(fd, buf, sizeof buf, &kind, &len));
        switch (kind) {
        case BERTH_STREAM_STDOUT:
        case BERTH_STREAM_STDERR:
            if (len > sizeof s->text - 1 - s->len)
                len = sizeof s->text - 1 - s->len;
            memcpy(s->text + s->len, buf, len);
            s->len += len;
            s->text[s->len] = 0;
            break;
        case BERTH_FRAME_EXIT:
            EXPECT(len == 4);
            s->exited = 1;
            s->exit_code = (int)((uint32_t)(uint8_t)buf[0] | (uint32_t)(uint8_t)buf[1] << 8 |
                                 (uint32_t)(uint8_t)buf[2] << 16 | (uint32_t)(uint8_t)buf[3] << 24);
            break;
        case BERTH_FRAME_DETACHED:
            s->detached = 1;
            break;
        case 0:
            s->ended = 1;
            break;
        default:
            break;
        }
    }
}

static void type(int fd, const char *line)
{
    OK(berth_attach_write_stdin(fd, line, strlen(line)));
}

static char *exec_create(berth_client *client, const char *name, const char **argv, size_t argc, bool tty)
{
    berth_exec_options o;
    char *session = NULL;
    memset(&o, 0, sizeof o);
    o.argv = argv;
    o.argc = argc;
    o.terminal = tty;
    o.interactive = true;
    OK(berth_client_exec_create(client, name, &o, &session));
    return session;
}

int main(int argc, char **argv)
{
    berth_client *client = NULL;
    berth_spec *spec = berth_spec_new();
    char name[64];
    const char *sh[] = {"/bin/sh"};
    const char *cat[] = {"/bin/sh", "-c", "cat; exit 5"};
    const char *nope[] = {"/no/such/command"};
    struct seen s;
    char *session, *json = NULL;
    int fd = -1, code = 0;
    berth_state state;

    if (argc < 2)
        return 2;
    snprintf(name, sizeof name, "cattach-%d", (int)getpid());
    OK(berth_client_new(&client));
    OK(berth_spec_set_rootfs(spec, argv[1]));
    OK(berth_spec_set_command(spec, sh, 1));
    OK(berth_spec_set_bool(spec, "Terminal", true));
    OK(berth_spec_set_bool(spec, "Interactive", true));
    OK(berth_client_create(client, name, spec));

    /* Attached from before the start: the shell's banner is there. */
    OK(berth_client_start_and_attach(client, name, false, BERTH_ATTACH_STDIN | BERTH_ATTACH_STDOUT | BERTH_ATTACH_STDERR,
                                     NULL, &fd));
    OK(berth_attach_send_resize(fd, 30, 100));
    memset(&s, 0, sizeof s);
    type(fd, "echo hi-$((40+2)); tty; stty size\n");
    read_until(fd, "30 100", &s);
    EXPECT(strstr(s.text, "hi-42") && strstr(s.text, "/dev/pts/") && strstr(s.text, "30 100"));

    OK(berth_client_attach_resize(client, name, 40, 120));
    memset(&s, 0, sizeof s);
    type(fd, "stty size\n");
    read_until(fd, "40 120", &s);
    EXPECT(strstr(s.text, "40 120"));

    /* Detach: the container runs on. */
    memset(&s, 0, sizeof s);
    type(fd, "\x10\x11");
    read_until(fd, NULL, &s);
    EXPECT(s.detached);
    close(fd);
    OK(berth_client_state(client, name, &state));
    EXPECT(state == BERTH_STATE_RUNNING);

    /* exec with piped input: it reaches the command, whose code comes back. */
    session = exec_create(client, name, cat, 3, false);
    OK(berth_client_exec_start_and_attach(client, name, session, BERTH_ATTACH_STDIN | BERTH_ATTACH_STDOUT, "none", &fd));
    type(fd, "piped line\n");
    OK(berth_attach_write_stdin(fd, NULL, 0));
    memset(&s, 0, sizeof s);
    read_until(fd, NULL, &s);
    EXPECT(s.exited && s.exit_code == 5 && strstr(s.text, "piped line"));
    close(fd);
    OK(berth_client_exec_wait(client, name, session, 10000, &code));
    EXPECT(code == 5);
    FAILS(berth_client_exec_resize(client, name, session, 10, 10), BERTH_RESULT_NOT_A_TERMINAL);
    FAILS(berth_client_exec_start(client, name, session), BERTH_RESULT_INVALID_EXEC_STATE);
    OK(berth_client_exec_inspect(client, name, session, &json));
    EXPECT(strstr(json, "\"State\": \"exited\"") && strstr(json, "\"ExitCode\": 5"));
    berth_string_free(json);
    berth_string_free(session);

    /* A command that does not exist: 127, as podman's. */
    session = exec_create(client, name, nope, 1, false);
    OK(berth_client_exec_start_and_attach(client, name, session, BERTH_ATTACH_STDOUT | BERTH_ATTACH_STDERR, NULL, &fd));
    memset(&s, 0, sizeof s);
    read_until(fd, NULL, &s);
    EXPECT(s.exited && s.exit_code == 127);
    close(fd);
    berth_string_free(session);

    /* An exec with its own terminal, resized while it runs. */
    session = exec_create(client, name, sh, 1, true);
    OK(berth_client_exec_start_and_attach(client, name, session, BERTH_ATTACH_STDIN | BERTH_ATTACH_STDOUT, NULL, &fd));
    memset(&s, 0, sizeof s);
    type(fd, "tty; echo ready-$((1+1))\n");
    read_until(fd, "ready-2", &s);
    EXPECT(strstr(s.text, "/dev/pts/"));
    OK(berth_client_exec_resize(client, name, session, 33, 77));
    memset(&s, 0, sizeof s);
    type(fd, "stty size; exit 7\n");
    read_until(fd, NULL, &s);
    EXPECT(s.exited && s.exit_code == 7 && strstr(s.text, "33 77"));
    close(fd);
    berth_string_free(session);

    /* Bad input: named errors. */
    FAILS(berth_client_exec_wait(client, name, "0000000000000000000000000000000000000000000000000000000000000000", 1000, &code),
          BERTH_RESULT_NO_SUCH_EXEC_SESSION);
    FAILS(berth_client_attach(client, name, 8, NULL, &fd), BERTH_RESULT_INVALID_PARAMETER);
    FAILS(berth_client_attach(client, name, BERTH_ATTACH_STDOUT, "ctrl-", &fd), BERTH_RESULT_INVALID_ARGUMENT);
    FAILS(berth_client_attach(client, NULL, BERTH_ATTACH_STDOUT, NULL, &fd), BERTH_RESULT_NULL_PARAMETER);

    /* Attach again, and end the shell. */
    OK(berth_client_attach(client, name, BERTH_ATTACH_STDIN | BERTH_ATTACH_STDOUT, NULL, &fd));
    type(fd, "exit 3\n");
    memset(&s, 0, sizeof s);
    read_until(fd, NULL, &s);
    EXPECT(s.exited && s.exit_code == 3);
    close(fd);
    OK(berth_client_wait(client, name, BERTH_STATE_EXITED, 10000, &code));
    EXPECT(code == 3);
    {
        /* No exec in a stopped container. */
        berth_exec_options o;
        memset(&o, 0, sizeof o);
        o.argv = sh;
        o.argc = 1;
        FAILS(berth_client_exec_create(client, name, &o, &session), BERTH_RESULT_INVALID_STATE);
    }
    OK(berth_client_remove(client, name, false, BERTH_TIMEOUT_DEFAULT));
    berth_spec_free(spec);
    berth_client_free(client);
    printf("attach: ok\n");
    return 0;
}
