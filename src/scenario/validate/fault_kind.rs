//! The fault kinds a file may name, the keys each takes, and what to say when a
//! fault carries a key that belongs to another kind.

/// The fault kinds, as files name them.
pub(super) const FAULT_KINDS: &str = "crash, rolling-crash, db-partition, db-latency, db-reset, endpoint, db-failover, db-restart, replication-lag";

/// A fault kind, once its name is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Crash,
    RollingCrash,
    DbPartition,
    DbLatency,
    DbReset,
    Endpoint,
    DbFailover,
    DbRestart,
    ReplicationLag,
}

impl Kind {
    /// Every kind, in the order messages list them.
    pub(super) const ALL: [Kind; 9] = [
        Kind::Crash,
        Kind::RollingCrash,
        Kind::DbPartition,
        Kind::DbLatency,
        Kind::DbReset,
        Kind::Endpoint,
        Kind::DbFailover,
        Kind::DbRestart,
        Kind::ReplicationLag,
    ];

    pub(super) fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "crash" => Kind::Crash,
            "rolling-crash" => Kind::RollingCrash,
            "db-partition" => Kind::DbPartition,
            "db-latency" => Kind::DbLatency,
            "db-reset" => Kind::DbReset,
            "endpoint" => Kind::Endpoint,
            "db-failover" => Kind::DbFailover,
            "db-restart" => Kind::DbRestart,
            "replication-lag" => Kind::ReplicationLag,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Crash => "crash",
            Kind::RollingCrash => "rolling-crash",
            Kind::DbPartition => "db-partition",
            Kind::DbLatency => "db-latency",
            Kind::DbReset => "db-reset",
            Kind::Endpoint => "endpoint",
            Kind::DbFailover => "db-failover",
            Kind::DbRestart => "db-restart",
            Kind::ReplicationLag => "replication-lag",
        }
    }

    /// The keys a fault of this kind takes, besides `kind`.
    pub(super) fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Crash => &["at", "when", "replica", "restart_after"],
            Kind::RollingCrash => &["at", "every", "restart_after", "rounds"],
            Kind::DbPartition => &["at", "until", "when", "replica", "heal_after"],
            Kind::DbLatency => &["at", "until", "replica", "latency"],
            Kind::DbReset => &["at", "when", "replica"],
            Kind::Endpoint => &["at", "until", "status", "retry_after", "delay", "hang", "reset", "requests"],
            Kind::DbFailover | Kind::DbRestart => &["at"],
            Kind::ReplicationLag => &["at", "until"],
        }
    }
}

/// Why `key` does not belong on a fault of `kind`.
pub(super) fn stray_key_message(kind: Kind, key: &str) -> String {
    let allowed = kind.keys().join(", ");
    match (kind, key) {
        (_, "when") => format!(
            "when (a point) triggers crash, db-reset and db-partition faults; a {} fault starts at a time: use at",
            kind.name()
        ),
        (Kind::RollingCrash, "replica") => {
            "a rolling crash strikes every replica in turn (r1, r2, ...): replica does not apply; \
             use kind = \"crash\" for one replica"
                .into()
        }
        (Kind::Crash | Kind::RollingCrash, "until") => {
            "a crash is an instant: until does not apply (restart_after brings the replica back)".into()
        }
        (Kind::DbReset, "until") => {
            "a db-reset is an instant (it kills the replica's connections once): until does not apply".into()
        }
        (Kind::DbFailover, "until") => {
            "a db-failover is an instant (the primary fails, the standby takes over for good): until does \
             not apply; a replication-lag window before it says what the standby misses"
                .into()
        }
        (Kind::DbRestart, "until") => {
            "a db-restart is an instant (the primary crashes and comes back at once): until does not apply"
                .into()
        }
        (Kind::DbFailover | Kind::DbRestart | Kind::ReplicationLag, "replica") => format!(
            "a {} acts on the database server, which every replica shares: replica does not apply",
            kind.name()
        ),
        _ => {
            let owners: Vec<&str> =
                Kind::ALL.into_iter().filter(|k| k.keys().contains(&key)).map(Kind::name).collect();
            format!(
                "{key} does not apply to a {} fault (it is for {}); a {} fault takes: kind, {allowed}",
                kind.name(),
                owners.join(", "),
                kind.name()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_takes_at_and_names_its_own_keys() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
            assert!(kind.keys().contains(&"at"));
            assert!(FAULT_KINDS.contains(kind.name()));
        }
        assert!(stray_key_message(Kind::Crash, "latency").contains("it is for db-latency"));
        assert!(
            stray_key_message(Kind::DbLatency, "when").contains("crash, db-reset and db-partition faults")
        );
        assert!(stray_key_message(Kind::DbReset, "heal_after").contains("it is for db-partition"));
    }
}
