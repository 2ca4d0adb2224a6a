//! Reading the history for a witness: the cause of an event, the claims on its plan
//! (who lost to whom), its sends and their answers, and the crashes and faults that
//! involve the replicas that caused, claimed or sent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::lookup::Lookup;
use super::order::resolved_writes;
use super::owed::OwedEvent;
use super::sends::{Sends, webhook_id};
use super::{Request, Witness};
use crate::history::{Entry, Event, Seq};
use crate::model::{EventType, PlanId};
use crate::store::Claim;

/// Most send items a story names; the rest are counted.
const MAX_SENDS: usize = 4;
/// Most lost claims a story names; the rest are counted.
const MAX_LOST_CLAIMS: usize = 2;
/// Most crashes and faults a story names.
const MAX_FAULTS: usize = 4;

/// Tells the stories of one run.
pub(super) struct Story<'a> {
    /// The history and the receiver's log, grouped by what each entry concerns.
    pub(super) lookup: Lookup<'a>,
    /// The history by sequence number.
    by_seq: BTreeMap<Seq, &'a Entry>,
    /// The entries of writes whose answer never came and that committed all the same,
    /// logged after the run: each with the `StoreResolved` entry that found it.
    resolved: BTreeMap<Seq, Seq>,
    /// Writes answered as committed that a failover lost: by the replica that invoked
    /// each and its `invoked`, the `CommitLost` entry that found it gone.
    lost: BTreeMap<(String, Seq), Seq>,
    /// Every request the receiver got.
    pub(super) requests: &'a [Request],
    /// The scenario's deadline.
    pub(super) deadline: Duration,
}

/// Items of a story, by the entry that shows each, and trailing remarks.
#[derive(Default)]
pub(super) struct Lines {
    /// What reads first (an ambiguity, why a request is unexpected).
    pub(super) lead: Option<String>,
    /// One line per entry, told in sequence order.
    pub(super) items: BTreeMap<Seq, String>,
    /// Entries that show the story without a line of their own.
    pub(super) silent: BTreeSet<Seq>,
    /// What reads last (what is missing, notes).
    pub(super) trailers: Vec<String>,
}

impl Lines {
    /// Tells `text` for entry `seq`, unless that entry is told already.
    pub(super) fn add(&mut self, seq: Seq, text: String) {
        self.items.entry(seq).or_insert(text);
    }

    /// The witness: `head: lead; items...; trailers...` and every entry named.
    pub(super) fn witness(self, head: String) -> Witness {
        let mut parts: Vec<String> = self.lead.into_iter().chain(self.items.values().cloned()).collect();
        parts.extend(self.trailers);
        let mut entries = self.silent;
        entries.extend(self.items.into_keys());
        Witness { summary: format!("{head}: {}", parts.join("; ")), entries: entries.into_iter().collect() }
    }
}

/// The replica that appended `entry`.
pub(super) fn who(entry: &Entry) -> String {
    entry.by.as_ref().map_or("?".to_owned(), |r| r.to_string())
}

/// Whether a fault description concerns one of `involved`, or names no replica at all
/// (an endpoint or network fault touches everyone).
pub(super) fn concerns(description: &str, involved: &BTreeSet<String>) -> bool {
    let replicas: Vec<&str> = description
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() > 1 && w.starts_with('r') && w[1..].bytes().all(|b| b.is_ascii_digit()))
        .collect();
    replicas.is_empty() || replicas.iter().any(|r| involved.contains(*r))
}

impl<'a> Story<'a> {
    /// A storyteller for `history` and the receiver's `requests`.
    pub(super) fn new(history: &'a [Entry], requests: &'a [Request], deadline: Duration) -> Self {
        Story {
            lookup: Lookup::new(history, requests),
            by_seq: history.iter().map(|e| (e.seq, e)).collect(),
            resolved: resolved_writes(history),
            lost: history
                .iter()
                .filter_map(|e| match e.event {
                    Event::CommitLost { invoked, .. } => Some(((who(e), invoked), e.seq)),
                    _ => None,
                })
                .collect(),
            requests,
            deadline,
        }
    }

    /// Where `entry` belongs in the story: its own place, or for a write resolved
    /// after the run, where it was invoked (it committed somewhere after that).
    pub(super) fn place(&self, entry: &Entry) -> Seq {
        match self.resolved.get(&entry.seq) {
            Some(_) => entry.event.invoked().unwrap_or(entry.seq),
            None => entry.seq,
        }
    }

    /// For a write resolved after the run: `, invoked at #X, committed though its
    /// answer never came (resolved at #Z)`; for a write a failover lost after it was
    /// answered: ` (then lost in a failover: #Z)`; empty otherwise.
    fn resolution(&self, entry: &Entry) -> String {
        let lost = entry.event.invoked().and_then(|invoked| self.lost.get(&(who(entry), invoked)));
        if let Some(found) = lost {
            return format!(" (then lost in a failover: gone from the new primary, #{found})");
        }
        match (self.resolved.get(&entry.seq), entry.event.invoked()) {
            (Some(found), Some(invoked)) => {
                format!(
                    " (invoked at #{invoked}; it committed though its answer never came, resolved at #{found})"
                )
            }
            _ => String::new(),
        }
    }

    /// Entry `seq`, if the history has it.
    pub(super) fn entry(&self, seq: Seq) -> Option<&'a Entry> {
        self.by_seq.get(&seq).copied()
    }

    /// Names the event's first cause; its replica (and, for the cleaner, the holder) is involved.
    pub(super) fn cause(&self, o: &OwedEvent, lines: &mut Lines, involved: &mut BTreeSet<String>) {
        let Some(first) = o.causes.first().and_then(|s| self.entry(*s)) else { return };
        let more = o.causes.len() - 1;
        let more = if more > 0 { format!(" (+{more} more)") } else { String::new() };
        let complete = if o.event == EventType::PipelineCompleted { ": plan complete" } else { "" };
        involved.insert(who(first));
        let text = match &first.event {
            Event::RunEnded { run, status, by_cleaner: true, .. } => {
                let holder = self.lookup.holders.get(run).map(|e| who(e));
                let held = holder.as_ref().map(|h| format!(", held by {h}")).unwrap_or_default();
                // The holder's crash is why the cleaner stepped in.
                let crash = holder.as_deref().and_then(|h| self.last_crash(h, first.seq));
                if let Some(Entry { seq, event: Event::Crashed { point, .. }, .. }) = crash {
                    let point = point.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
                    lines.add(*seq, format!("{} crashed at #{seq}{point}", holder.as_deref().unwrap_or("?")));
                }
                involved.extend(holder);
                format!(
                    "run {run} {status} at #{} (cleaner on {}{held}){more}{complete}",
                    first.seq,
                    who(first)
                )
            }
            Event::RunEnded { run, status, overwrote, .. } => {
                let resolution = self.resolution(first);
                // An unfenced write that ended the run again says what it replaced.
                let over = overwrote.map(|o| format!(" over {o}")).unwrap_or_default();
                format!(
                    "run {run} {status}{over} at #{} ({}){resolution}{more}{complete}",
                    first.seq,
                    who(first)
                )
            }
            Event::TasksSkipped { tasks, .. } => {
                let list: Vec<String> = tasks.iter().map(|t| t.to_string()).collect();
                format!("task(s) {} skipped at #{}{complete}", list.join(", "), first.seq)
            }
            _ => format!("#{} ({}){complete}", first.seq, who(first)),
        };
        lines.add(first.seq, text);
        // A failure that a later unfenced status write ended again: the run did not
        // stay failed, though the failure committed.
        if o.event == EventType::PipelineFailed
            && let Event::RunEnded { run: failed, .. } = &first.event
        {
            let overwrites = self.lookup.overwrites.get(failed).map_or(&[][..], Vec::as_slice);
            for later in overwrites.iter().filter(|e| e.seq != first.seq) {
                if let Event::RunEnded { run, status, overwrote: Some(over), .. } = &later.event {
                    involved.insert(who(later));
                    let text = format!("run {run} {status} over {over} at #{} ({})", later.seq, who(later));
                    lines.add(self.place(later), text);
                }
            }
        }
    }

    /// The last crash of `replica` before `seq`.
    pub(super) fn last_crash(&self, replica: &str, seq: Seq) -> Option<&'a Entry> {
        self.lookup.crashes_before(replica, seq).last().copied()
    }

    /// Claims (and resets) on the plan for the event's type in `(from, to)`.
    pub(super) fn claims(
        &self,
        o: &OwedEvent,
        from: Seq,
        to: Seq,
        won_only: bool,
        lines: &mut Lines,
        involved: &mut BTreeSet<String>,
    ) {
        let window = self.lookup.of_plan(o.plan).iter().filter(|e| (from + 1..to).contains(&self.place(e)));
        let mut lost = 0;
        for e in window {
            match &e.event {
                Event::ClaimAttempted { event, claim, .. } if *event == o.event => {
                    involved.insert(who(e));
                    match claim {
                        Claim::Won => {
                            let resolution = self.resolution(e);
                            lines.add(e.seq, format!("{} won the claim at #{}{resolution}", who(e), e.seq))
                        }
                        Claim::Lost if !won_only && lost < MAX_LOST_CLAIMS => {
                            lost += 1;
                            let to = self.holder(o.plan, e.seq);
                            lines.add(e.seq, format!("{} lost the claim at #{} to {to}", who(e), e.seq));
                        }
                        Claim::Lost => lost += 1,
                    }
                }
                Event::ClaimReset { deleted, .. } => {
                    let held = deleted.map_or("nothing".to_owned(), |d| d.to_string());
                    lines.add(e.seq, format!("{} reset the claim at #{} (held {held})", who(e), e.seq));
                }
                _ => {}
            }
        }
        if !won_only && lost > MAX_LOST_CLAIMS {
            lines.trailers.push(format!("{} more lost claims", lost - MAX_LOST_CLAIMS));
        }
    }

    /// Says that no claim for the event was attempted in `(from, to)`, and what the
    /// plan's last completion check there saw (or that none ran).
    pub(super) fn no_claim(&self, o: &OwedEvent, from: Seq, to: Seq, lines: &mut Lines) {
        let window = || {
            self.lookup.of_plan(o.plan).iter().copied().filter(|e| (from + 1..to).contains(&self.place(e)))
        };
        let tried =
            window().any(|e| matches!(&e.event, Event::ClaimAttempted { event, .. } if *event == o.event));
        if tried {
            return;
        }
        lines.trailers.push(format!("no {} claim was attempted", o.event));
        let check = window().rfind(|e| matches!(&e.event, Event::CompletionChecked { .. }));
        match check {
            Some(e @ Entry { event: Event::CompletionChecked { complete, failed, .. }, .. }) => lines.add(
                e.seq,
                format!(
                    "last completion check at #{} ({}) saw complete={complete} failed={failed}",
                    e.seq,
                    who(e)
                ),
            ),
            _ => lines.trailers.push("no completion check ran".into()),
        }
    }

    /// Who held the plan's claim row when a claim at `seq` lost.
    pub(super) fn holder(&self, plan: PlanId, seq: Seq) -> String {
        let before = self.lookup.of_plan(plan).iter().filter(|e| self.place(e) < seq).rev();
        for e in before {
            match &e.event {
                Event::ClaimAttempted { event, claim: Claim::Won, .. } => {
                    return format!("{}'s {event} claim at #{}", who(e), e.seq);
                }
                Event::ClaimReset { .. } => break,
                _ => {}
            }
        }
        "a claim the history does not show".into()
    }

    /// Sends with their answers, and abandonments, capped at [`MAX_SENDS`] attempts.
    pub(super) fn sends(&self, started: &[&Entry], sends: &Sends<'_>, lines: &mut Lines) {
        for (i, e) in started.iter().enumerate() {
            if i >= MAX_SENDS - 1 && i + 1 < started.len() {
                continue;
            }
            let Event::SendStarted { webhook_id: id, attempt, .. } = &e.event else { continue };
            let verb = if *attempt > 1 { "re-sent" } else { "sent" };
            let answer = match sends.answer(e) {
                Some(f @ Entry { event: Event::SendFinished { outcome, .. }, .. }) => {
                    lines.silent.insert(f.seq);
                    format!("{outcome} at #{}", f.seq)
                }
                _ => "no answer logged".to_owned(),
            };
            lines.add(e.seq, format!("{} {verb} {id} at #{} ({answer})", who(e), e.seq));
        }
        if started.len() > MAX_SENDS {
            lines.trailers.push(format!("{} attempts in all", started.len()));
        }
        let ids: BTreeSet<&str> = started.iter().filter_map(|e| webhook_id(e)).collect();
        for id in ids {
            for e in sends.abandoned(id) {
                if let Event::SendAbandoned { attempts, reason, .. } = &e.event {
                    let text =
                        format!("{} gave up on {id} at #{} after {attempts} tries ({reason})", who(e), e.seq);
                    lines.add(e.seq, text);
                }
            }
        }
    }

    /// Crashes, store failures and faults after `from` involving `involved`.
    pub(super) fn faults(&self, from: Seq, involved: &BTreeSet<String>, lines: &mut Lines) {
        let ended: BTreeSet<usize> =
            self.lookup.fault_ends.iter().filter(|(seq, _)| *seq <= from).map(|(_, fault)| *fault).collect();
        // The first few troubles of each involved replica after `from`, and every fault
        // start: the story tells the first of them in log order. (So a crash or store
        // failure here is always an involved replica's, after `from`.)
        let mut candidates: BTreeMap<Seq, &Entry> = BTreeMap::new();
        for replica in involved {
            candidates
                .extend(self.lookup.troubles_after(replica, from, MAX_FAULTS).iter().map(|e| (e.seq, *e)));
        }
        candidates.extend(self.lookup.fault_starts.iter().map(|e| (e.seq, *e)));
        let mut shown = 0;
        for e in candidates.into_values() {
            if shown >= MAX_FAULTS {
                break;
            }
            let text = match &e.event {
                Event::Crashed { replica, point } => {
                    let point = point.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
                    format!("{replica} crashed at #{}{point}", e.seq)
                }
                Event::StoreFailed { op, error, .. } => {
                    format!("{}'s {op} failed at #{} ({error})", who(e), e.seq)
                }
                Event::StoreDropped { op, .. } => {
                    format!("{}'s {op} was cut off in flight at #{}", who(e), e.seq)
                }
                // A fault that had ended by `from` started before it: one that starts
                // later is told whether or not it has ended since.
                Event::FaultStarted { fault, description }
                    if !ended.contains(fault) && concerns(description, involved) =>
                {
                    format!("fault {fault} from #{}: {description}", e.seq)
                }
                _ => continue,
            };
            lines.add(e.seq, text);
            shown += 1;
        }
    }

    /// An accepted request (of any event) after the last of `started`.
    pub(super) fn accepted_after(&self, started: &[&Entry]) -> Option<&'a Request> {
        let last = started.iter().map(|e| e.at).max()?;
        self.lookup.first_accepted_after(last).map(|i| &self.requests[i])
    }

    /// The last claim the sender of `send` won on its plan before it.
    pub(super) fn claim_before(&self, send: &Entry) -> Option<&'a Entry> {
        let Event::SendStarted { plan, .. } = &send.event else { return None };
        self.lookup
            .of_plan(*plan)
            .iter()
            .copied()
            .filter(|e| e.seq < send.seq && e.by == send.by)
            .rfind(|e| matches!(&e.event, Event::ClaimAttempted { claim: Claim::Won, .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_concerns_the_replicas_it_names_or_everyone_when_it_names_none() {
        let involved = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        assert!(concerns("r2 crashes (after-claim)", &involved(&["r1", "r2"])));
        assert!(!concerns("r2 crashes (after-claim)", &involved(&["r1"])));
        assert!(concerns("partition r1,r3 from the database", &involved(&["r3"])));
        // An endpoint fault names no replica; a lone `r` or a word like `r2x` is no name.
        assert!(concerns("the endpoint answers 503 to r", &involved(&["r1"])));
        assert!(concerns("endpoint hangs for r2x", &involved(&["r1"])));
    }
}
