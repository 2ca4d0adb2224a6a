//! A fault's `when = { replica, point, op, nth }`: the point a crash, a DB reset or a
//! DB partition strikes at.

use toml::Spanned;

use crate::faults::{CrashPoint, Trigger};
use crate::model::ReplicaId;
use crate::scenario::raw::*;
use crate::store::CommitOp;

use super::{Result, Validator};

/// The points a file may name, as it names them.
fn point_names() -> String {
    let mut names: Vec<&str> = CrashPoint::ALL.iter().map(|p| p.as_str()).collect();
    names.dedup();
    names.join(", ")
}

/// The operations `after-commit` takes, as a file names them.
fn op_names() -> String {
    CommitOp::ALL.iter().map(|op| op.as_str()).collect::<Vec<_>>().join(", ")
}

impl Validator<'_> {
    /// The trigger of fault `i` at a point, and the replica it strikes: the named
    /// one, or [`ReplicaId::any`] for whichever replica gets there first. A
    /// `replica` key beside `when` must name the same replica.
    pub(super) fn when(
        &self,
        i: usize,
        when: &Spanned<RawWhen>,
        given: Option<&Str>,
        replicas: usize,
    ) -> Result<(ReplicaId, Trigger)> {
        let key = |k: &str| format!("faults[{i}].{k}");
        let w = when.get_ref();
        let replica = if w.replica.get_ref() == ReplicaId::any().as_str() {
            ReplicaId::any()
        } else {
            self.replica(&w.replica, key("when.replica"), replicas)?
        };
        if let Some(given) = given
            && given.get_ref() != replica.as_str()
        {
            return Err(self.err(
                given,
                key("replica"),
                format!(
                    "{:?} is not the replica of when ({replica}): a fault at a point strikes the replica \
                     that gets there; leave replica out or make them equal",
                    given.get_ref()
                ),
            ));
        }
        let point = self.point(i, w)?;
        let nth = match &w.nth {
            None => 1,
            Some(n) => self.int(
                n,
                &key("when.nth"),
                1..i64::from(u32::MAX) + 1,
                "nth counts passages from 1 (the first time the replica gets there)",
            )?,
        };
        Ok((replica.clone(), Trigger::When { replica, point, nth }))
    }

    /// `point`, with `op` for `after-commit`.
    fn point(&self, i: usize, w: &RawWhen) -> Result<CrashPoint> {
        let key = |k: &str| format!("faults[{i}].{k}");
        let name = w.point.get_ref();
        if name == "after-commit" {
            let Some(op) = &w.op else {
                return Err(self.err(
                    &w.point,
                    key("when.op"),
                    format!("after-commit needs op: which write's commit, one of {}", op_names()),
                ));
            };
            let op = CommitOp::ALL.into_iter().find(|o| o.as_str() == op.get_ref()).ok_or_else(|| {
                self.err(op, key("when.op"), format!("unknown op {:?} (known: {})", op.get_ref(), op_names()))
            })?;
            return Ok(CrashPoint::AfterCommit(op));
        }
        if let Some(op) = &w.op {
            return Err(self.err(
                op,
                key("when.op"),
                format!("op names the write of an after-commit point; {name:?} takes none"),
            ));
        }
        CrashPoint::ALL.into_iter().find(|p| p.as_str() == name).ok_or_else(|| {
            self.err(
                &w.point,
                key("when.point"),
                format!("unknown crash point {name:?} (known: {})", point_names()),
            )
        })
    }
}
