/* Kubernetes YAML through libberth, against a real berthd: a container
 * from an imported image generated as a Pod, removed, played back from
 * the YAML and taken down again; unsupported and invalid YAML refused by
 * name with nothing made; NULL arguments.
 * Usage: kube ROOTFS TARBALL */
#define _POSIX_C_SOURCE 200809L
#include <berth.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail(int line, const char *what, berth_result r)
{
    char *m = berth_last_error_message();
    fprintf(stderr, "kube.c:%d: %s: %s: %s\n", line, what, berth_result_name(r), m);
    berth_string_free(m);
    exit(1);
}

#define OK(call) do { berth_result r_ = (call); if (r_ != BERTH_RESULT_OK) fail(__LINE__, #call, r_); } while (0)
#define FAILS(call, want) do { berth_result r_ = (call); if (r_ != (want)) fail(__LINE__, #call " (wanted " #want ")", r_); } while (0)
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "kube.c:%d: expected %s\n", __LINE__, #cond); exit(1); } } while (0)

int main(int argc, char **argv)
{
    berth_client *c = NULL;
    berth_spec *spec = berth_spec_new();
    char image[64], name[64], played[160], service[512];
    char *ids = NULL, *yaml = NULL, *names = NULL, *none = NULL;
    const char *cmd[] = {"sleep", "1000"};
    const char *list[1];

    EXPECT(argc == 3);
    snprintf(image, sizeof image, "localhost/capi-kube-%d:1", (int)getpid());
    snprintf(name, sizeof name, "capi-kube-%d", (int)getpid());
    snprintf(played, sizeof played, "%s-pod-%s\n", name, name);
    list[0] = name;
    OK(berth_client_new(&c));
    OK(berth_client_image_import(c, argv[2], image, &ids));
    berth_string_free(ids);

    OK(berth_spec_set_image(spec, image));
    OK(berth_spec_set_command(spec, cmd, 2));
    OK(berth_spec_add_string(spec, "Env", "GREETING=hi"));
    OK(berth_client_create(c, name, spec));

    OK(berth_kube_generate(c, list, 1, NULL, &yaml));
    EXPECT(strstr(yaml, "kind: Pod") != NULL && strstr(yaml, "GREETING") != NULL);
    berth_string_free(yaml);
    OK(berth_kube_generate(c, list, 1, "deployment", &yaml));
    EXPECT(strstr(yaml, "kind: Deployment") != NULL);
    berth_string_free(yaml);
    OK(berth_kube_generate(c, list, 1, "pod", &yaml));
    OK(berth_client_remove(c, name, true, 0));

    OK(berth_kube_play(c, yaml, &names));
    EXPECT(strcmp(names, played) == 0);
    berth_string_free(names);
    FAILS(berth_kube_play(c, yaml, &none), BERTH_RESULT_CONTAINER_EXISTS);
    OK(berth_kube_down(c, yaml, &names));
    EXPECT(strcmp(names, played) == 0);
    berth_string_free(names);
    OK(berth_kube_down(c, yaml, &names));
    EXPECT(strcmp(names, "") == 0);
    berth_string_free(names);

    /* Refused by name; nothing made. */
    snprintf(service, sizeof service, "%s---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n", yaml);
    FAILS(berth_kube_play(c, service, &none), BERTH_RESULT_KUBE_UNSUPPORTED);
    {
        char *m = berth_last_error_message();
        EXPECT(strstr(m, "Service") != NULL);
        berth_string_free(m);
    }
    FAILS(berth_kube_play(c, "kind: Pod\napiVersion: v1\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, bogus: 1}]}\n", &none),
          BERTH_RESULT_KUBE_INVALID);
    FAILS(berth_kube_play(c, "a: [\n", &none), BERTH_RESULT_KUBE_INVALID);
    FAILS(berth_client_remove(c, played, true, 0), BERTH_RESULT_NO_SUCH_CONTAINER);
    FAILS(berth_kube_generate(c, list, 1, "job", &none), BERTH_RESULT_INVALID_ARGUMENT);
    FAILS(berth_kube_generate(c, NULL, 1, NULL, &none), BERTH_RESULT_NULL_PARAMETER);
    FAILS(berth_kube_play(c, NULL, &none), BERTH_RESULT_NULL_PARAMETER);
    FAILS(berth_kube_down(c, yaml, NULL), BERTH_RESULT_NULL_PARAMETER);
    EXPECT(none == NULL);

    berth_string_free(yaml);
    OK(berth_client_image_remove(c, image, false));
    berth_spec_free(spec);
    berth_client_free(c);
    printf("kube: ok\n");
    return 0;
}
