//! What checkout looks up on every bill and staff change rarely: a merchant's stores, member levels, service items
//! and products, kept per process.
//!
//! A copy is good for one `merchants.config_version`. Every change to those rows bumps the version in the
//! change's own transaction ([`changed`]), and checkout reads the merchant row on every bill anyway (its settings
//! must be fresh), so a change made through any replica is seen by every replica at its next bill. No
//! invalidation messages and never a stale price: a copy is loaded after reading the version it is kept under, so it
//! is never older than that version. Copies are also reloaded after a minute, so a change that did not bump the
//! version (made by a replica still running an older release during a rolling upgrade, or by hand in SQL) is priced
//! within a minute.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use entity::{merchants, products, service_items, stores};

use crate::Result;
use crate::foundation::principal::StaffPrincipal;
use crate::loyalty::levels::LevelRule;

/// How long a copy is used before it is reloaded even at an unchanged version.
const MAX_AGE: Duration = Duration::from_secs(60);

/// Past this many merchants held, a new copy first drops the expired ones.
const EVICT_ABOVE: usize = 256;

/// One merchant's checkout reference data at one version.
#[derive(Debug)]
pub struct Reference {
    pub version: i64,
    loaded_at: Instant,
    pub stores: BTreeMap<i64, stores::Model>,
    /// Ascending rank.
    pub levels: Vec<LevelRule>,
    pub services: BTreeMap<i64, service_items::Model>,
    pub products: BTreeMap<i64, products::Model>,
    /// Whether an active gift with a purchase (满赠) template exists: without one, a settlement does not look.
    pub purchase_gifts: bool,
}

impl Reference {
    /// A store where the principal may take money now: theirs, in their scope, and open. Store ids arrive in
    /// request bodies, so a wrong one is a field error rather than a missing resource.
    pub fn require_open(&self, principal: &StaffPrincipal, store_id: i64) -> Result<&stores::Model> {
        crate::foundation::stores::open_for(principal, store_id, self.stores.get(&store_id))
    }
}

/// The copies this process holds, by merchant.
#[derive(Default)]
pub struct ReferenceCache {
    by_merchant: Mutex<HashMap<i64, Arc<Reference>>>,
}

impl ReferenceCache {
    /// The reference data of `merchant` at its current version: the copy held, or a fresh one.
    pub(crate) async fn get(&self, conn: &impl ConnectionTrait, merchant: &merchants::Model) -> Result<Arc<Reference>> {
        let fresh =
            |held: &Arc<Reference>| held.version == merchant.config_version && held.loaded_at.elapsed() < MAX_AGE;
        if let Some(held) = self.held(merchant.id).filter(fresh) {
            return Ok(held);
        }
        let loaded = Arc::new(load(conn, merchant.id, merchant.config_version).await?);
        self.keep(merchant.id, Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Keeps `loaded` as the merchant's copy unless a newer one is held (two requests may load at once, at different
    /// versions).
    fn keep(&self, merchant_id: i64, loaded: Arc<Reference>) {
        let mut map = self.by_merchant.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Copies past their age are never used again: drop them, so memory holds only the merchants that checked
        // out in the last minute, however many a replica serves.
        if map.len() >= EVICT_ABOVE {
            map.retain(|_, held| held.loaded_at.elapsed() < MAX_AGE);
        }
        let newer = |held: &Arc<Reference>| (held.version, held.loaded_at) > (loaded.version, loaded.loaded_at);
        if !map.get(&merchant_id).is_some_and(newer) {
            map.insert(merchant_id, loaded);
        }
    }

    fn held(&self, merchant_id: i64) -> Option<Arc<Reference>> {
        // A panic while holding this lock leaves only whole copies behind; keep serving.
        self.by_merchant.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&merchant_id).cloned()
    }
}

async fn load(conn: &impl ConnectionTrait, merchant_id: i64, version: i64) -> Result<Reference> {
    let stores = stores::Entity::find().filter(stores::Column::MerchantId.eq(merchant_id)).all(conn).await?;
    let levels = crate::loyalty::levels::load_rules(conn, merchant_id).await?;
    let services =
        service_items::Entity::find().filter(service_items::Column::MerchantId.eq(merchant_id)).all(conn).await?;
    let products = products::Entity::find().filter(products::Column::MerchantId.eq(merchant_id)).all(conn).await?;
    let purchase_gifts = crate::coupons::issue::offers_purchase_gifts(conn, merchant_id).await?;
    Ok(Reference {
        version,
        loaded_at: Instant::now(),
        stores: stores.into_iter().map(|row| (row.id, row)).collect(),
        levels,
        services: services.into_iter().map(|row| (row.id, row)).collect(),
        products: products.into_iter().map(|row| (row.id, row)).collect(),
        purchase_gifts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(version: i64, age: Duration) -> Arc<Reference> {
        Arc::new(Reference {
            version,
            loaded_at: Instant::now().checked_sub(age).unwrap_or_else(Instant::now),
            stores: BTreeMap::new(),
            levels: Vec::new(),
            services: BTreeMap::new(),
            products: BTreeMap::new(),
            purchase_gifts: false,
        })
    }

    #[test]
    fn the_newer_copy_is_kept() {
        let cache = ReferenceCache::default();
        cache.keep(1, copy(5, Duration::ZERO));
        cache.keep(1, copy(4, Duration::ZERO));
        assert_eq!(cache.held(1).map(|held| held.version), Some(5));
        cache.keep(1, copy(6, Duration::ZERO));
        assert_eq!(cache.held(1).map(|held| held.version), Some(6));
    }

    #[test]
    fn expired_copies_are_dropped_once_many_are_held() {
        let cache = ReferenceCache::default();
        let merchants = i64::try_from(EVICT_ABOVE).unwrap_or(256);
        for merchant in 0..merchants {
            cache.keep(merchant, copy(1, MAX_AGE * 2));
        }
        cache.keep(merchants, copy(1, Duration::ZERO));
        let held = cache.by_merchant.lock().map(|map| map.len()).unwrap_or_default();
        assert_eq!(held, 1, "only the live copy is left");
        assert!(cache.held(merchants).is_some());
    }
}
