//! `berth_spec`: the options of CreateContainer (and UpdateContainer),
//! built one setter at a time. Each value is checked by the same rules
//! berthd applies, so a bad one fails at its setter and leaves the spec as
//! it was.

use super::ffi::{arg, arg_mut, free_box, guard, quiet, string, strings, Failure, Res};
use crate::model::{validate_option, ErrorKind, OptionValue};
use std::collections::BTreeMap;
use std::ffi::c_char;

/// A container spec under construction: a set of CreateContainer options.
/// Create with `berth_spec_new()`, free with `berth_spec_free()`.
#[allow(non_camel_case_types)]
pub struct berth_spec {
    pub(crate) options: BTreeMap<String, OptionValue>,
}

impl berth_spec {
    /// Check `value` for `key` alone with berthd's own rules (so a bad
    /// value is berthd's INVALID_ARGUMENT, found early), then store it.
    fn set(&mut self, key: &str, value: OptionValue) -> Res {
        validate_option(key, &value)
            .map_err(|e| Failure::new(ErrorKind::InvalidArgument, e.to_string()))?;
        self.options.insert(key.to_string(), value);
        Ok(())
    }

    /// Append one entry to a list-valued key.
    fn add(&mut self, key: &str, item: &str) -> Res {
        let mut list = match self.options.get(key) {
            Some(OptionValue::StrList(l)) => l.clone(),
            _ => Vec::new(),
        };
        list.push(item.to_string());
        self.set(key, OptionValue::StrList(list))
    }
}

fn with_spec(spec: *mut berth_spec, f: impl FnOnce(&mut berth_spec) -> Res) -> ErrorKind {
    guard(|| f(arg_mut(spec, "spec")?))
}

fn set_str(spec: *mut berth_spec, key: &str, value: *const c_char) -> ErrorKind {
    with_spec(spec, |s| {
        let v = string(value, key)?;
        s.set(key, OptionValue::Str(v.into()))
    })
}

fn add_str(spec: *mut berth_spec, key: &str, value: *const c_char) -> ErrorKind {
    with_spec(spec, |s| {
        let v = string(value, key)?;
        s.add(key, v)
    })
}

/// A new, empty spec. Never NULL.
#[no_mangle]
pub extern "C" fn berth_spec_new() -> *mut berth_spec {
    quiet(std::ptr::null_mut(), || Box::into_raw(Box::new(berth_spec { options: BTreeMap::new() })))
}

/// Free a spec; NULL is ignored.
#[no_mangle]
pub extern "C" fn berth_spec_free(spec: *mut berth_spec) {
    quiet((), || free_box(spec))
}

/// A copy of `spec`, to be freed with `berth_spec_free()`.
#[no_mangle]
pub extern "C" fn berth_spec_clone(spec: *const berth_spec, out: *mut *mut berth_spec) -> ErrorKind {
    guard(|| {
        let s = arg(spec, "spec")?;
        let out = super::ffi::Out::new(out, "out")?;
        out.write(Box::into_raw(Box::new(berth_spec { options: s.options.clone() })));
        Ok(())
    })
}

/// Set any option key (the table in the README) whose type is a string
/// (`s`), such as "Hostname" or "StopSignal". The value is checked alone,
/// as berthd checks it; a bad one is BERTH_RESULT_INVALID_ARGUMENT (also
/// for an unknown key or a key of another type) and changes nothing.
#[no_mangle]
pub extern "C" fn berth_spec_set_string(spec: *mut berth_spec, key: *const c_char, value: *const c_char) -> ErrorKind {
    with_spec(spec, |s| {
        let (k, v) = (string(key, "key")?, string(value, "value")?);
        s.set(k, OptionValue::Str(v.into()))
    })
}

/// Set a string-list option key (`as`, such as "Command" or "Env") to
/// `len` strings, replacing what it held.
#[no_mangle]
pub extern "C" fn berth_spec_set_strings(
    spec: *mut berth_spec,
    key: *const c_char,
    values: *const *const c_char,
    len: usize,
) -> ErrorKind {
    with_spec(spec, |s| {
        let k = string(key, "key")?;
        let v = strings(values, len, "values")?;
        s.set(k, OptionValue::StrList(v))
    })
}

/// Append one string to a string-list option key (`as`).
#[no_mangle]
pub extern "C" fn berth_spec_add_string(spec: *mut berth_spec, key: *const c_char, item: *const c_char) -> ErrorKind {
    with_spec(spec, |s| {
        let (k, v) = (string(key, "key")?, string(item, "item")?);
        s.add(k, v)
    })
}

/// Set one entry of a map option key (`a{ss}`, such as "Labels"); an
/// entry set again is replaced.
#[no_mangle]
pub extern "C" fn berth_spec_set_entry(
    spec: *mut berth_spec,
    key: *const c_char,
    entry_key: *const c_char,
    entry_value: *const c_char,
) -> ErrorKind {
    with_spec(spec, |s| {
        let k = string(key, "key")?;
        let (ek, ev) = (string(entry_key, "entry_key")?, string(entry_value, "entry_value")?);
        let mut m = match s.options.get(k) {
            Some(OptionValue::StrMap(m)) => m.clone(),
            _ => BTreeMap::new(),
        };
        m.insert(ek.into(), ev.into());
        s.set(k, OptionValue::StrMap(m))
    })
}

/// Set a boolean option key (`b`).
#[no_mangle]
pub extern "C" fn berth_spec_set_bool(spec: *mut berth_spec, key: *const c_char, value: bool) -> ErrorKind {
    with_spec(spec, |s| s.set(string(key, "key")?, OptionValue::Bool(value)))
}

/// Set a 32-bit option key (`u`).
#[no_mangle]
pub extern "C" fn berth_spec_set_u32(spec: *mut berth_spec, key: *const c_char, value: u32) -> ErrorKind {
    with_spec(spec, |s| s.set(string(key, "key")?, OptionValue::U32(value)))
}

/// Set a 64-bit option key (`t`).
#[no_mangle]
pub extern "C" fn berth_spec_set_u64(spec: *mut berth_spec, key: *const c_char, value: u64) -> ErrorKind {
    with_spec(spec, |s| s.set(string(key, "key")?, OptionValue::U64(value)))
}

/// Image: the image to run, by name, name:tag or id (see
/// `berth_client_image_import()`); exactly one of Image and Rootfs.
#[no_mangle]
pub extern "C" fn berth_spec_set_image(spec: *mut berth_spec, image: *const c_char) -> ErrorKind {
    set_str(spec, "Image", image)
}

/// Entrypoint: `argc` strings that replace the image's Entrypoint; with
/// `argc` 0 (`argv` may then be NULL) the image's Entrypoint is cleared.
#[no_mangle]
pub extern "C" fn berth_spec_set_entrypoint(spec: *mut berth_spec, argv: *const *const c_char, argc: usize) -> ErrorKind {
    with_spec(spec, |s| {
        let argv = if argc == 0 { Vec::new() } else { strings(argv, argc, "argv")? };
        s.set("Entrypoint", OptionValue::StrList(argv))
    })
}

/// Rootfs: the container's root file system, an absolute directory path;
/// exactly one of Image and Rootfs.
#[no_mangle]
pub extern "C" fn berth_spec_set_rootfs(spec: *mut berth_spec, path: *const c_char) -> ErrorKind {
    set_str(spec, "Rootfs", path)
}

/// Command: the argv of the container's init, `argc` strings (at least one);
/// with an Image, the arguments after its Entrypoint (replacing its Cmd).
/// Required without an Image.
#[no_mangle]
pub extern "C" fn berth_spec_set_command(spec: *mut berth_spec, argv: *const *const c_char, argc: usize) -> ErrorKind {
    with_spec(spec, |s| {
        let argv = strings(argv, argc, "argv")?;
        s.set("Command", OptionValue::StrList(argv))
    })
}

/// Env: add one `KEY=VALUE` entry to the container's environment.
#[no_mangle]
pub extern "C" fn berth_spec_add_env(spec: *mut berth_spec, entry: *const c_char) -> ErrorKind {
    add_str(spec, "Env", entry)
}

/// WorkingDir: an absolute path inside the container.
#[no_mangle]
pub extern "C" fn berth_spec_set_working_dir(spec: *mut berth_spec, path: *const c_char) -> ErrorKind {
    set_str(spec, "WorkingDir", path)
}

/// User: `user[:group]`, names (looked up in the container's own
/// /etc/passwd and /etc/group) or numbers.
#[no_mangle]
pub extern "C" fn berth_spec_set_user(spec: *mut berth_spec, user: *const c_char) -> ErrorKind {
    set_str(spec, "User", user)
}

/// Hostname: the container's host name.
#[no_mangle]
pub extern "C" fn berth_spec_set_hostname(spec: *mut berth_spec, hostname: *const c_char) -> ErrorKind {
    set_str(spec, "Hostname", hostname)
}

/// Notify: true when the container sends READY=1 itself (start returns
/// after it); false (the default) when it is ready once started.
#[no_mangle]
pub extern "C" fn berth_spec_set_notify(spec: *mut berth_spec, notify: bool) -> ErrorKind {
    with_spec(spec, |s| s.set("Notify", OptionValue::Bool(notify)))
}

/// StopSignal: a name ("SIGTERM", "TERM") or number ("15"); default SIGTERM.
#[no_mangle]
pub extern "C" fn berth_spec_set_stop_signal(spec: *mut berth_spec, signal: *const c_char) -> ErrorKind {
    set_str(spec, "StopSignal", signal)
}

/// StopTimeout: seconds between the stop signal and SIGKILL; default 10.
#[no_mangle]
pub extern "C" fn berth_spec_set_stop_timeout(spec: *mut berth_spec, seconds: u32) -> ErrorKind {
    with_spec(spec, |s| s.set("StopTimeout", OptionValue::U32(seconds)))
}

/// StartTimeout: seconds the container has to become ready; default 90.
#[no_mangle]
pub extern "C" fn berth_spec_set_start_timeout(spec: *mut berth_spec, seconds: u32) -> ErrorKind {
    with_spec(spec, |s| s.set("StartTimeout", OptionValue::U32(seconds)))
}

/// RestartPolicy: "no" (default), "on-failure", "on-failure:N", "always" or
/// "unless-stopped".
#[no_mangle]
pub extern "C" fn berth_spec_set_restart_policy(spec: *mut berth_spec, policy: *const c_char) -> ErrorKind {
    set_str(spec, "RestartPolicy", policy)
}

/// Dependencies: add the name of a container that must run first.
#[no_mangle]
pub extern "C" fn berth_spec_add_dependency(spec: *mut berth_spec, name: *const c_char) -> ErrorKind {
    add_str(spec, "Dependencies", name)
}

/// Labels: set one label (free metadata); a key set again is replaced.
#[no_mangle]
pub extern "C" fn berth_spec_set_label(spec: *mut berth_spec, key: *const c_char, value: *const c_char) -> ErrorKind {
    with_spec(spec, |s| {
        let (k, v) = (string(key, "key")?, string(value, "value")?);
        let mut labels = match s.options.get("Labels") {
            Some(OptionValue::StrMap(m)) => m.clone(),
            _ => BTreeMap::new(),
        };
        labels.insert(k.into(), v.into());
        s.set("Labels", OptionValue::StrMap(labels))
    })
}

/// Volumes: add one bind mount `SRC:DST[:OPTS]` (absolute paths), named
/// volume `NAME:DST[:OPTS]` (made on first use, filled from the image) or
/// anonymous volume `DST`; OPTS: ro, rw, z, Z.
#[no_mangle]
pub extern "C" fn berth_spec_add_volume(spec: *mut berth_spec, volume: *const c_char) -> ErrorKind {
    add_str(spec, "Volumes", volume)
}

/// ReadOnly: a read-only root file system.
#[no_mangle]
pub extern "C" fn berth_spec_set_read_only(spec: *mut berth_spec, read_only: bool) -> ErrorKind {
    with_spec(spec, |s| s.set("ReadOnly", OptionValue::Bool(read_only)))
}

/// Network: "bridge" (default: the network berth), "none" (an own
/// namespace with only lo), "host", or network names "a,b".
#[no_mangle]
pub extern "C" fn berth_spec_set_network(spec: *mut berth_spec, network: *const c_char) -> ErrorKind {
    set_str(spec, "Network", network)
}

/// Ports: publish one port or range, podman's -p forms ("8080:80",
/// "127.0.0.1:5353:53/udp", "9000-9001:90-91"); a bridge network only.
#[no_mangle]
pub extern "C" fn berth_spec_add_port(spec: *mut berth_spec, port: *const c_char) -> ErrorKind {
    add_str(spec, "Ports", port)
}

/// IP: a static address on the container's one network.
#[no_mangle]
pub extern "C" fn berth_spec_set_ip(spec: *mut berth_spec, ip: *const c_char) -> ErrorKind {
    set_str(spec, "IP", ip)
}

/// NetworkAliases: add a DNS name of the container on its networks.
#[no_mangle]
pub extern "C" fn berth_spec_add_network_alias(spec: *mut berth_spec, alias: *const c_char) -> ErrorKind {
    add_str(spec, "NetworkAliases", alias)
}

/// DNS: add a DNS server address.
#[no_mangle]
pub extern "C" fn berth_spec_add_dns(spec: *mut berth_spec, server: *const c_char) -> ErrorKind {
    add_str(spec, "DNS", server)
}

/// DNSSearch: add a DNS search domain ("." for none).
#[no_mangle]
pub extern "C" fn berth_spec_add_dns_search(spec: *mut berth_spec, domain: *const c_char) -> ErrorKind {
    add_str(spec, "DNSSearch", domain)
}

/// Hosts: add an /etc/hosts line "NAME[;NAME...]:IP" (IP may be host-gateway).
#[no_mangle]
pub extern "C" fn berth_spec_add_host(spec: *mut berth_spec, entry: *const c_char) -> ErrorKind {
    add_str(spec, "Hosts", entry)
}

/// Runtime: "crun" (default), "runc", or an absolute path to an OCI runtime.
#[no_mangle]
pub extern "C" fn berth_spec_set_runtime(spec: *mut berth_spec, runtime: *const c_char) -> ErrorKind {
    set_str(spec, "Runtime", runtime)
}

/// MemoryMax: bytes (a resource key: also valid for `berth_client_update()`).
#[no_mangle]
pub extern "C" fn berth_spec_set_memory_max(spec: *mut berth_spec, bytes: u64) -> ErrorKind {
    with_spec(spec, |s| s.set("MemoryMax", OptionValue::U64(bytes)))
}

/// TasksMax: most processes and threads (a resource key).
#[no_mangle]
pub extern "C" fn berth_spec_set_tasks_max(spec: *mut berth_spec, tasks: u64) -> ErrorKind {
    with_spec(spec, |s| s.set("TasksMax", OptionValue::U64(tasks)))
}

/// CPUWeight: 1 to 10000 (a resource key).
#[no_mangle]
pub extern "C" fn berth_spec_set_cpu_weight(spec: *mut berth_spec, weight: u64) -> ErrorKind {
    with_spec(spec, |s| s.set("CPUWeight", OptionValue::U64(weight)))
}

/// CPUQuota: percent of one CPU (a resource key).
#[no_mangle]
pub extern "C" fn berth_spec_set_cpu_quota(spec: *mut berth_spec, percent: u32) -> ErrorKind {
    with_spec(spec, |s| s.set("CPUQuota", OptionValue::U32(percent)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerSpec, OPTIONS};

    fn c(s: &str) -> std::ffi::CString {
        std::ffi::CString::new(s).unwrap()
    }

    #[test]
    fn the_named_setters_work() {
        let sp = berth_spec_new();
        let argv = [c("/bin/sh"), c("-c"), c("exit 3")];
        let argv: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        let ok = [
            berth_spec_set_image(sp, c("web").as_ptr()),
            berth_spec_set_entrypoint(sp, std::ptr::null(), 0),
            berth_spec_set_rootfs(sp, c("/r").as_ptr()),
            berth_spec_set_command(sp, argv.as_ptr(), argv.len()),
            berth_spec_add_env(sp, c("A=1").as_ptr()),
            berth_spec_add_env(sp, c("B=2").as_ptr()),
            berth_spec_set_working_dir(sp, c("/tmp").as_ptr()),
            berth_spec_set_user(sp, c("1:2").as_ptr()),
            berth_spec_set_hostname(sp, c("h").as_ptr()),
            berth_spec_set_notify(sp, true),
            berth_spec_set_stop_signal(sp, c("SIGINT").as_ptr()),
            berth_spec_set_stop_timeout(sp, 3),
            berth_spec_set_start_timeout(sp, 5),
            berth_spec_set_restart_policy(sp, c("on-failure:2").as_ptr()),
            berth_spec_add_dependency(sp, c("db").as_ptr()),
            berth_spec_set_label(sp, c("a").as_ptr(), c("b").as_ptr()),
            berth_spec_add_volume(sp, c("/a:/b:ro").as_ptr()),
            berth_spec_set_read_only(sp, true),
            berth_spec_set_network(sp, c("a").as_ptr()),
            berth_spec_add_port(sp, c("8080:80").as_ptr()),
            berth_spec_set_ip(sp, c("10.89.0.9").as_ptr()),
            berth_spec_add_network_alias(sp, c("web").as_ptr()),
            berth_spec_add_dns(sp, c("1.1.1.1").as_ptr()),
            berth_spec_add_dns_search(sp, c("example.org").as_ptr()),
            berth_spec_add_host(sp, c("db:10.0.0.9").as_ptr()),
            berth_spec_set_runtime(sp, c("runc").as_ptr()),
            berth_spec_set_memory_max(sp, 1 << 20),
            berth_spec_set_tasks_max(sp, 10),
            berth_spec_set_cpu_weight(sp, 100),
            berth_spec_set_cpu_quota(sp, 50),
        ];
        assert!(ok.iter().all(|r| *r == ErrorKind::Ok), "{ok:?}");
        let s = unsafe { &*sp };
        assert_eq!(s.options["Env"], OptionValue::StrList(vec!["A=1".into(), "B=2".into()]));
        assert_eq!(s.options["Entrypoint"], OptionValue::StrList(vec![]));
        assert_eq!(ContainerSpec::from_options(&s.options).unwrap_err().key(), Some("Image"), "Image and Rootfs");
        let mut o = s.options.clone();
        o.remove("Image");
        ContainerSpec::from_options(&o).unwrap();
        berth_spec_free(sp);
    }

    #[test]
    fn every_option_key_is_known_to_the_generic_setters() {
        // A value of the wrong type is refused naming the key: the key
        // itself is known, whatever the table grows to.
        let sp = berth_spec_new();
        for d in OPTIONS.iter() {
            let key = c(d.key);
            let r = if d.sig == crate::model::Sig::Bool {
                berth_spec_set_u32(sp, key.as_ptr(), 1)
            } else {
                berth_spec_set_bool(sp, key.as_ptr(), true)
            };
            assert_eq!(r, ErrorKind::InvalidArgument, "{}", d.key);
            let msg = super::super::ffi::last_error();
            assert!(msg.contains(d.key) && msg.contains("wrong type"), "{}: {msg}", d.key);
        }
        berth_spec_free(sp);
    }

    #[test]
    fn generic_setters_reach_every_key() {
        let sp = berth_spec_new();
        let argv = [c("/bin/true")];
        let argv: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        let ok = [
            berth_spec_set_string(sp, c("Rootfs").as_ptr(), c("/r").as_ptr()),
            berth_spec_set_strings(sp, c("Command").as_ptr(), argv.as_ptr(), argv.len()),
            berth_spec_add_string(sp, c("Env").as_ptr(), c("A=1").as_ptr()),
            berth_spec_set_entry(sp, c("Labels").as_ptr(), c("a").as_ptr(), c("b").as_ptr()),
            berth_spec_set_bool(sp, c("ReadOnly").as_ptr(), true),
            berth_spec_set_u32(sp, c("StopTimeout").as_ptr(), 4),
            berth_spec_set_u64(sp, c("MemoryMax").as_ptr(), 1 << 20),
        ];
        assert!(ok.iter().all(|r| *r == ErrorKind::Ok), "{ok:?}");
        let s = unsafe { &*sp };
        let spec = ContainerSpec::from_options(&s.options).unwrap();
        assert_eq!((spec.stop_timeout, spec.read_only, spec.labels["a"].as_str()), (4, true, "b"));
        berth_spec_free(sp);
    }

    #[test]
    fn bad_values_fail_at_the_setter_and_change_nothing() {
        let sp = berth_spec_new();
        assert_eq!(berth_spec_set_rootfs(sp, c("/ok").as_ptr()), ErrorKind::Ok);
        assert_eq!(berth_spec_set_rootfs(sp, c("relative").as_ptr()), ErrorKind::InvalidArgument);
        assert!(super::super::ffi::last_error().contains("Rootfs"));
        assert_eq!(berth_spec_set_stop_signal(sp, c("SIGBOGUS").as_ptr()), ErrorKind::InvalidArgument);
        assert_eq!(berth_spec_add_env(sp, c("NOEQUALS").as_ptr()), ErrorKind::InvalidArgument);
        assert_eq!(berth_spec_set_command(sp, std::ptr::null(), 0), ErrorKind::NullParameter);
        assert_eq!(berth_spec_set_command(sp, [].as_ptr(), 0), ErrorKind::InvalidArgument);
        assert_eq!(berth_spec_set_u32(sp, c("Hostname").as_ptr(), 3), ErrorKind::InvalidArgument);
        assert_eq!(berth_spec_set_string(sp, c("Bogus").as_ptr(), c("x").as_ptr()), ErrorKind::InvalidArgument);
        assert_eq!(berth_spec_set_rootfs(std::ptr::null_mut(), c("/x").as_ptr()), ErrorKind::NullParameter);
        assert_eq!(unsafe { &*sp }.options.len(), 1);
        assert_eq!(unsafe { &*sp }.options["Rootfs"], OptionValue::Str("/ok".into()));
        berth_spec_free(sp);
        berth_spec_free(std::ptr::null_mut());
    }
}
