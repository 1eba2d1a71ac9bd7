// libberth from C++17: RAII wrappers own every handle and string, errors
// become exceptions, and a lambda receives events through userdata.
// Usage: raii ROOTFS
#include <berth.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace berth {

template <typename T, void (*Free)(T *)>
struct Deleter {
    void operator()(T *p) const { Free(p); }
};

using ClientPtr = std::unique_ptr<berth_client, Deleter<berth_client, berth_client_free>>;
using SpecPtr = std::unique_ptr<berth_spec, Deleter<berth_spec, berth_spec_free>>;
using ListPtr = std::unique_ptr<berth_container_list, Deleter<berth_container_list, berth_container_list_free>>;
using WatchPtr = std::unique_ptr<berth_event_watch, Deleter<berth_event_watch, berth_event_watch_free>>;
using StringPtr = std::unique_ptr<char, Deleter<char, berth_string_free>>;

struct Error : std::runtime_error {
    berth_result code;
    Error(berth_result c, const std::string &what) : std::runtime_error(what), code(c) {}
};

void check(berth_result r)
{
    if (r != BERTH_RESULT_OK) {
        StringPtr m(berth_last_error_message());
        throw Error(r, std::string(berth_result_name(r)) + ": " + m.get());
    }
}

class Spec {
public:
    Spec() : p_(berth_spec_new()) {}
    Spec &rootfs(const std::string &s) { check(berth_spec_set_rootfs(p_.get(), s.c_str())); return *this; }
    Spec &command(const std::vector<std::string> &argv)
    {
        std::vector<const char *> a;
        for (const auto &s : argv)
            a.push_back(s.c_str());
        check(berth_spec_set_command(p_.get(), a.data(), a.size()));
        return *this;
    }
    Spec &env(const std::string &kv) { check(berth_spec_add_env(p_.get(), kv.c_str())); return *this; }
    Spec &stop_timeout(uint32_t s) { check(berth_spec_set_stop_timeout(p_.get(), s)); return *this; }
    const berth_spec *get() const { return p_.get(); }

private:
    SpecPtr p_;
};

class Client {
public:
    Client()
    {
        berth_client *c = nullptr;
        check(berth_client_new(&c));
        p_.reset(c);
    }
    const berth_client *get() const { return p_.get(); }

    std::vector<std::string> names() const
    {
        berth_container_list *l = nullptr;
        check(berth_client_list(get(), &l));
        ListPtr list(l);
        std::vector<std::string> out;
        for (size_t i = 0; i < berth_container_list_len(list.get()); i++)
            out.emplace_back(berth_container_list_get(list.get(), i)->name);
        return out;
    }

private:
    ClientPtr p_;
};

// A container that is removed (forcibly) when it goes out of scope.
class Container {
public:
    Container(const Client &c, std::string name, const Spec &spec) : c_(c), name_(std::move(name))
    {
        check(berth_client_create(c_.get(), name_.c_str(), spec.get()));
    }
    ~Container() { berth_client_remove(c_.get(), name_.c_str(), true, 0); }
    Container(const Container &) = delete;
    Container &operator=(const Container &) = delete;

    void start() { check(berth_client_start(c_.get(), name_.c_str(), false)); }
    void stop() { check(berth_client_stop(c_.get(), name_.c_str(), BERTH_TIMEOUT_DEFAULT)); }
    berth_state state() const
    {
        berth_state s{};
        check(berth_client_state(c_.get(), name_.c_str(), &s));
        return s;
    }
    int32_t exit_code() const
    {
        int32_t code = 0;
        check(berth_client_exit_code(c_.get(), name_.c_str(), &code));
        return code;
    }
    int32_t wait(uint32_t conditions = 0, uint64_t timeout_ms = BERTH_WAIT_FOREVER) const
    {
        int32_t code = 0;
        check(berth_client_wait(c_.get(), name_.c_str(), conditions, timeout_ms, &code));
        return code;
    }
    std::string inspect() const
    {
        char *json = nullptr;
        check(berth_client_inspect(c_.get(), name_.c_str(), &json));
        return StringPtr(json).get();
    }
    const std::string &name() const { return name_; }

private:
    const Client &c_;
    std::string name_;
};

// Events to a std::function, through the C callback's userdata.
class Watch {
public:
    using Fn = std::function<void(const berth_event &)>;
    Watch(const Client &c, Fn fn) : fn_(std::make_unique<Fn>(std::move(fn)))
    {
        berth_event_watch *w = nullptr;
        check(berth_client_watch_events(c.get(), &Watch::trampoline, fn_.get(), &w));
        p_.reset(w);
    }

private:
    static void trampoline(void *userdata, const berth_event *ev)
    {
        try {
            (*static_cast<Fn *>(userdata))(*ev);
        } catch (...) {
            // Exceptions must not unwind into libberth.
        }
    }
    std::unique_ptr<Fn> fn_;
    WatchPtr p_; // declared last: stopped before fn_ is destroyed
};

} // namespace berth

#define EXPECT(cond)                                                              \
    do {                                                                          \
        if (!(cond))                                                              \
            throw std::logic_error(std::string("raii.cpp: expected ") + #cond);   \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: raii ROOTFS\n");
        return 2;
    }
    try {
        const std::string rootfs = argv[1];
        const std::string pid = std::to_string(getpid());
        berth::Client client;
        std::atomic<int> died{0};
        berth::Watch watch(client, [&](const berth_event &ev) {
            if (ev.name == "capi-cxx-" + pid && ev.kind == BERTH_EVENT_KIND_DIED)
                died++;
        });
        {
            berth::Spec spec;
            spec.rootfs(rootfs)
                .command({"/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"})
                .env("LANG=C")
                .stop_timeout(3);
            berth::Container c(client, "capi-cxx-" + pid, spec);
            EXPECT(c.state() == BERTH_STATE_CONFIGURED);
            c.start();
            EXPECT(c.state() == BERTH_STATE_RUNNING);
            bool listed = false;
            for (const auto &n : client.names())
                listed = listed || n == c.name();
            EXPECT(listed);
            EXPECT(c.inspect().find("LANG=C") != std::string::npos);
            c.stop();
            EXPECT(c.state() == BERTH_STATE_STOPPED);
            EXPECT(c.exit_code() == 0);
            try {
                c.stop();
                EXPECT(false);
            } catch (const berth::Error &e) {
                EXPECT(e.code == BERTH_RESULT_ALREADY_STOPPED);
            }
        } // removed here
        {
            berth::Spec spec;
            spec.rootfs(rootfs).command({"/bin/sh", "-c", "exit 3"});
            berth::Container c(client, "capi-cxx3-" + pid, spec);
            c.start();
            EXPECT(c.wait(BERTH_STATE_STOPPED | BERTH_STATE_EXITED, 30000) == 3);
            EXPECT(c.state() == BERTH_STATE_EXITED);
        }
        for (const auto &n : client.names())
            EXPECT(n.find("capi-cxx") == std::string::npos || n.find(pid) == std::string::npos);
        for (int i = 0; i < 100 && died.load() == 0; i++)
            usleep(50000);
        EXPECT(died.load() >= 1);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    std::printf("raii: ok\n");
    return 0;
}
