//! `berth_spec`: the options of CreateContainer (and UpdateContainer),
//! built one setter at a time. Each value is checked by the same rules
//! berthd applies, so a bad one fails at its setter and leaves the spec as
//! it was.

use super::ffi::{arg, arg_mut, free_box, guard, quiet, string, strings, Failure, Res};
use super::result::berth_result;
use crate::model::{ContainerSpec, OptionValue};
use std::collections::BTreeMap;
use std::ffi::c_char;

/// A container spec under construction: a set of CreateContainer options.
/// Create with `berth_spec_new()`, free with `berth_spec_free()`.
#[allow(non_camel_case_types)]
pub struct berth_spec {
    pub(crate) options: BTreeMap<String, OptionValue>,
}

impl berth_spec {
    /// Check `value` for `key` with the model's validation (the required
    /// keys filled with placeholders), then store it.
    fn set(&mut self, key: &str, value: OptionValue) -> Res {
        let mut probe: BTreeMap<String, OptionValue> = [
            ("Rootfs".to_string(), OptionValue::Str("/".into())),
            ("Command".to_string(), OptionValue::StrList(vec!["/bin/true".into()])),
        ]
        .into();
        probe.insert(key.to_string(), value.clone());
        ContainerSpec::from_options(&probe).map_err(Failure::model)?;
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

fn with_spec(spec: *mut berth_spec, f: impl FnOnce(&mut berth_spec) -> Res) -> berth_result {
    guard(|| f(arg_mut(spec, "spec")?))
}

fn set_str(spec: *mut berth_spec, key: &str, value: *const c_char) -> berth_result {
    with_spec(spec, |s| {
        let v = string(value, key)?;
        s.set(key, OptionValue::Str(v.into()))
    })
}

fn add_str(spec: *mut berth_spec, key: &str, value: *const c_char) -> berth_result {
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
pub extern "C" fn berth_spec_clone(spec: *const berth_spec, out: *mut *mut berth_spec) -> berth_result {
    guard(|| {
        let s = arg(spec, "spec")?;
        let out = super::ffi::Out::new(out, "out")?;
        out.write(Box::into_raw(Box::new(berth_spec { options: s.options.clone() })));
        Ok(())
    })
}

/// Rootfs: the container's root file system, an absolute directory path.
/// Required.
#[no_mangle]
pub extern "C" fn berth_spec_set_rootfs(spec: *mut berth_spec, path: *const c_char) -> berth_result {
    set_str(spec, "Rootfs", path)
}

/// Command: the argv of the container's init, `argc` strings (at least one).
/// Required.
#[no_mangle]
pub extern "C" fn berth_spec_set_command(spec: *mut berth_spec, argv: *const *const c_char, argc: usize) -> berth_result {
    with_spec(spec, |s| {
        let argv = strings(argv, argc, "argv")?;
        s.set("Command", OptionValue::StrList(argv))
    })
}

/// Env: add one `KEY=VALUE` entry to the container's environment.
#[no_mangle]
pub extern "C" fn berth_spec_add_env(spec: *mut berth_spec, entry: *const c_char) -> berth_result {
    add_str(spec, "Env", entry)
}

/// WorkingDir: an absolute path inside the container.
#[no_mangle]
pub extern "C" fn berth_spec_set_working_dir(spec: *mut berth_spec, path: *const c_char) -> berth_result {
    set_str(spec, "WorkingDir", path)
}

/// User: `uid[:gid]`, numbers.
#[no_mangle]
pub extern "C" fn berth_spec_set_user(spec: *mut berth_spec, user: *const c_char) -> berth_result {
    set_str(spec, "User", user)
}

/// Hostname: the container's host name.
#[no_mangle]
pub extern "C" fn berth_spec_set_hostname(spec: *mut berth_spec, hostname: *const c_char) -> berth_result {
    set_str(spec, "Hostname", hostname)
}

/// Notify: true when the container sends READY=1 itself (start returns
/// after it); false (the default) when it is ready once started.
#[no_mangle]
pub extern "C" fn berth_spec_set_notify(spec: *mut berth_spec, notify: bool) -> berth_result {
    with_spec(spec, |s| s.set("Notify", OptionValue::Bool(notify)))
}

/// StopSignal: a name ("SIGTERM", "TERM") or number ("15"); default SIGTERM.
#[no_mangle]
pub extern "C" fn berth_spec_set_stop_signal(spec: *mut berth_spec, signal: *const c_char) -> berth_result {
    set_str(spec, "StopSignal", signal)
}

/// StopTimeout: seconds between the stop signal and SIGKILL; default 10.
#[no_mangle]
pub extern "C" fn berth_spec_set_stop_timeout(spec: *mut berth_spec, seconds: u32) -> berth_result {
    with_spec(spec, |s| s.set("StopTimeout", OptionValue::U32(seconds)))
}

/// StartTimeout: seconds the container has to become ready; default 90.
#[no_mangle]
pub extern "C" fn berth_spec_set_start_timeout(spec: *mut berth_spec, seconds: u32) -> berth_result {
    with_spec(spec, |s| s.set("StartTimeout", OptionValue::U32(seconds)))
}

/// RestartPolicy: "no" (default), "on-failure", "on-failure:N", "always" or
/// "unless-stopped".
#[no_mangle]
pub extern "C" fn berth_spec_set_restart_policy(spec: *mut berth_spec, policy: *const c_char) -> berth_result {
    set_str(spec, "RestartPolicy", policy)
}

/// Dependencies: add the name of a container that must run first.
#[no_mangle]
pub extern "C" fn berth_spec_add_dependency(spec: *mut berth_spec, name: *const c_char) -> berth_result {
    add_str(spec, "Dependencies", name)
}

/// Labels: set one label (free metadata); a key set again is replaced.
#[no_mangle]
pub extern "C" fn berth_spec_set_label(spec: *mut berth_spec, key: *const c_char, value: *const c_char) -> berth_result {
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

/// Volumes: add one bind mount, `SRC:DST[:ro]` with absolute paths.
#[no_mangle]
pub extern "C" fn berth_spec_add_volume(spec: *mut berth_spec, volume: *const c_char) -> berth_result {
    add_str(spec, "Volumes", volume)
}

/// ReadOnly: a read-only root file system.
#[no_mangle]
pub extern "C" fn berth_spec_set_read_only(spec: *mut berth_spec, read_only: bool) -> berth_result {
    with_spec(spec, |s| s.set("ReadOnly", OptionValue::Bool(read_only)))
}

/// Network: "none" (default: an own namespace with only lo) or "host".
#[no_mangle]
pub extern "C" fn berth_spec_set_network(spec: *mut berth_spec, network: *const c_char) -> berth_result {
    set_str(spec, "Network", network)
}

/// Runtime: "crun" (default), "runc", or an absolute path to an OCI runtime.
#[no_mangle]
pub extern "C" fn berth_spec_set_runtime(spec: *mut berth_spec, runtime: *const c_char) -> berth_result {
    set_str(spec, "Runtime", runtime)
}

/// MemoryMax: bytes (a resource key: also valid for `berth_client_update()`).
#[no_mangle]
pub extern "C" fn berth_spec_set_memory_max(spec: *mut berth_spec, bytes: u64) -> berth_result {
    with_spec(spec, |s| s.set("MemoryMax", OptionValue::U64(bytes)))
}

/// TasksMax: most processes and threads (a resource key).
#[no_mangle]
pub extern "C" fn berth_spec_set_tasks_max(spec: *mut berth_spec, tasks: u64) -> berth_result {
    with_spec(spec, |s| s.set("TasksMax", OptionValue::U64(tasks)))
}

/// CPUWeight: 1 to 10000 (a resource key).
#[no_mangle]
pub extern "C" fn berth_spec_set_cpu_weight(spec: *mut berth_spec, weight: u64) -> berth_result {
    with_spec(spec, |s| s.set("CPUWeight", OptionValue::U64(weight)))
}

/// CPUQuota: percent of one CPU (a resource key).
#[no_mangle]
pub extern "C" fn berth_spec_set_cpu_quota(spec: *mut berth_spec, percent: u32) -> berth_result {
    with_spec(spec, |s| s.set("CPUQuota", OptionValue::U32(percent)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OPTION_KEYS;

    fn c(s: &str) -> std::ffi::CString {
        std::ffi::CString::new(s).unwrap()
    }

    #[test]
    fn every_option_key_has_a_setter() {
        let sp = berth_spec_new();
        let argv = [c("/bin/sh"), c("-c"), c("exit 3")];
        let argv: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        let ok = [
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
            berth_spec_set_network(sp, c("host").as_ptr()),
            berth_spec_set_runtime(sp, c("runc").as_ptr()),
            berth_spec_set_memory_max(sp, 1 << 20),
            berth_spec_set_tasks_max(sp, 10),
            berth_spec_set_cpu_weight(sp, 100),
            berth_spec_set_cpu_quota(sp, 50),
        ];
        assert!(ok.iter().all(|r| *r == berth_result::Ok), "{ok:?}");
        let s = unsafe { &*sp };
        let keys: Vec<&str> = s.options.keys().map(|k| k.as_str()).collect();
        let mut all: Vec<&str> = OPTION_KEYS.iter().map(|(k, _)| *k).collect();
        all.sort();
        assert_eq!(keys, all);
        assert_eq!(s.options["Env"], OptionValue::StrList(vec!["A=1".into(), "B=2".into()]));
        ContainerSpec::from_options(&s.options).unwrap();
        berth_spec_free(sp);
    }

    #[test]
    fn bad_values_fail_at_the_setter_and_change_nothing() {
        let sp = berth_spec_new();
        assert_eq!(berth_spec_set_rootfs(sp, c("/ok").as_ptr()), berth_result::Ok);
        assert_eq!(berth_spec_set_rootfs(sp, c("relative").as_ptr()), berth_result::InvalidArgument);
        assert!(super::super::ffi::last_error().contains("Rootfs"));
        assert_eq!(berth_spec_set_stop_signal(sp, c("SIGBOGUS").as_ptr()), berth_result::InvalidArgument);
        assert_eq!(berth_spec_add_env(sp, c("NOEQUALS").as_ptr()), berth_result::InvalidArgument);
        assert_eq!(berth_spec_set_command(sp, std::ptr::null(), 0), berth_result::NullParameter);
        assert_eq!(berth_spec_set_command(sp, [].as_ptr(), 0), berth_result::InvalidArgument);
        assert_eq!(berth_spec_set_rootfs(std::ptr::null_mut(), c("/x").as_ptr()), berth_result::NullParameter);
        assert_eq!(unsafe { &*sp }.options.len(), 1);
        assert_eq!(unsafe { &*sp }.options["Rootfs"], OptionValue::Str("/ok".into()));
        berth_spec_free(sp);
        berth_spec_free(std::ptr::null_mut());
    }
}
