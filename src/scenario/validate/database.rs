//! The `[database]` table: one server, or a primary and a standby that hasim makes
//! for the run; and the faults that need the pair.

use toml::Spanned;

use crate::faults::{Fault, FaultKind};
use crate::scenario::raw::*;
use crate::topology::{DatabaseSpec, Replication, Topology};

use super::{Result, Validator};

impl Validator<'_> {
    pub(super) fn database(&self, database: Option<&Spanned<RawDatabase>>) -> Result<DatabaseSpec> {
        let mut spec = DatabaseSpec::default();
        let Some(database) = database else { return Ok(spec) };
        let raw = database.get_ref();
        if let Some(topology) = &raw.topology {
            spec.topology = match topology.get_ref().as_str() {
                "single" => Topology::Single,
                "primary-standby" => Topology::PrimaryStandby,
                other => {
                    return Err(self.err(
                        topology,
                        "database.topology",
                        format!("unknown topology {other:?} (known: single, primary-standby)"),
                    ));
                }
            };
        }
        if let Some(replication) = &raw.replication {
            spec.replication = match replication.get_ref().as_str() {
                "async" => Replication::Async,
                "sync" => Replication::Sync,
                "remote-apply" => Replication::RemoteApply,
                other => {
                    return Err(self.err(
                        replication,
                        "database.replication",
                        format!("unknown replication {other:?} (known: async, sync, remote-apply)"),
                    ));
                }
            };
            if spec.topology == Topology::Single {
                return Err(self.err(
                    replication,
                    "database.replication",
                    "replication is how a primary feeds its standby: it needs topology = \"primary-standby\"",
                ));
            }
        }
        Ok(spec)
    }

    /// Refuses a fault on the database server (`db-failover`, `replication-lag`) of a
    /// scenario whose database is a single server.
    pub(super) fn faults_fit_the_database(
        &self,
        raw: Option<&List<RawFault>>,
        faults: &[Fault],
        database: DatabaseSpec,
    ) -> Result<()> {
        if database.topology == Topology::PrimaryStandby {
            return Ok(());
        }
        let Some(fault) = faults.iter().find(|f| f.on_the_database()) else { return Ok(()) };
        // A rolling crash expands into several faults: find the file's entry by kind.
        let raw = raw.map(|r| r.get_ref().as_slice()).unwrap_or_default();
        let name = |f: &Fault| match f.kind {
            FaultKind::DbFailover => "db-failover",
            FaultKind::DbRestart => "db-restart",
            _ => "replication-lag",
        };
        let (i, entry) = raw
            .iter()
            .enumerate()
            .find(|(_, r)| r.get_ref().kind.get_ref() == name(fault))
            .expect("a fault on the database comes from an entry of its kind");
        Err(self.err(
            &entry.get_ref().kind,
            format!("faults[{i}].kind"),
            format!(
                "a {} acts on a primary-standby pair, but the database is a single server: \
                 add [database] topology = \"primary-standby\"",
                name(fault)
            ),
        ))
    }
}
