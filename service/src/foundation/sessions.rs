//! Staff principals kept in memory between requests: a request on a session this replica has seen lately costs
//! no round trip to authenticate.
//!
//! Every replica keeps its own copies, keyed by the session token's hash. Whatever changes what a principal is made
//! of (a session ended, a staff member deactivated, their role, stores, name or reprint grant changed, a password
//! reset) calls [`forget`] after its transaction commits. That drops the copies here and publishes the change on the
//! shared state's channel; every replica, listening on it, drops theirs and acknowledges, and `forget` returns once
//! every replica that heard it has acknowledged (or after [`ACK_WAIT`]), so by the time the request that revoked
//! answers, no replica serves the old principal.
//!
//! A replica that heard the change but did not acknowledge it within [`ACK_WAIT`] (stalled, or listening on a
//! connection that died without closing) is logged, and may serve the old principal until [`MAX_AGE`].
//!
//! While a replica is not listening (Redis down, the subscription lost and not yet back) it keeps nothing and reads
//! each session from the database: a message it might miss must never leave a principal alive. A copy read from the
//! database while a change arrived is not kept (it may predate the change), and copies go after [`MAX_AGE`]
//! regardless, which bounds what a change made by hand in SQL, that no one announced, can outlive.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::AppContext;
use crate::foundation::principal::StaffPrincipal;
use crate::foundation::shared::SharedState;

/// The shared state's channel for changes to sessions and staff.
const CHANNEL: &str = "staff-sessions";

/// How long a copy is used before the database is asked again, changed or not.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// How long [`forget`] waits for every replica's acknowledgement.
const ACK_WAIT: Duration = Duration::from_secs(1);

/// Past this many copies, keeping another first drops the old ones (and all of them if that is not enough).
const CAPACITY: usize = 10_000;

/// What changed: the copies it drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// One session ended.
    Session(i64),
    /// A staff member changed: every one of their sessions.
    Staff(i64),
}

impl Change {
    fn encode(self) -> String {
        match self {
            Change::Session(id) => format!("session:{id}"),
            Change::Staff(id) => format!("staff:{id}"),
        }
    }

    fn decode(message: &str) -> Option<Self> {
        let (kind, id) = message.split_once(':')?;
        let id = id.parse().ok()?;
        match kind {
            "session" => Some(Change::Session(id)),
            "staff" => Some(Change::Staff(id)),
            _ => None,
        }
    }

    fn drops(self, principal: &StaffPrincipal) -> bool {
        match self {
            Change::Session(id) => principal.session_id == id,
            Change::Staff(id) => principal.staff_id == id,
        }
    }
}

struct Held {
    principal: StaffPrincipal,
    session_expires_at: DateTime<Utc>,
    kept_at: Instant,
}

/// This replica's copies.
#[derive(Default)]
pub struct SessionCache {
    copies: Mutex<HashMap<String, Held>>,
    /// Whether changes published by any replica reach this one: nothing is kept while they might not.
    listening: AtomicBool,
    /// Bumped by every change heard: a copy read before a change is not kept after it.
    changes: AtomicU64,
}

/// Taken before reading a session from the database, given back to [`SessionCache::keep`].
pub struct Ticket(u64);

impl SessionCache {
    fn copies(&self) -> MutexGuard<'_, HashMap<String, Held>> {
        self.copies.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The principal of the session whose token hashes to `token_hash`, if a fresh copy is held.
    pub(crate) fn get(&self, token_hash: &str, now: DateTime<Utc>) -> Option<StaffPrincipal> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let copies = self.copies();
        let copy = copies.get(token_hash)?;
        (copy.session_expires_at > now && copy.kept_at.elapsed() < MAX_AGE).then(|| copy.principal.clone())
    }

    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.changes.load(Ordering::Acquire))
    }

    /// Keeps a principal read from the database, unless a change was heard since `ticket` was taken.
    pub(crate) fn keep(
        &self,
        ticket: Ticket,
        token_hash: String,
        principal: &StaffPrincipal,
        session_expires_at: DateTime<Utc>,
    ) {
        if !self.listening.load(Ordering::Acquire) {
            return;
        }
        let mut copies = self.copies();
        // Checked under the lock that `drop_changed` bumps under: a change is either seen here or drops this copy.
        if self.changes.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if copies.len() >= CAPACITY {
            copies.retain(|_, copy| copy.kept_at.elapsed() < MAX_AGE);
            if copies.len() >= CAPACITY {
                copies.clear();
            }
        }
        copies.insert(token_hash, Held { principal: principal.clone(), session_expires_at, kept_at: Instant::now() });
    }

    fn drop_changed(&self, change: Option<Change>) {
        let mut copies = self.copies();
        self.changes.fetch_add(1, Ordering::AcqRel);
        match change {
            Some(change) => copies.retain(|_, copy| !change.drops(&copy.principal)),
            None => copies.clear(),
        }
    }

    fn set_listening(&self, listening: bool) {
        // Whichever way it turns, what is held may have missed a change.
        self.drop_changed(None);
        self.listening.store(listening, Ordering::Release);
    }

    /// Listens for changes published by any replica, for as long as the process runs: resubscribes after losing the
    /// subscription, keeping nothing in between.
    pub fn listen(self: &Arc<Self>, shared: Arc<dyn SharedState>) {
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match shared.subscribe(CHANNEL).await {
                    Ok(mut messages) => {
                        cache.set_listening(true);
                        while let Some(message) = messages.recv().await {
                            let (change, ack) = message.split_once(' ').unwrap_or((&message, ""));
                            // A message that does not parse may have named anything: drop everything.
                            cache.drop_changed(Change::decode(change));
                            if !ack.is_empty() {
                                // Acknowledged aside, so a slow answer from the shared state never holds up the
                                // next change.
                                let (shared, key) = (Arc::clone(&shared), ack_key(ack));
                                tokio::spawn(async move {
                                    if let Err(error) = shared.hit(&key, ACK_WAIT * 10).await {
                                        tracing::warn!(%error, "could not acknowledge a staff session change");
                                    }
                                });
                            }
                        }
                        cache.set_listening(false);
                        tracing::warn!("lost the subscription to staff session changes: sessions are read each time");
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot subscribe to staff session changes: sessions are read each time");
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Whether copies are kept now (changes from every replica reach this one).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}

fn ack_key(nonce: &str) -> String {
    format!("staff-sessions-ack:{nonce}")
}

/// Drops the copies `change` makes stale, here and on every other replica, and waits until each replica that heard
/// it has acknowledged. Called after the change is committed. A replica that misses the message has stopped keeping
/// copies (see the module).
pub async fn forget(ctx: &AppContext, change: Change) {
    ctx.sessions.drop_changed(Some(change));
    // The change is committed, so announcing it must not depend on the caller being polled to the end (actix drops
    // a request's future when its client hangs up): it runs as a task of its own.
    let owned = ctx.clone();
    if let Err(error) = tokio::spawn(async move { announce(&owned, change).await }).await {
        tracing::error!(%error, ?change, "announcing a staff session change failed");
    }
}

async fn announce(ctx: &AppContext, change: Change) {
    let deadline = Instant::now() + ACK_WAIT;
    let left = || deadline.saturating_duration_since(Instant::now());
    let nonce = format!("{:016x}", rand::random::<u64>());
    let message = format!("{} {nonce}", change.encode());
    let heard = match tokio::time::timeout(left(), ctx.shared.publish(CHANNEL, &message)).await {
        Ok(Ok(heard)) => heard,
        Ok(Err(error)) => {
            tracing::error!(%error, ?change, "could not publish a staff session change: other replicas drop it within a minute");
            return;
        }
        Err(_) => {
            tracing::error!(
                ?change,
                "publishing a staff session change timed out: other replicas drop it within a minute"
            );
            return;
        }
    };
    loop {
        let acknowledged = match tokio::time::timeout(left(), ctx.shared.get(&ack_key(&nonce))).await {
            Ok(Ok(count)) => count.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0),
            _ => 0,
        };
        if acknowledged >= heard {
            return;
        }
        if left().is_zero() {
            tracing::warn!(
                ?change,
                heard,
                acknowledged,
                "not every replica acknowledged a staff session change in time: one that did not may serve it for up to a minute"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::foundation::principal::StoreScope;

    fn principal(staff_id: i64, session_id: i64) -> StaffPrincipal {
        StaffPrincipal {
            staff_id,
            merchant_id: 1,
            session_id,
            username: format!("s{staff_id}"),
            display_name: String::new(),
            role: Role::Cashier,
            stores: StoreScope::All,
            may_reprint: None,
        }
    }

    fn listening() -> SessionCache {
        let cache = SessionCache::default();
        cache.set_listening(true);
        cache
    }

    #[test]
    fn changes_round_trip_and_garbage_is_none() {
        for change in [Change::Session(7), Change::Staff(-1)] {
            assert_eq!(Change::decode(&change.encode()), Some(change));
        }
        assert_eq!(Change::decode("session:x"), None);
        assert_eq!(Change::decode("merchant:1"), None);
    }

    #[test]
    fn keeps_until_a_change_drops_it() {
        let cache = listening();
        let now = Utc::now();
        let later = now + chrono::Duration::hours(1);
        cache.keep(cache.ticket(), "a".into(), &principal(1, 10), later);
        cache.keep(cache.ticket(), "b".into(), &principal(1, 11), later);
        cache.keep(cache.ticket(), "c".into(), &principal(2, 12), later);
        assert_eq!(cache.get("a", now).map(|p| p.session_id), Some(10));
        cache.drop_changed(Some(Change::Session(10)));
        assert!(cache.get("a", now).is_none());
        assert!(cache.get("b", now).is_some());
        cache.drop_changed(Some(Change::Staff(1)));
        assert!(cache.get("b", now).is_none());
        assert!(cache.get("c", now).is_some(), "another staff member's session stays");
        assert!(cache.get("c", later).is_none(), "an expired session is not served");
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = listening();
        let ticket = cache.ticket();
        cache.drop_changed(Some(Change::Staff(99)));
        cache.keep(ticket, "a".into(), &principal(1, 10), Utc::now() + chrono::Duration::hours(1));
        assert!(cache.get("a", Utc::now()).is_none());
    }

    #[test]
    fn nothing_is_kept_or_served_while_not_listening() {
        let cache = listening();
        let later = Utc::now() + chrono::Duration::hours(1);
        cache.keep(cache.ticket(), "a".into(), &principal(1, 10), later);
        cache.set_listening(false);
        assert!(cache.get("a", Utc::now()).is_none());
        cache.keep(cache.ticket(), "a".into(), &principal(1, 10), later);
        cache.set_listening(true);
        assert!(cache.get("a", Utc::now()).is_none(), "what was held when listening stopped is gone");
    }
}
