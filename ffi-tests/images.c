/* Images, volumes and a container's root through libberth, against a real
 * berthd: import a root file system tarball from a path and from a
 * descriptor, list, inspect, tag, untag; a container from the image, its
 * root mounted, exported into a file and to a callback, unmounted; the
 * image refused while in use; volumes; bad input.
 * Usage: images ROOTFS TARBALL RUNTIME */
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
    fprintf(stderr, "images.c:%d: %s: %s: %s\n", line, what, berth_result_name(r), m);
    berth_string_free(m);
    exit(1);
}

#define OK(call) do { berth_result r_ = (call); if (r_ != BERTH_RESULT_OK) fail(__LINE__, #call, r_); } while (0)
#define FAILS(call, want) do { berth_result r_ = (call); if (r_ != (want)) fail(__LINE__, #call " (wanted " #want ")", r_); } while (0)
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "images.c:%d: expected %s\n", __LINE__, #cond); exit(1); } } while (0)

/* A needle in a buffer that may hold NUL bytes. */
static int contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle), i;
    for (i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

struct collected {
    size_t bytes;
    int saw_busybox;
};

static void on_piece(void *userdata, const char *data, size_t len)
{
    struct collected *c = userdata;
    c->bytes += len;
    if (contains(data, len, "bin/busybox"))
        c->saw_busybox = 1;
}

int main(int argc, char **argv)
{
    berth_client *c = NULL;
    berth_spec *spec = berth_spec_new();
    char image[64], tag2[80], name[64], volume[64], file[128];
    char *ids = NULL, *ids2 = NULL, *json = NULL, *path = NULL;
    const char *cmd[] = {"/bin/sh", "-c", "echo changed > /changed; trap 'exit 0' TERM; while true; do sleep 0.1; done"};
    struct collected got = {0, 0};
    struct stat st;
    char *buf;
    ssize_t n;
    int fd, same;

    EXPECT(argc == 4);
    snprintf(image, sizeof image, "capi-img-%d", (int)getpid());
    snprintf(tag2, sizeof tag2, "%s:two", image);
    snprintf(name, sizeof name, "capi-fromimg-%d", (int)getpid());
    snprintf(volume, sizeof volume, "capi-vol-%d", (int)getpid());
    snprintf(file, sizeof file, "/var/tmp/capi-export-%d.tar", (int)getpid());
    OK(berth_client_new(&c));

    /* Import, from a path and from a descriptor (the second takes the name). */
    OK(berth_client_image_import(c, argv[2], image, &ids));
    EXPECT(ids[0] == '[' && strlen(ids) == 68);
    fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    EXPECT(fd >= 0);
    OK(berth_client_image_import_fd(c, fd, image, &ids2));
    close(fd);
    EXPECT(ids2[0] == '[' && strlen(ids2) == 68);
    /* Imported within the same second, the two configs are equal. */
    same = strcmp(ids, ids2) == 0;
    berth_string_free(ids2);
    ids2 = NULL;
    OK(berth_client_image_list(c, &json));
    EXPECT(strstr(json, image) != NULL);
    berth_string_free(json);
    OK(berth_client_image_tag(c, image, tag2));
    OK(berth_client_image_inspect(c, tag2, &json));
    EXPECT(strstr(json, "\"Config\"") != NULL && strstr(json, ":two\"") != NULL);
    berth_string_free(json);
    OK(berth_client_image_untag(c, image, tag2));
    FAILS(berth_client_image_inspect(c, tag2, &json), BERTH_RESULT_NO_SUCH_IMAGE);

    /* A container from it; its root mounted, exported, unmounted. */
    OK(berth_spec_set_image(spec, image));
    OK(berth_spec_set_command(spec, cmd, 3));
    OK(berth_spec_add_volume(spec, "/anonymous"));
    OK(berth_spec_set_runtime(spec, argv[3]));
    OK(berth_client_create(c, name, spec));
    OK(berth_client_start(c, name, false));
    OK(berth_client_mount(c, name, &path));
    {
        char probe[256];
        struct timespec tick = {0, 50 * 1000 * 1000};
        int i;
        snprintf(probe, sizeof probe, "%s/bin/busybox", path);
        EXPECT(access(probe, X_OK) == 0);
        /* The container's own change, seen through the mount. */
        snprintf(probe, sizeof probe, "%s/changed", path);
        for (i = 0; i < 200 && access(probe, F_OK) != 0; i++)
            nanosleep(&tick, NULL);
        EXPECT(access(probe, F_OK) == 0);
    }
    fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT(fd >= 0);
    OK(berth_client_export(c, name, fd));
    close(fd);
    EXPECT(stat(file, &st) == 0 && st.st_size > 1024 * 1024);
    buf = malloc((size_t)st.st_size);
    EXPECT(buf != NULL);
    fd = open(file, O_RDONLY | O_CLOEXEC);
    n = read(fd, buf, (size_t)st.st_size);
    close(fd);
    EXPECT(n == st.st_size);
    EXPECT(contains(buf, (size_t)n, "bin/busybox") && contains(buf, (size_t)n, "changed"));
    free(buf);
    unlink(file);
    OK(berth_client_export_to(c, name, on_piece, &got));
    EXPECT(got.bytes == (size_t)st.st_size && got.saw_busybox);
    OK(berth_client_unmount(c, name, false));
    FAILS(berth_client_unmount(c, name, false), BERTH_RESULT_INVALID_STATE);
    EXPECT(access(path, F_OK) == 0);
    berth_string_free(path);
    path = NULL;
    FAILS(berth_client_image_remove(c, image, false), BERTH_RESULT_IMAGE_IN_USE);

    /* Volumes. */
    OK(berth_client_volume_create(c, volume));
    FAILS(berth_client_volume_create(c, volume), BERTH_RESULT_VOLUME_EXISTS);
    OK(berth_client_volume_list(c, &json));
    EXPECT(strstr(json, volume) != NULL);
    berth_string_free(json);
    OK(berth_client_volume_inspect(c, volume, &json));
    EXPECT(strstr(json, "\"Mountpoint\"") != NULL);
    berth_string_free(json);
    OK(berth_client_volume_remove(c, volume, false));
    FAILS(berth_client_volume_inspect(c, volume, &json), BERTH_RESULT_NO_SUCH_VOLUME);
    FAILS(berth_client_volume_create(c, "-bad"), BERTH_RESULT_INVALID_ARGUMENT);

    /* Bad input. */
    FAILS(berth_client_image_import(c, "/etc/hostname", "bad", &ids2), BERTH_RESULT_INVALID_IMAGE);
    FAILS(berth_client_image_import(c, "/nonexistent", "bad", &ids2), BERTH_RESULT_INVALID_PARAMETER);
    FAILS(berth_client_image_import(c, NULL, "bad", &ids2), BERTH_RESULT_NULL_PARAMETER);
    FAILS(berth_client_image_import_fd(c, -1, NULL, &ids2), BERTH_RESULT_INVALID_PARAMETER);
    FAILS(berth_client_mount(c, "no-such-container", &path), BERTH_RESULT_NO_SUCH_CONTAINER);
    FAILS(berth_client_export(c, name, -1), BERTH_RESULT_INVALID_PARAMETER);
    FAILS(berth_client_export_to(c, name, NULL, NULL), BERTH_RESULT_NULL_PARAMETER);
    EXPECT(ids2 == NULL && path == NULL);

    /* Removed with the container, the image may go. */
    OK(berth_client_remove(c, name, true, 0));
    OK(berth_client_image_remove(c, image, false));
    FAILS(berth_client_image_inspect(c, image, &json), BERTH_RESULT_NO_SUCH_IMAGE);

    if (!same) {
        /* The first import lost its name to the second: it goes by id. */
        char id[65];
        memcpy(id, ids + 2, 64);
        id[64] = 0;
        OK(berth_client_image_remove(c, id, false));
    }
    berth_string_free(ids);
    berth_spec_free(spec);
    berth_client_free(c);
    printf("images: ok\n");
    return 0;
}
