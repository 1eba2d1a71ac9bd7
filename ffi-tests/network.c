/* Networks through libberth, against a real berthd: create, inspect,
 * list, a container with a static address and a published port, its port
 * listing, reload, the refusals (in use, unknown, taken, bad port), remove.
 * Usage: network ROOTFS */
#define _POSIX_C_SOURCE 200809L
#include <berth.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail(int line, const char *what, berth_result r)
{
    char *m = berth_last_error_message();
    fprintf(stderr, "network.c:%d: %s: %s: %s\n", line, what, berth_result_name(r), m);
    berth_string_free(m);
    exit(1);
}

#define OK(call) do { berth_result r_ = (call); if (r_ != BERTH_RESULT_OK) fail(__LINE__, #call, r_); } while (0)
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "network.c:%d: expected %s\n", __LINE__, #cond); exit(1); } } while (0)
#define FAILS(call, code) do { berth_result r_ = (call); if (r_ != (code)) fail(__LINE__, #call " (wanted " #code ")", r_); } while (0)

int main(int argc, char **argv)
{
    berth_client *c = NULL;
    berth_spec *spec;
    char net[64], name[64], other[64], ip[32], port[32], subnet[32];
    char *json = NULL, *lines = NULL, *names = NULL;
    const char *labels[] = {"team=c", "tier=test"};
    const char *argv_serve[] = {"/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"};
    int n = (int)(getpid() % 200) + 20;

    EXPECT(argc == 2);
    snprintf(net, sizeof net, "capi-net-%d", (int)getpid());
    snprintf(name, sizeof name, "capi-netc-%d", (int)getpid());
    snprintf(other, sizeof other, "capi-neto-%d", (int)getpid());
    snprintf(subnet, sizeof subnet, "10.%d.7.0/24", n);
    snprintf(ip, sizeof ip, "10.%d.7.9", n);
    snprintf(port, sizeof port, "%d:80", 19000 + n);
    OK(berth_client_new(&c));

    OK(berth_client_network_create(c, net, subnet, NULL, false, true, labels, 2, &json));
    EXPECT(strstr(json, subnet) != NULL && strstr(json, "\"team\": \"c\"") != NULL);
    berth_string_free(json);
    FAILS(berth_client_network_create(c, net, NULL, NULL, false, true, NULL, 0, &json), BERTH_RESULT_NETWORK_EXISTS);
    FAILS(berth_client_network_create(c, "bad/name", NULL, NULL, false, true, NULL, 0, &json), BERTH_RESULT_INVALID_ARGUMENT);
    FAILS(berth_client_network_create(c, net, NULL, NULL, false, true, NULL, 0, NULL), BERTH_RESULT_NULL_PARAMETER);
    OK(berth_client_network_list(c, &json));
    EXPECT(strstr(json, net) != NULL && strstr(json, "\"berth\"") != NULL);
    berth_string_free(json);
    FAILS(berth_client_network_inspect(c, "no-such-network", &json), BERTH_RESULT_NO_SUCH_NETWORK);

    spec = berth_spec_new();
    OK(berth_spec_set_rootfs(spec, argv[1]));
    OK(berth_spec_set_command(spec, argv_serve, 3));
    OK(berth_spec_set_network(spec, net));
    OK(berth_spec_set_ip(spec, ip));
    OK(berth_spec_add_port(spec, port));
    OK(berth_spec_add_network_alias(spec, "capi-web"));
    FAILS(berth_spec_add_port(spec, "70000"), BERTH_RESULT_INVALID_ARGUMENT);
    OK(berth_client_create(c, name, spec));
    /* The same address for another: refused, nothing created. */
    FAILS(berth_client_create(c, other, spec), BERTH_RESULT_INVALID_ARGUMENT);
    FAILS(berth_client_state(c, other, &(berth_state){0}), BERTH_RESULT_NO_SUCH_CONTAINER);
    berth_spec_free(spec);
    /* The same host port: PORT_IN_USE. */
    spec = berth_spec_new();
    OK(berth_spec_set_rootfs(spec, argv[1]));
    OK(berth_spec_set_command(spec, argv_serve, 3));
    OK(berth_spec_add_port(spec, port));
    FAILS(berth_client_create(c, other, spec), BERTH_RESULT_PORT_IN_USE);
    FAILS(berth_client_state(c, other, &(berth_state){0}), BERTH_RESULT_NO_SUCH_CONTAINER);
    berth_spec_free(spec);

    OK(berth_client_start(c, name, false));
    OK(berth_client_inspect(c, name, &json));
    EXPECT(strstr(json, ip) != NULL && strstr(json, "\"MacAddress\"") != NULL);
    berth_string_free(json);
    OK(berth_client_ports(c, name, &lines));
    EXPECT(strncmp(lines, "80/tcp -> 0.0.0.0:", 18) == 0);
    berth_string_free(lines);
    OK(berth_client_network_reload(c, name));
    OK(berth_client_network_reload_all(c, &names));
    EXPECT(strstr(names, name) != NULL);
    berth_string_free(names);
    FAILS(berth_client_network_remove(c, net), BERTH_RESULT_NETWORK_IN_USE);

    OK(berth_client_remove(c, name, true, 0));
    FAILS(berth_client_network_reload(c, name), BERTH_RESULT_NO_SUCH_CONTAINER);
    OK(berth_client_network_remove(c, net));
    FAILS(berth_client_network_remove(c, net), BERTH_RESULT_NO_SUCH_NETWORK);
    FAILS(berth_client_network_list(NULL, &json), BERTH_RESULT_NULL_PARAMETER);
    berth_client_free(c);
    printf("network: ok\n");
    return 0;
}
