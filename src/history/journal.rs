//! The journal of a run's store writes, in Jepsen's terms: a write is invoked, then
//! answered (ok, or failed), or its answer never comes (its replica stopped with it
//! in flight). A write that failed or was cut off is **indeterminate**: it may have
//! committed on the server all the same. The journal keeps every indeterminate write
//! until the run is over; then [`History::resolve`] asks the store's commit log
//! (`crate::store::OpTag`) which of them committed, and logs what they changed.
//!
//! A write answered with a result is logged as it always was: its entries carry
//! `invoked`, the history's sequence number at invocation. So every write's history
//! shows when it was invoked and when it was answered, failed, cut off or resolved.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Event, History};
use crate::Result;
use crate::model::{OpId, ReplicaId, Seq};
use crate::store::Store;

/// Turns a write's result, as the commit log kept it, into the history entries of
/// what it changed.
pub type Resolver = Box<dyn Fn(&serde_json::Value) -> Result<Vec<Event>> + Send>;

/// One write that has not been answered with a result.
struct Pending {
    replica: ReplicaId,
    invoked: Seq,
    op: &'static str,
    resolve: Resolver,
}

#[derive(Default)]
struct Inner {
    next: OpId,
    /// Writes in flight.
    open: HashMap<OpId, Pending>,
    /// Writes that failed or were cut off, until the run resolves them.
    unresolved: BTreeMap<OpId, Pending>,
    /// Writes answered as committed that changed something, kept (when the journal
    /// is asked to) to find those a failover lost.
    committed: BTreeMap<OpId, Pending>,
    /// Whether to keep `committed`.
    keep_committed: bool,
    /// Store actors alive (they may still invoke writes).
    stores: usize,
}

/// The writes of a run that are in flight or indeterminate. Clones share it.
#[derive(Clone, Default)]
pub struct Journal {
    inner: Arc<Mutex<Inner>>,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("Journal")
            .field("next", &inner.next)
            .field("open", &inner.open.len())
            .field("unresolved", &inner.unresolved.len())
            .finish()
    }
}

impl Journal {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens a write invoked by `replica` when the history was at `invoked`.
    fn open(&self, replica: &ReplicaId, invoked: Seq, op: &'static str, resolve: Resolver) -> OpId {
        let mut inner = self.lock();
        let id = inner.next;
        inner.next += 1;
        inner.open.insert(id, Pending { replica: replica.clone(), invoked, op, resolve });
        id
    }

    /// Counts a store actor alive until the token is dropped.
    pub fn store_alive(&self) -> StoreAlive {
        self.lock().stores += 1;
        StoreAlive(self.clone())
    }

    /// Whether nothing can still write: no write in flight, no store actor alive.
    pub fn settled(&self) -> bool {
        let inner = self.lock();
        inner.open.is_empty() && inner.stores == 0
    }

    /// Keeps every write answered as committed from now on, so that
    /// [`History::find_lost`] can look for them after the run (a run whose database
    /// may fail over).
    pub fn keep_committed(&self) {
        self.lock().keep_committed = true;
    }

    /// How many writes are waiting for [`History::resolve`].
    pub fn unresolved(&self) -> usize {
        self.lock().unresolved.len()
    }
}

/// Held by a store actor: counted in its journal while it lives.
#[derive(Debug)]
pub struct StoreAlive(Journal);

impl Drop for StoreAlive {
    fn drop(&mut self) {
        self.0.lock().stores -= 1;
    }
}

/// One write in flight. Answer it with [`OpGuard::answered`] or [`OpGuard::failed`];
/// dropped unanswered (its store actor stopped), it logs `StoreDropped` and waits for
/// the run's resolution.
pub struct OpGuard {
    history: History,
    id: OpId,
    open: bool,
}

impl OpGuard {
    /// The write's number.
    pub fn id(&self) -> OpId {
        self.id
    }

    /// The write returned a result (the caller logs what it changed), which
    /// `changed` something.
    pub fn answered(mut self, changed: bool) {
        self.open = false;
        if let Some(journal) = &self.history.journal {
            let mut inner = journal.lock();
            let pending = inner.open.remove(&self.id);
            if let Some(pending) = pending.filter(|_| changed && inner.keep_committed) {
                inner.committed.insert(self.id, pending);
            }
        }
    }

    /// The write returned an error (the caller logs `StoreFailed`): whether it
    /// committed is resolved after the run.
    pub fn failed(mut self) {
        self.open = false;
        self.unresolve();
    }

    fn unresolve(&self) -> Option<(ReplicaId, Seq, &'static str)> {
        let journal = self.history.journal.as_ref()?;
        let mut inner = journal.lock();
        let pending = inner.open.remove(&self.id)?;
        let shown = (pending.replica.clone(), pending.invoked, pending.op);
        inner.unresolved.insert(self.id, pending);
        Some(shown)
    }
}

impl Drop for OpGuard {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        if let Some((replica, invoked, op)) = self.unresolve() {
            let event = Event::StoreDropped { op: op.to_owned(), op_id: self.id, invoked };
            self.history.record(Some(&replica), event);
        }
    }
}

impl History {
    /// The run's journal of writes (none for a history that keeps nothing).
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Opens a write `op` that `replica` invokes now (at `invoked`, taken with
    /// [`History::mark`]); `resolve` turns its result, if it turns out to have
    /// committed, into history entries. `None` for a history that keeps nothing.
    pub fn open(
        &self,
        replica: &ReplicaId,
        invoked: Seq,
        op: &'static str,
        resolve: Resolver,
    ) -> Option<OpGuard> {
        let journal = self.journal.as_ref()?;
        let id = journal.open(replica, invoked, op, resolve);
        Some(OpGuard { history: self.clone(), id, open: true })
    }

    /// Resolves every indeterminate write from `store`'s commit log: logs for each,
    /// in invocation order, `StoreResolved` and, when it committed a change, the
    /// entries of what it changed (with its `invoked`, so the checker knows it
    /// committed somewhere between its invocation and now). Call it once nothing can
    /// write any more ([`Journal::settled`]).
    pub async fn resolve(&self, store: &impl Store) -> Result<()> {
        let Some(journal) = &self.journal else { return Ok(()) };
        let pending = std::mem::take(&mut journal.lock().unresolved);
        if pending.is_empty() {
            return Ok(());
        }
        let ids: Vec<OpId> = pending.keys().copied().collect();
        let committed: HashMap<OpId, serde_json::Value> = store.committed(&ids).await?.into_iter().collect();
        for (id, p) in pending {
            let result = committed.get(&id);
            let event = Event::StoreResolved {
                op: p.op.to_owned(),
                op_id: id,
                invoked: p.invoked,
                committed: result.is_some(),
            };
            self.record(Some(&p.replica), event);
            if let Some(result) = result {
                for entry in (p.resolve)(result)? {
                    self.record(Some(&p.replica), entry);
                }
            }
        }
        Ok(())
    }

    /// Looks up every write answered as committed (kept since
    /// [`Journal::keep_committed`]) in `store`'s commit log, and logs `CommitLost`
    /// for each that is not there: the database lost it. Call it after
    /// [`History::resolve`], on the database as it stands after the failover.
    pub async fn find_lost(&self, store: &impl Store) -> Result<()> {
        let Some(journal) = &self.journal else { return Ok(()) };
        let kept = std::mem::take(&mut journal.lock().committed);
        if kept.is_empty() {
            return Ok(());
        }
        let ids: Vec<OpId> = kept.keys().copied().collect();
        let found: std::collections::HashSet<OpId> =
            store.committed(&ids).await?.into_iter().map(|(id, _)| id).collect();
        for (id, p) in kept.into_iter().filter(|(id, _)| !found.contains(id)) {
            let event = Event::CommitLost { op: p.op.to_owned(), op_id: id, invoked: p.invoked };
            self.record(Some(&p.replica), event);
        }
        Ok(())
    }
}
