//! Images in the engine: import, list, inspect, tag, untag and remove
//! through the image store (`<state_root>/images`), with the in-use checks
//! that only the engine can make, and what creating a container from an
//! image takes from it.

use super::{blocking, Engine};
use crate::image::{Image, ImageConfig, ImageInspect, ImportOptions, Removal};
use crate::model::{ContainerSpec, Error, ImageConfigInfo, ImageDetails, ImageInfo, OptionValue, Result, Volume};
use crate::store::Record;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;

/// Reads the caller's descriptor from a blocking thread, waiting in poll
/// for data (the caller's descriptor may be non-blocking: its flags are
/// shared and are not changed).
struct PolledReader(File);

impl Read for PolledReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
            let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Fail at once on a descriptor that cannot be read.
fn check_readable(f: &File) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    use std::os::fd::AsRawFd;
    let fl = fcntl(f.as_raw_fd(), FcntlArg::F_GETFL).map_err(|e| Error::invalid("fd", format!("not a usable descriptor: {e}")))?;
    let acc = OFlag::from_bits_truncate(fl) & OFlag::O_ACCMODE;
    if acc != OFlag::O_RDONLY && acc != OFlag::O_RDWR {
        return Err(Error::invalid("fd", "is not open for reading"));
    }
    Ok(())
}

fn info(image: Image, containers: Vec<String>) -> ImageInfo {
    ImageInfo {
        id: image.id,
        names: image.names,
        digest: image.digest.to_string(),
        created: image.created,
        imported: image.imported,
        size: image.size,
        architecture: image.architecture,
        os: image.os,
        layers: image.layers.iter().map(|d| d.to_string()).collect(),
        containers,
    }
}

fn config_info(c: ImageConfig) -> ImageConfigInfo {
    ImageConfigInfo {
        entrypoint: c.entrypoint,
        cmd: c.cmd,
        env: c.env,
        working_dir: c.working_dir,
        user: c.user,
        stop_signal: c.stop_signal,
        labels: c.labels,
        exposed_ports: c.exposed_ports.iter().map(|p| p.to_string()).collect(),
        volumes: c.volumes,
        author: c.author,
    }
}

impl Engine {
    /// Names of the containers made from image `id`.
    fn users_of_image(&self, id: &str) -> Vec<String> {
        self.list().into_iter().filter(|r| r.image_id.as_deref() == Some(id)).map(|r| r.name.to_string()).collect()
    }

    /// Import the archive read from `from` (an oci-archive, docker-archive,
    /// OCI layout as tar, or root file system tarball; compressed or not);
    /// `name` names a single image (needed for a root file system). Returns
    /// the ids of the images it held.
    pub async fn import_image(&self, from: impl Read + Send + 'static, name: Option<String>) -> Result<Vec<String>> {
        let inner = self.inner.clone();
        let ids = blocking(move || {
            let images = inner.images.import_reader(from, &ImportOptions { name })?;
            Ok::<_, Error>(images.into_iter().map(|i| i.id).collect())
        })
        .await?;
        self.learn_defined_images().await;
        Ok(ids)
    }

    /// File-defined containers whose image was not there when berthd read
    /// their files learn it once it is.
    async fn learn_defined_images(&self) {
        for c in self.containers() {
            let _g = c.op.lock().await;
            let mut rec = c.record();
            if rec.source.is_none() || rec.image_id.is_some() || rec.spec.image.is_none() {
                continue;
            }
            self.learn_image(&mut rec).await;
            if rec.image_id.is_some() {
                if let Err(e) = self.commit(&c, rec).await {
                    tracing::warn!(container = %c.name, "cannot record its image: {e}");
                }
            }
        }
    }

    /// Import the archive the caller's descriptor holds (a pipe, a socket
    /// or a file), read to its end. A regular file is read where it is
    /// (through the descriptor's /proc path), not copied into the store
    /// first.
    pub async fn import_image_fd(&self, from: File, name: Option<String>) -> Result<Vec<String>> {
        check_readable(&from)?;
        if from.metadata().is_ok_and(|m| m.file_type().is_file()) {
            let inner = self.inner.clone();
            let ids = blocking(move || {
                use std::os::fd::AsRawFd;
                let path = std::path::PathBuf::from(format!("/proc/self/fd/{}", from.as_raw_fd()));
                let images = inner.images.import_path(&path, &ImportOptions { name })?;
                drop(from);
                Ok::<_, Error>(images.into_iter().map(|i| i.id).collect::<Vec<String>>())
            })
            .await?;
            self.learn_defined_images().await;
            return Ok(ids);
        }
        self.import_image(PolledReader(from), name).await
    }

    /// Every image, newest import first.
    pub async fn list_images(&self) -> Result<Vec<ImageInfo>> {
        let inner = self.inner.clone();
        let images = blocking(move || inner.images.list()).await?;
        Ok(images.into_iter().map(|i| {
            let users = self.users_of_image(&i.id);
            info(i, users)
        }).collect())
    }

    /// One image (by name, name:tag, id or id prefix) and its config.
    pub async fn inspect_image(&self, reference: &str) -> Result<ImageDetails> {
        let (inner, r) = (self.inner.clone(), reference.to_string());
        let ImageInspect { image, config } = blocking(move || inner.images.inspect(&r)).await?;
        let users = self.users_of_image(&image.id);
        Ok(ImageDetails { image: info(image, users), config: config_info(config) })
    }

    /// Give an image one more name; returns the name as stored.
    pub async fn tag_image(&self, reference: &str, name: &str) -> Result<String> {
        let (inner, r, n) = (self.inner.clone(), reference.to_string(), name.to_string());
        Ok(blocking(move || inner.images.tag(&r, &n)).await?.to_string())
    }

    pub async fn untag_image(&self, reference: &str, name: &str) -> Result<()> {
        let (inner, r, n) = (self.inner.clone(), reference.to_string(), name.to_string());
        Ok(blocking(move || inner.images.untag(&r, &n)).await?)
    }

    /// Remove an image as `podman rmi` does: by one of several names only
    /// that name goes; an image containers are made from stays, unless
    /// forced, which removes those containers first (stopping them).
    /// Returns the id of the image removed, or the name untagged.
    pub async fn remove_image(&self, reference: &str, force: bool) -> Result<String> {
        if force {
            let (inner, r) = (self.inner.clone(), reference.to_string());
            let image = blocking(move || inner.images.resolve(&r)).await?;
            for name in self.users_of_image(&image.id) {
                match self.remove(&name, true, None).await {
                    Ok(()) | Err(Error::NoSuchContainer { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let (engine, r) = (self.clone(), reference.to_string());
        let removal = blocking(move || {
            engine.inner.images.remove(&r, force, |image| !engine.users_of_image(&image.id).is_empty())
        })
        .await;
        match removal {
            Ok(Removal::Untagged(name)) => Ok(name),
            Ok(Removal::Removed(id)) => Ok(id),
            Err(crate::image::Error::ImageInUse { id }) => {
                let containers = self.users_of_image(&id);
                Err(Error::ImageInUse { image: id, containers })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What a new container takes from its image: the image's id, and
    /// into the spec its stop signal and labels (under the caller's) and
    /// an anonymous volume for each of its volume paths the spec leaves
    /// free. Anonymous volumes get their names here.
    pub(super) async fn adopt_image(
        &self,
        spec: &mut ContainerSpec,
        options: &BTreeMap<String, OptionValue>,
    ) -> Result<Option<String>> {
        let image_id = match spec.image.clone() {
            None => None,
            Some(reference) => {
                let inner = self.inner.clone();
                let (image, config) = blocking(move || -> Result<_> {
                    let image = inner.images.resolve(&reference)?;
                    let config = inner.images.config(&image)?;
                    Ok((image, config))
                })
                .await?;
                crate::runtime::launch::argv(spec, Some(&config))?;
                if !options.contains_key("StopSignal") {
                    if let Some(s) = &config.stop_signal {
                        let sig = crate::model::parse_signal(s, "StopSignal").and_then(|n| crate::model::check_signal(n, "StopSignal"));
                        match sig {
                            Ok(n) => spec.stop_signal = n,
                            Err(e) => tracing::warn!("image {}: ignoring its StopSignal: {e}", image.id),
                        }
                    }
                }
                let mut labels = config.labels.clone();
                labels.extend(std::mem::take(&mut spec.labels));
                spec.labels = labels;
                for path in &config.volumes {
                    let taken = spec.volumes.iter().any(|v| v.destination.as_os_str() == path.as_str());
                    if !taken && path.starts_with('/') && !path.split('/').any(|c| c == "..") {
                        spec.volumes.push(Volume {
                            source: Default::default(),
                            destination: path.into(),
                            read_only: false,
                            volume: None,
                            anonymous: true,
                        });
                    }
                }
                Some(image.id)
            }
        };
        for v in spec.volumes.iter_mut().filter(|v| v.anonymous && v.volume.is_none()) {
            v.volume = Some(crate::model::new_id());
        }
        Ok(image_id)
    }

    /// Resolve the image of a file-defined container's record, when the
    /// store has it (the monitor resolves it again at each start).
    pub(super) async fn learn_image(&self, rec: &mut Record) {
        rec.image_id = None;
        let Some(reference) = rec.spec.image.clone() else { return };
        let inner = self.inner.clone();
        if let Ok(image) = blocking(move || inner.images.resolve(&reference)).await {
            rec.image_id = Some(image.id);
        }
    }
}
