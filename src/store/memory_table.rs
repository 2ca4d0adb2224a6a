//! A table of the memory backend whose primary key is a sequence (`BIGSERIAL`): ids
//! are handed out 1, 2, 3, ... and rows are never deleted, so row `n` lives at
//! position `n - 1` and a lookup by id is an array access rather than a tree search.

use std::ops::Index;

use crate::model::{PlanId, RunId, TaskId};

/// An id handed out by a sequence.
pub(super) trait SeqId: Copy {
    /// The id with sequence value `n`.
    fn from_seq(n: i64) -> Self;
    /// Its sequence value.
    fn seq(self) -> i64;
}

macro_rules! seq_id {
    ($($id:ident),*) => {$(
        impl SeqId for $id {
            fn from_seq(n: i64) -> Self {
                $id(n)
            }
            fn seq(self) -> i64 {
                self.0
            }
        }
    )*};
}

seq_id!(PlanId, TaskId, RunId);

/// Rows keyed by a sequence id, in id order.
#[derive(Debug, Clone)]
pub(super) struct Table<K, R> {
    rows: Vec<R>,
    key: std::marker::PhantomData<K>,
}

impl<K, R> Default for Table<K, R> {
    fn default() -> Self {
        Table { rows: Vec::new(), key: std::marker::PhantomData }
    }
}

impl<K: SeqId, R> Table<K, R> {
    /// Where row `id` lives, if it exists.
    fn position(&self, id: K) -> Option<usize> {
        let n = usize::try_from(id.seq()).ok()?;
        (1..=self.rows.len()).contains(&n).then(|| n - 1)
    }

    /// Inserts `row` under the sequence's next value and returns it.
    pub(super) fn insert_next(&mut self, row: R) -> K {
        self.rows.push(row);
        K::from_seq(self.rows.len() as i64)
    }

    /// Row `id`, if it exists.
    pub(super) fn get(&self, id: &K) -> Option<&R> {
        self.position(*id).map(|i| &self.rows[i])
    }

    /// Row `id` to change, if it exists.
    pub(super) fn get_mut(&mut self, id: &K) -> Option<&mut R> {
        self.position(*id).map(|i| &mut self.rows[i])
    }

    /// Every row with its id, in id order.
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = (K, &R)> {
        self.rows.iter().enumerate().map(|(i, row)| (K::from_seq(i as i64 + 1), row))
    }
}

impl<K: SeqId, R> Index<&K> for Table<K, R> {
    type Output = R;

    /// Row `id`; it must exist.
    fn index(&self, id: &K) -> &R {
        self.get(id).expect("a row that exists")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_count_from_one_and_only_handed_out_ids_resolve() {
        let mut table: Table<RunId, &str> = Table::default();
        assert_eq!(table.insert_next("a"), RunId(1));
        assert_eq!(table.insert_next("b"), RunId(2));
        assert_eq!(table.get(&RunId(2)), Some(&"b"));
        for missing in [0, -1, 3, i64::MAX, i64::MIN] {
            assert_eq!(table.get(&RunId(missing)), None, "{missing}");
        }
        *table.get_mut(&RunId(1)).unwrap() = "c";
        assert_eq!(table.iter().collect::<Vec<_>>(), [(RunId(1), &"c"), (RunId(2), &"b")]);
        assert_eq!(table[&RunId(2)], "b");
    }
}
