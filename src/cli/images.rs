//! berthctl's image, volume, mount, unmount and export commands, in
//! podman's shape.

use crate::client::Client;
use crate::model::{short_id, Error, ImageInfo, Result, VolumeInfo};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::os::fd::AsFd;

/// `image ls` and `images`.
#[derive(Debug, Args, Clone)]
pub struct ImageListArgs {
    /// Print ids only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// `json` (the images' descriptions) or `table` (default).
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Import an image archive (podman save, docker save, skopeo, umoci
    /// output: oci-archive, docker-archive, an OCI layout directory) or a
    /// root file system tarball (which needs NAME); `-` reads standard
    /// input. Prints the ids of the images imported.
    #[command(alias = "load")]
    Import {
        /// The archive, a directory, or `-`.
        file: String,
        /// The image's name (needed for a root file system tarball).
        name: Option<String>,
    },
    /// List images.
    #[command(alias = "list")]
    Ls(ImageListArgs),
    /// Show images as JSON (with their config).
    Inspect {
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Give an image more names.
    Tag {
        image: String,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Take names from an image.
    Untag {
        image: String,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove images (by one of several names: only that name).
    #[command(alias = "remove")]
    Rm {
        /// Also remove the containers made from them.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        images: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Make an empty named volume.
    Create {
        /// KEY=VALUE
        #[arg(short = 'l', long = "label")]
        labels: Vec<String>,
        name: String,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        #[arg(short = 'q', long)]
        quiet: bool,
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Show volumes as JSON.
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove volumes and their content.
    #[command(alias = "remove")]
    Rm {
        /// Even while containers use them.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
}

fn human_size(b: u64) -> String {
    match b {
        0..=999 => format!("{b} B"),
        1_000..=999_999 => format!("{:.1} kB", b as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} MB", b as f64 / 1e6),
        _ => format!("{:.2} GB", b as f64 / 1e9),
    }
}

fn human_since(secs: u64) -> String {
    if secs == 0 {
        return "-".into();
    }
    super::human_age(secs * 1_000_000)
}

/// Columns padded to their widest cell, the last one not.
fn table<const N: usize>(head: [&str; N], rows: &[[String; N]]) {
    let mut w = head.map(str::len);
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cols: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cols.iter().enumerate() {
            if i + 1 == cols.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(head.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

fn check_format(f: &str) -> Result<bool> {
    match f {
        "json" => Ok(true),
        "table" => Ok(false),
        f => Err(Error::invalid("format", format!("{f:?} is not table or json"))),
    }
}

/// `podman images`: one row per name (an image without one shows <none>).
fn print_images(images: &[ImageInfo], a: &ImageListArgs) -> Result<()> {
    let json = check_format(&a.format)?;
    if a.quiet {
        for i in images {
            println!("{}", short_id(&i.id));
        }
        return Ok(());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(images).expect("descriptions serialize"));
        return Ok(());
    }
    let mut rows = Vec::new();
    for i in images {
        let names: Vec<(String, String)> = if i.names.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            i.names.iter().map(|n| n.rsplit_once(':').map_or((n.clone(), String::new()), |(r, t)| (r.into(), t.into()))).collect()
        };
        for (repo, tag) in names {
            rows.push([repo, tag, short_id(&i.id).to_string(), human_since(i.imported), human_size(i.size)]);
        }
    }
    table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows);
    Ok(())
}

fn print_volumes(volumes: &[VolumeInfo], quiet: bool, format: &str) -> Result<()> {
    let json = check_format(format)?;
    if quiet {
        volumes.iter().for_each(|v| println!("{}", v.name));
    } else if json {
        println!("{}", serde_json::to_string_pretty(volumes).expect("descriptions serialize"));
    } else {
        let rows: Vec<[String; 2]> = volumes.iter().map(|v| ["local".to_string(), v.name.clone()]).collect();
        table(["DRIVER", "VOLUME NAME"], &rows);
    }
    Ok(())
}

/// Stream a directory (an OCI layout) as tar into `w`.
fn tar_dir(dir: std::path::PathBuf, w: std::fs::File) -> std::io::Result<()> {
    let mut b = tar::Builder::new(std::io::BufWriter::new(w));
    b.follow_symlinks(false);
    b.append_dir_all(".", &dir)?;
    b.into_inner()?.into_inner().map_err(|e| e.into_error())?;
    Ok(())
}

async fn import(c: &Client, file: &str, name: Option<&str>) -> Result<Vec<String>> {
    if file == "-" {
        let stdin = std::io::stdin();
        return c.import_image(stdin.as_fd(), name).await;
    }
    let path = std::path::Path::new(file);
    if path.is_dir() {
        // berthd reads a stream: a directory goes as a tar of itself.
        let (rd, wr) = nix::unistd::pipe().map_err(|e| Error::internal(format!("cannot make a pipe: {e}")))?;
        let dir = path.to_path_buf();
        let writer = std::thread::spawn(move || tar_dir(dir, std::fs::File::from(wr)));
        let r = c.import_image(rd.as_fd(), name).await;
        drop(rd);
        let w = writer.join().map_err(|_| Error::internal("the archiving thread failed"))?;
        let ids = r?;
        w.map_err(|e| Error::io("archive", path, e))?;
        return Ok(ids);
    }
    let f = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    c.import_image(f.as_fd(), name).await
}

/// Run each call, printing what it names and each error once; the exit
/// status is the first failure's.
async fn each<F, Fut>(items: &[String], f: F) -> Result<i32>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    super::each(items, f).await
}

pub async fn image(c: &Client, cmd: ImageCommand) -> Result<i32> {
    match cmd {
        ImageCommand::Import { file, name } => {
            for id in import(c, &file, name.as_deref()).await? {
                println!("{id}");
            }
        }
        ImageCommand::Ls(a) => print_images(&c.list_images().await?, &a)?,
        ImageCommand::Inspect { images } => {
            let mut out = Vec::new();
            for i in &images {
                out.push(c.inspect_image(i).await?);
            }
            println!("{}", serde_json::to_string_pretty(&out).expect("descriptions serialize"));
        }
        ImageCommand::Tag { image, names } => {
            for n in &names {
                c.tag_image(&image, n).await?;
            }
        }
        ImageCommand::Untag { image, names } => {
            for n in &names {
                c.untag_image(&image, n).await?;
            }
        }
        ImageCommand::Rm { force, images } => {
            return each(&images, |i| {
                let c = c.clone();
                async move { c.remove_image(&i, force).await }
            })
            .await;
        }
    }
    Ok(0)
}

pub async fn images(c: &Client, a: ImageListArgs) -> Result<i32> {
    print_images(&c.list_images().await?, &a).map(|()| 0)
}

pub async fn volume(c: &Client, cmd: VolumeCommand) -> Result<i32> {
    match cmd {
        VolumeCommand::Create { labels, name } => {
            let mut m = BTreeMap::new();
            for l in labels {
                let (k, v) = l.split_once('=').unwrap_or((&l, ""));
                m.insert(k.to_string(), v.to_string());
            }
            c.create_volume(&name, &m).await?;
            println!("{name}");
        }
        VolumeCommand::Ls { quiet, format } => print_volumes(&c.list_volumes().await?, quiet, &format)?,
        VolumeCommand::Inspect { names } => {
            let mut out = Vec::new();
            for n in &names {
                out.push(c.inspect_volume(n).await?);
            }
            println!("{}", serde_json::to_string_pretty(&out).expect("descriptions serialize"));
        }
        VolumeCommand::Rm { force, names } => {
            return each(&names, |n| {
                let c = c.clone();
                async move { c.remove_volume(&n, force).await }
            })
            .await;
        }
    }
    Ok(0)
}

pub async fn mount(c: &Client, names: &[String]) -> Result<i32> {
    for n in names {
        println!("{}", c.mount(n).await?);
    }
    Ok(0)
}

pub async fn unmount(c: &Client, force: bool, names: &[String]) -> Result<i32> {
    each(names, |n| {
        let c = c.clone();
        async move { c.unmount(&n, force).await }
    })
    .await
}

/// `export -o FILE NAME`, or to standard output when it is not a terminal.
pub async fn export(c: &Client, output: Option<&str>, name: &str) -> Result<i32> {
    match output {
        Some(path) => {
            let f = std::fs::File::create(path).map_err(|e| Error::io("create", path, e))?;
            c.export(name, f.as_fd()).await?;
        }
        None => {
            let out = std::io::stdout();
            if out.is_terminal() {
                return Err(Error::invalid("output", "refusing to write an archive to a terminal; use -o FILE or redirect"));
            }
            c.export(name, out.as_fd()).await?;
        }
    }
    Ok(0)
}
