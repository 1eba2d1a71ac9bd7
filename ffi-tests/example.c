#include <berth.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    const char *cmd[] = {"/bin/sh", "-c", "echo hello from $(hostname); exit 3"};
    berth_client *client = NULL;
    berth_spec *spec = berth_spec_new();
    int32_t code = -1;
    berth_result r;

    if (argc != 3) {
        fprintf(stderr, "usage: %s ROOTFS NAME\n", argv[0]);
        return 2;
    }
    r = berth_client_new(&client);
    if (r == BERTH_RESULT_OK)
        r = berth_spec_set_rootfs(spec, argv[1]);
    if (r == BERTH_RESULT_OK)
        r = berth_spec_set_command(spec, cmd, 3);
    if (r == BERTH_RESULT_OK)
        r = berth_client_create(client, argv[2], spec);
    if (r == BERTH_RESULT_OK)
        r = berth_client_start(client, argv[2], false);
    if (r == BERTH_RESULT_OK) /* 0: until it has stopped or exited */
        r = berth_client_wait(client, argv[2], 0, BERTH_WAIT_FOREVER, &code);
    if (r == BERTH_RESULT_OK)
        printf("exit code %d\n", (int)code);
    else {
        char *msg = berth_last_error_message();
        fprintf(stderr, "berth: %s: %s\n", berth_result_name(r), msg);
        berth_string_free(msg);
    }
    if (client != NULL)
        berth_client_remove(client, argv[2], true, BERTH_TIMEOUT_DEFAULT);
    berth_spec_free(spec);
    berth_client_free(client);
    return r == BERTH_RESULT_OK ? 0 : 1;
}
