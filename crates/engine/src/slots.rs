//! Read slots: at most `n` objects read at once, and a freed slot goes to the largest read
//! waiting for one.
//!
//! A backup prepares more objects than it reads at once (the org runs their Bulk jobs
//! meanwhile). Which prepared object reads next decides how a run ends: started last, the
//! longest read would run on alone while the other slots stay empty. So waiting reads are
//! served largest estimated cost first, and among equal costs in the order they asked.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Slots for at most `n` reads at once.
#[derive(Debug)]
pub(crate) struct ReadSlots {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Slots nobody holds. Reads wait only while this is 0.
    free: usize,
    waiting: BinaryHeap<Waiter>,
    /// How many reads have waited so far (orders equal costs first come, first served).
    arrivals: u64,
}

/// A read waiting for a slot; the slot is sent to it.
#[derive(Debug)]
struct Waiter {
    cost: u64,
    arrival: u64,
    to: oneshot::Sender<Slot>,
}

impl Ord for Waiter {
    /// The larger cost first, then the earlier arrival.
    fn cmp(&self, other: &Self) -> Ordering {
        self.cost
            .cmp(&other.cost)
            .then_with(|| other.arrival.cmp(&self.arrival))
    }
}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Waiter {}

/// One held slot; dropping it frees the slot (for the largest waiting read, if any).
#[derive(Debug)]
pub(crate) struct Slot {
    /// `None` once the slot has been handed on (its drop then frees nothing).
    slots: Option<Arc<ReadSlots>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.release();
        }
    }
}

impl ReadSlots {
    /// Slots for `n` reads at once (at least one).
    pub(crate) fn new(n: usize) -> Arc<Self> {
        Arc::new(ReadSlots {
            state: Mutex::new(State {
                free: n.max(1),
                waiting: BinaryHeap::new(),
                arrivals: 0,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a read of estimated `cost`: at once when one is free, otherwise when the
    /// slots held before it are freed and no larger read is waiting. Dropping the future
    /// gives up the place (and a slot already sent to it is freed again).
    pub(crate) async fn acquire(self: &Arc<Self>, cost: u64) -> Result<Slot> {
        let handed = {
            let mut state = self.state();
            if state.free > 0 {
                state.free -= 1;
                return Ok(Slot {
                    slots: Some(self.clone()),
                });
            }
            let (to, handed) = oneshot::channel();
            state.arrivals += 1;
            let arrival = state.arrivals;
            state.waiting.push(Waiter { cost, arrival, to });
            handed
        };
        // The sender is dropped unsent only with the slots, which `self` keeps alive.
        handed
            .await
            .map_err(|_| Error::InvalidArgument("the read slots were closed".into()))
    }

    /// Hands a freed slot to the largest waiting read, or keeps it free.
    fn release(self: Arc<Self>) {
        let mut state = self.state();
        while let Some(waiter) = state.waiting.pop() {
            match waiter.to.send(Slot {
                slots: Some(self.clone()),
            }) {
                Ok(()) => return,
                // That read gave up its place: the slot, unsent, must not free itself again.
                Err(mut slot) => {
                    slot.slots = None;
                }
            }
        }
        state.free += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_largest_waiting_read() {
        let slots = ReadSlots::new(1);
        let held = slots.acquire(0).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, cost) in [
            ("small", 10),
            ("large", 1000),
            ("medium", 500),
            ("tie", 500),
        ] {
            let (slots, order) = (slots.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let slot = slots.acquire(cost).await.unwrap();
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(slot);
            }));
            // Arrive in this order.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["large", "medium", "tie", "small"],
            "largest first, then first come among equal costs"
        );
    }

    #[tokio::test]
    async fn no_more_reads_than_slots_hold_slots_at_once() {
        let slots = ReadSlots::new(3);
        let holding = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for cost in 0..20u64 {
            let (slots, holding, most) = (slots.clone(), holding.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = slots.acquire(cost % 7).await.unwrap();
                let now = holding.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                holding.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(slots.state().free, 3, "every slot came back");
    }

    #[tokio::test]
    async fn a_read_that_gives_up_waiting_does_not_take_a_slot_with_it() {
        let slots = ReadSlots::new(1);
        let held = slots.acquire(0).await.unwrap();
        // The largest waiter is cancelled before the slot frees; the next one must get it.
        let cancelled = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire(100).await.map(drop) }
        });
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire(1).await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        cancelled.abort();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting read got the slot")
            .unwrap()
            .unwrap();
        assert_eq!(slots.state().free, 1);
        assert!(slots.state().waiting.is_empty());
    }

    #[tokio::test]
    async fn a_slot_sent_to_a_read_that_is_gone_is_freed_again() {
        let slots = ReadSlots::new(1);
        let held = slots.acquire(0).await.unwrap();
        let queued = slots.clone();
        let mut waiting = Box::pin(async move { queued.acquire(5).await });
        // Poll once so the read is queued, then hand it the slot and drop it unreceived.
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        drop(held);
        drop(waiting);
        assert_eq!(slots.state().free, 1);
        let again = slots.acquire(0).await.unwrap();
        drop(again);
        assert_eq!(slots.state().free, 1);
    }
}
