//! Kubernetes YAML through libberth: generate, play and down, the YAML in
//! and out as strings.

use super::client::berth_client;
use super::ffi::{arg, c_string, guard, string, strings, Out};
use crate::model::ErrorKind;
use std::ffi::c_char;

fn lines(names: &[String]) -> String {
    names.iter().map(|n| format!("{n}\n")).collect()
}

/// GenerateKube: the `n_names` containers `names` as one Kubernetes Pod,
/// or a Deployment when `type` is "deployment" ("pod" or NULL: a Pod),
/// named after the first container and "-pod". On success `*yaml_out` is
/// the YAML (free it with `berth_string_free()`).
/// BERTH_RESULT_KUBE_UNSUPPORTED when a container cannot be described
/// (one made from a root file system, one with dependencies).
#[no_mangle]
pub extern "C" fn berth_kube_generate(
    client: *const berth_client,
    names: *const *const c_char,
    n_names: usize,
    r#type: *const c_char,
    yaml_out: *mut *mut c_char,
) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let names = strings(names, n_names, "names")?;
        let kind = if r#type.is_null() { "pod" } else { string(r#type, "type")? };
        let out = Out::new(yaml_out, "yaml_out")?;
        let yaml = c.call(c.client.kube_generate(&names, kind, None))?;
        out.write(c_string(&yaml).into_raw());
        Ok(())
    })
}

/// PlayKube: create and start what the YAML describes (Pods, Deployments,
/// ConfigMaps, PersistentVolumeClaims). On success `*names_out` holds the
/// containers' names, one per line. Unsupported kinds or fields give
/// BERTH_RESULT_KUBE_UNSUPPORTED, invalid ones BERTH_RESULT_KUBE_INVALID
/// (the message names the field's path); nothing is created then.
#[no_mangle]
pub extern "C" fn berth_kube_play(client: *const berth_client, yaml: *const c_char, names_out: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let yaml = string(yaml, "yaml")?;
        let out = Out::new(names_out, "names_out")?;
        let names = c.call(c.client.kube_play(yaml))?;
        out.write(c_string(&lines(&names)).into_raw());
        Ok(())
    })
}

/// DownKube: stop and remove the containers a play of the YAML made (and
/// its emptyDir volumes; claims stay). `*names_out`: the containers
/// removed, one per line.
#[no_mangle]
pub extern "C" fn berth_kube_down(client: *const berth_client, yaml: *const c_char, names_out: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let yaml = string(yaml, "yaml")?;
        let out = Out::new(names_out, "names_out")?;
        let names = c.call(c.client.kube_down(yaml))?;
        out.write(c_string(&lines(&names)).into_raw());
        Ok(())
    })
}
