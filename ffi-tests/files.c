/* Files in a container through libberth, against a real berthd: stat, a
 * copy out into a file and back in (paused, owned by the container's
 * user), artifacts added, read, listed and removed, the same copy of the
 * stopped container, and bad input named.
 * Usage: files ROOTFS RUNTIME */
#define _POSIX_C_SOURCE 200809L
#include <berth.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void fail(int line, const char *what, berth_result r)
{
    char *m = berth_last_error_message();
    fprintf(stderr, "files.c:%d: %s: %s: %s\n", line, what, berth_result_name(r), m);
    berth_string_free(m);
    exit(1);
}

#define OK(call) do { berth_result r_ = (call); if (r_ != BERTH_RESULT_OK) fail(__LINE__, #call, r_); } while (0)
#define FAILS(call, want) do { berth_result r_ = (call); if (r_ != (want)) fail(__LINE__, #call " (wanted " #want ")", r_); } while (0)
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "files.c:%d: expected %s\n", __LINE__, #cond); exit(1); } } while (0)

/* A new empty file under /var/tmp, open for reading and writing. */
static int scratch(const char *what)
{
    char path[128];
    int fd;
    snprintf(path, sizeof path, "/var/tmp/capi-files-%d-%s", (int)getpid(), what);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT(fd >= 0);
    unlink(path);
    return fd;
}

static void copy_out_and_back(berth_client *c, const char *name, const char *into)
{
    char *json = NULL;
    struct stat st;
    int fd = scratch("tar");
    OK(berth_client_copy_out(c, name, "/etc/passwd", fd));
    EXPECT(fstat(fd, &st) == 0 && st.st_size >= 1024 && st.st_size % 512 == 0);
    EXPECT(lseek(fd, 0, SEEK_SET) == 0);
    OK(berth_client_copy_in(c, name, into, fd, BERTH_COPY_CHOWN | BERTH_COPY_PAUSE));
    close(fd);
    OK(berth_client_stat(c, name, "/tmp/passwd", false, &json));
    EXPECT(strstr(json, "\"Name\": \"passwd\"") != NULL);
    EXPECT(strstr(json, "\"IsDir\": false") != NULL);
    berth_string_free(json);
}

int main(int argc, char **argv)
{
    berth_client *c = NULL;
    berth_spec *spec = berth_spec_new();
    const char *cmd[] = {"/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"};
    char name[64], buf[64];
    char *json = NULL;
    int fd, out;
    ssize_t n;

    EXPECT(argc == 3);
    snprintf(name, sizeof name, "capi-files-%d", (int)getpid());
    OK(berth_client_new(&c));
    OK(berth_spec_set_rootfs(spec, argv[1]));
    OK(berth_spec_set_command(spec, cmd, 3));
    OK(berth_spec_set_runtime(spec, argv[2]));
    OK(berth_client_create(c, name, spec));
    OK(berth_client_start(c, name, false));

    /* Stat, a directory followed. */
    OK(berth_client_stat(c, name, "/bin", true, &json));
    EXPECT(strstr(json, "\"IsDir\": true") != NULL);
    berth_string_free(json);
    json = NULL;

    /* Out into a file and back in, running. */
    copy_out_and_back(c, name, "/tmp");

    /* Artifacts. */
    fd = scratch("blob");
    EXPECT(write(fd, "hello, artifact", 15) == 15);
    EXPECT(lseek(fd, 0, SEEK_SET) == 0);
    OK(berth_client_artifact_add(c, name, "note", fd));
    close(fd);
    out = scratch("got");
    OK(berth_client_artifact_get(c, name, "note", out));
    EXPECT(lseek(out, 0, SEEK_SET) == 0);
    n = read(out, buf, sizeof buf);
    EXPECT(n == 15 && memcmp(buf, "hello, artifact", 15) == 0);
    OK(berth_client_artifact_list(c, name, &json));
    EXPECT(strcmp(json, "[\"note\"]") == 0);
    berth_string_free(json);
    json = NULL;
    OK(berth_client_artifact_remove(c, name, "note"));

    /* Bad input: named, nothing written. */
    FAILS(berth_client_stat(c, name, "/no/such/path", false, &json), BERTH_RESULT_NO_SUCH_PATH);
    EXPECT(json == NULL);
    FAILS(berth_client_copy_in(c, name, "/etc/passwd", out, 0), BERTH_RESULT_NOT_A_DIRECTORY);
    FAILS(berth_client_copy_in(c, name, "/tmp", out, 0x100), BERTH_RESULT_INVALID_PARAMETER);
    FAILS(berth_client_copy_out(c, "no-such-container", "/", out), BERTH_RESULT_NO_SUCH_CONTAINER);
    FAILS(berth_client_copy_out(c, name, NULL, out), BERTH_RESULT_NULL_PARAMETER);
    FAILS(berth_client_copy_out(c, name, "/", -1), BERTH_RESULT_INVALID_PARAMETER);
    FAILS(berth_client_artifact_add(c, name, "../up", out), BERTH_RESULT_INVALID_ARGUMENT);
    FAILS(berth_client_artifact_get(c, name, "note", out), BERTH_RESULT_NO_SUCH_ARTIFACT);
    FAILS(berth_client_artifact_remove(c, name, "note"), BERTH_RESULT_NO_SUCH_ARTIFACT);
    close(out);

    /* The same, stopped. */
    OK(berth_client_stop(c, name, 0));
    copy_out_and_back(c, name, "/tmp");

    OK(berth_client_remove(c, name, true, 0));
    berth_spec_free(spec);
    berth_client_free(c);
    printf("files: ok\n");
    return 0;
}
