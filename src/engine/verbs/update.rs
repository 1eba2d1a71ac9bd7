//! Update.

use super::super::Engine;
use crate::model::{EventKind, OptionValue, Result, Verb};
use crate::store::Record;
use std::collections::BTreeMap;

impl Engine {
    /// Update(resources): stored first, then applied live to a running unit;
    /// berthd killed in between applies them at its next start.
    pub async fn update(&self, name: &str, options: &BTreeMap<String, OptionValue>) -> Result<Record> {
        let (c, _g) = self.locked(name).await?;
        let mut rec = self.refresh(&c).await?;
        rec.state.check(Verb::Update, name)?;
        rec.spec.resources.apply(options)?;
        self.commit(&c, rec.clone()).await?;
        self.crash_point("update: recorded").await;
        if rec.state.is_live() {
            if let Err(e) = self.inner.units.set_resources(&rec.unit_name(), &rec.spec.resources).await {
                // Ended meanwhile (its unit went): as for a container that
                // had ended before the call, they apply at its next start.
                rec = self.refresh(&c).await?;
                if rec.state.is_live() {
                    return Err(e);
                }
            }
            self.crash_point("update: applied").await;
        }
        self.emit(&rec, EventKind::Update);
        Ok(rec)
    }
}
