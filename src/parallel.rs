//! Running independent submissions on several threads while every output stays what a
//! serial run gives: [`ordered`] hands the items out in input order and gives the results
//! back in input order, and [`Turns`] makes the one step whose result depends on order (a
//! name taken by whoever comes first) happen in input order among the items it concerns.
//!
//! Threads, not processes: the untrusted parsing already runs in `read::isolate`'s child
//! processes; what runs here is our own validation, workbook and change set.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, mpsc};

/// How many submissions run at once when nothing says otherwise: two per core.
///
/// Part of each submission's time is waiting, not computing: for its reader worker (a
/// separate process, one per core, so the parsing itself stays bounded by the cores) and
/// for the disk (each output's fsync). With one thread per core a core idles through every
/// such wait; with two, the other submission computes meanwhile. On 1,000 forms on a 2-core
/// machine this cut the wall time by a third for the same CPU time (docs/benchmarks.md).
pub fn default_jobs() -> usize {
    2 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How many submissions `process` runs at once when `--jobs` is not given: four per core.
///
/// Each `process` submission also waits on the disk: six fsyncs when this was measured
/// (its two outputs, its folder, the outbox file and folder), two `syncfs` since
/// (`[output] flush`, `fsx`). With six, at two per core (`default_jobs`) the two cores
/// were busy only 1.1 x the wall time of 1,000 forms on this machine's disk (1.5 x on
/// /dev/shm), and four per core took 12 to 42 % off the wall time for the same CPU time
/// (docs/benchmarks.md, branch `forms`, round 5; the merged round's figures there too). A thread holds one submission, so memory
/// grows with the jobs only when several large worksheets are in one run. The watcher
/// keeps `default_jobs`: its intake workers each hold database connections and write the
/// ledger, and four per core was measured for it on two runs only.
pub fn process_jobs() -> usize {
    2 * default_jobs()
}

/// Runs `work` on every item, on up to `jobs` threads, and calls `done` on the calling
/// thread with each result in input order, as soon as it and all before it are done.
/// `init` makes what each thread keeps for itself (a database connection), once per thread.
///
/// Items are taken in input order, so item `i` starts only after every item before it has
/// started: a step that waits for earlier items ([`Turns`]) never waits for one that no
/// thread has taken. With `jobs` at 1 (or one item) everything runs on the calling thread.
pub fn ordered<T, R, S>(
    items: Vec<T>,
    jobs: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize, T) -> R + Sync,
    mut done: impl FnMut(R),
) where
    T: Send,
    R: Send,
{
    let jobs = jobs.clamp(1, items.len().max(1));
    if jobs == 1 {
        let mut own = init();
        items
            .into_iter()
            .enumerate()
            .for_each(|(i, item)| done(work(&mut own, i, item)));
        return;
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    let (tx, rx) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (queue, init, work) = (&queue, &init, &work);
            scope.spawn(move || {
                let mut own = init();
                loop {
                    // The lock is held only to take the next item, never while working.
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some((i, item)) = next else { break };
                    if tx.send((i, work(&mut own, i, item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Results arrive as they are done; each waits here until those before it came.
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        for (i, result) in rx {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&next) {
                done(result);
                next += 1;
            }
        }
    });
}

/// Keeps one step in input order among items that share a key: item `i`'s step with key
/// `k` runs only after the same step of every earlier item with key `k`.
///
/// Each item [`declares`](Turns::declare) its key as soon as it knows it (or that it has
/// none), and marks its step [`done`](Turns::done) after it (or when it has no such step);
/// [`Turns::wait`] blocks until every earlier item has declared and every earlier one with
/// the same key is done. Because items are taken in input order ([`ordered`]) and declaring
/// never waits, the earliest waiting item never waits for anything: no deadlock.
pub struct Turns<K> {
    state: Mutex<TurnState<K>>,
    changed: Condvar,
}

struct TurnState<K> {
    /// Each item's key once declared: `Some(None)` for an item with no step.
    keys: Vec<Option<Option<K>>>,
    done: Vec<bool>,
}

impl<K: PartialEq> Turns<K> {
    /// Turns for `n` items.
    pub fn new(n: usize) -> Self {
        Turns {
            state: Mutex::new(TurnState {
                keys: (0..n).map(|_| None).collect(),
                done: vec![false; n],
            }),
            changed: Condvar::new(),
        }
    }

    /// One more item, after every one so far; returns its index.
    pub fn add(&self) -> usize {
        let mut state = self.lock();
        state.keys.push(None);
        state.done.push(false);
        state.keys.len() - 1
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TurnState<K>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Item `i`'s key (`None`: it has no ordered step).
    pub fn declare(&self, i: usize, key: Option<K>) {
        let mut state = self.lock();
        state.keys[i] = Some(key);
        drop(state);
        self.changed.notify_all();
    }

    /// Blocks until item `i` may run its step with `key`.
    pub fn wait(&self, i: usize, key: &K) {
        let mut state = self.lock();
        while !Self::clear(&state, i, key) {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn clear(state: &TurnState<K>, i: usize, key: &K) -> bool {
        (0..i).all(|j| match &state.keys[j] {
            None => false,
            Some(Some(k)) if k == key => state.done[j],
            Some(_) => true,
        })
    }

    /// Item `i`'s step is over (or it will not run one): those after it may go. Declares
    /// the item too, if it never did.
    pub fn done(&self, i: usize) {
        let mut state = self.lock();
        if state.keys[i].is_none() {
            state.keys[i] = Some(None);
        }
        state.done[i] = true;
        drop(state);
        self.changed.notify_all();
    }
}

/// Marks an item's step done when dropped, so that an item that fails (or panics) on the
/// way never leaves the ones after it waiting.
pub struct TurnGuard<'t, K: PartialEq> {
    turns: &'t Turns<K>,
    index: usize,
}

impl<'t, K: PartialEq> TurnGuard<'t, K> {
    /// A guard for item `index`.
    pub fn new(turns: &'t Turns<K>, index: usize) -> Self {
        TurnGuard { turns, index }
    }
}

impl<K: PartialEq> Drop for TurnGuard<'_, K> {
    fn drop(&mut self) {
        self.turns.done(self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn results_come_back_in_input_order_whatever_order_they_finish_in() {
        // Early items take longest, so on several threads they finish last.
        let items: Vec<u64> = (0..12).collect();
        let mut seen = Vec::new();
        ordered(
            items,
            4,
            || (),
            |_, i, n| {
                std::thread::sleep(Duration::from_millis(30 - 2 * n));
                (i, n * 10)
            },
            |r| seen.push(r),
        );
        let expected: Vec<(usize, u64)> = (0..12).map(|n| (n as usize, n * 10)).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn items_that_share_a_key_take_their_turn_in_input_order() {
        // Items 0, 2 and 4 share a key; item 0 is slowest to reach its step. Serially the
        // order of their steps is 0, 2, 4, and so it must be on four threads.
        let keys = ["a", "b", "a", "c", "a", "d"];
        let turns = Turns::new(keys.len());
        let order = Mutex::new(Vec::new());
        ordered(
            keys.to_vec(),
            4,
            || (),
            |_, i, key| {
                let _guard = TurnGuard::new(&turns, i);
                turns.declare(i, Some(key));
                std::thread::sleep(Duration::from_millis(if i == 0 { 80 } else { 5 }));
                turns.wait(i, &key);
                order.lock().unwrap().push(i);
            },
            |()| {},
        );
        let order = order.into_inner().unwrap();
        let same_key: Vec<usize> = order.into_iter().filter(|i| i % 2 == 0 && *i < 5).collect();
        assert_eq!(same_key, vec![0, 2, 4]);
    }

    #[test]
    fn an_item_that_fails_before_its_step_does_not_hold_up_the_others() {
        let turns = Turns::new(3);
        let reached = Mutex::new(Vec::new());
        ordered(
            vec![0, 1, 2],
            3,
            || (),
            |_, i, _| {
                let _guard = TurnGuard::new(&turns, i);
                if i == 0 {
                    return; // fails before it knows its key: the guard says so
                }
                turns.declare(i, Some("same"));
                turns.wait(i, &"same");
                reached.lock().unwrap().push(i);
            },
            |()| {},
        );
        assert_eq!(reached.into_inner().unwrap().len(), 2);
    }
}
