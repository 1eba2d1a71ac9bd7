//! ReloadNetwork: set a running container's network up again with the same
//! addresses and ports (after a firewall reload dropped netavark's rules).

use super::super::{blocking, Engine};
use crate::model::{Error, ErrorKind, Result, Verb};
use crate::network::NetworkError;

impl Engine {
    /// ReloadNetwork: netavark teardown and setup in the container's own
    /// namespace; nothing of the record changes.
    pub async fn reload_network(&self, name: &str) -> Result<()> {
        self.reload_one(name).await?.ok_or_else(|| Error::Network {
            action: "reload the network",
            message: format!("container {name}'s network is not set up"),
        })
    }

    /// Reload one container's network; `None` when it is not set up (yet:
    /// a container waiting in StartAndAttach for its first caller).
    async fn reload_one(&self, name: &str) -> Result<Option<()>> {
        let (c, _g) = self.locked(name).await?;
        let rec = self.refresh(&c).await?;
        rec.state.check(Verb::ReloadNetwork, name)?;
        if !rec.spec.network.is_bridge() {
            let mode = rec.spec.network.to_option();
            return Err(Error::invalid("Network", format!("container {name} has no bridge network (Network is {mode})")));
        }
        let (networks, id) = (self.networks().clone(), rec.id.clone());
        match blocking(move || networks.reload(&id)).await {
            Ok(_) => {}
            Err(NetworkError::NotSetUp { .. }) => return Ok(None),
            Err(e) => return Err(Error::Network { action: "reload the network", message: e.to_string() }),
        }
        self.crash_point("reload network: set up again").await;
        tracing::info!(container = name, "network reloaded");
        Ok(Some(()))
    }

    /// ReloadNetworks: every running bridged container's network; the
    /// names reloaded. All are tried; the first failure is returned. One
    /// that was removed or stopped since the listing, or whose network is
    /// not set up yet, is left out, not a failure.
    pub async fn reload_networks(&self) -> Result<Vec<String>> {
        let mut done = Vec::new();
        let mut first_err = None;
        for rec in self.list() {
            if !rec.spec.network.is_bridge() || rec.state.check(Verb::ReloadNetwork, rec.name.as_str()).is_err() {
                continue;
            }
            match self.reload_one(rec.name.as_str()).await {
                Ok(Some(())) => done.push(rec.name.to_string()),
                Ok(None) => tracing::debug!(container = %rec.name, "its network is not set up yet: nothing to reload"),
                Err(e) if matches!(e.kind(), ErrorKind::NoSuchContainer | ErrorKind::Removed | ErrorKind::InvalidState) => {
                    tracing::debug!(container = %rec.name, "gone or stopped before its network was reloaded: {e}");
                }
                Err(e) => {
                    tracing::warn!(container = %rec.name, "cannot reload its network: {e}");
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(done), Err)
    }
}
