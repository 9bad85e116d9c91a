//! Who is acting: a signed-in staff member ([`StaffPrincipal`]), what their role lets them do and which stores they
//! may touch. `auth` makes one from a session; every staff use case takes one.

use crate::domain::{Permission, Role};
use crate::{Error, Result};

/// The stores a staff member may act in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreScope {
    All,
    Only(Vec<i64>),
}

/// A signed-in staff member: who they are, for which merchant, and what they may touch.
#[derive(Clone, Debug)]
pub struct StaffPrincipal {
    pub staff_id: i64,
    pub merchant_id: i64,
    pub session_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub stores: StoreScope,
    /// The owner's word on this member's reprints: None follows the role.
    pub may_reprint: Option<bool>,
}

impl StaffPrincipal {
    pub fn can(&self, permission: Permission) -> bool {
        match (permission, self.may_reprint) {
            (Permission::Reprint, Some(given)) => given,
            _ => self.role.can(permission),
        }
    }

    /// Everything this staff member may do: their role's table, with the owner's word on reprints.
    pub fn permissions(&self) -> Vec<Permission> {
        let mut all: Vec<Permission> =
            self.role.permissions().iter().copied().filter(|p| *p != Permission::Reprint).collect();
        if self.can(Permission::Reprint) {
            all.push(Permission::Reprint);
        }
        all
    }

    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.can(permission) { Ok(()) } else { Err(Error::Needs(permission)) }
    }

    pub fn can_access_store(&self, store_id: i64) -> bool {
        match &self.stores {
            StoreScope::All => true,
            StoreScope::Only(ids) => ids.contains(&store_id),
        }
    }

    /// For what every store lives with (prices and the catalog, recharge plans, levels and loyalty rules, the
    /// merchant's settings): the permission, held by someone who works for every store. A manager of one store who
    /// changed a price would change it at stores that are not theirs.
    pub fn require_merchant_wide(&self, permission: Permission) -> Result<()> {
        self.require(permission)?;
        if self.stores == StoreScope::All { Ok(()) } else { Err(Error::MerchantWide(permission)) }
    }

    /// Another store is reported as not found, exactly like another merchant's: scope never leaks existence.
    pub fn require_store(&self, store_id: i64) -> Result<()> {
        if self.can_access_store(store_id) { Ok(()) } else { Err(Error::NotFound("store")) }
    }
}
