//! `berthctl kube generate|play|down`, as podman's `kube` commands.

use crate::client::Client;
use crate::model::{Error, Result};
use clap::Subcommand;
use std::io::Read;

#[derive(Debug, Subcommand)]
pub enum KubeCommand {
    /// Containers as Kubernetes YAML (a Pod, or a Deployment).
    Generate {
        /// pod or deployment.
        #[arg(long = "type", short = 't', default_value = "pod")]
        kind: String,
        /// Write the YAML to this file instead of standard output.
        #[arg(short = 'f', long = "filename")]
        file: Option<String>,
        /// The pod's name (default: the first container's name and -pod).
        #[arg(long)]
        pod_name: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Create and start the containers of Kubernetes YAML (FILE, or - for
    /// standard input); prints their names.
    Play { file: String },
    /// Stop and remove the containers a play of the YAML made (FILE or -).
    Down { file: String },
}

fn read_yaml(file: &str) -> Result<String> {
    let mut s = String::new();
    let r = if file == "-" {
        std::io::stdin().read_to_string(&mut s)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut s))
    };
    r.map_err(|e| Error::io("read", file, e))?;
    Ok(s)
}

pub async fn kube(c: &Client, cmd: KubeCommand) -> Result<i32> {
    match cmd {
        KubeCommand::Generate { kind, file, pod_name, names } => {
            let yaml = c.kube_generate(&names, &kind, pod_name.as_deref()).await?;
            match file {
                Some(f) => std::fs::write(&f, yaml).map_err(|e| Error::io("write", &f, e))?,
                None => print!("{yaml}"),
            }
        }
        KubeCommand::Play { file } => {
            for n in c.kube_play(&read_yaml(&file)?).await? {
                println!("{n}");
            }
        }
        KubeCommand::Down { file } => {
            for n in c.kube_down(&read_yaml(&file)?).await? {
                println!("{n}");
            }
        }
    }
    Ok(0)
}
