//! Staff roles and the one permission table of the system.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Manager,
    Marketing,
    Cashier,
    Technician,
}

/// What a request may do. Handlers ask for one; [`Role::permissions`] is the only place that grants them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Change the merchant itself and create stores.
    MerchantManage,
    StoreManage,
    StaffRead,
    /// Create staff, change roles, stores, passwords; deactivate.
    StaffManage,
    AuditRead,
    MemberRead,
    /// Create members, change their profile, tags, notes and allergy notes.
    MemberWrite,
    /// See phone numbers and real names unmasked.
    MemberContactRead,
    /// Set a member's level by hand, with a reason (audited).
    MemberLevelSet,
    /// Export a member's data and anonymise a member on their request.
    MemberPrivacy,
    CatalogManage,
    /// Settle bills, recharge stored value, freeze a card reported lost.
    Checkout,
    /// Recharge plans, transfers between members, card refunds (退卡), unfreezing.
    StoredValueManage,
    /// Refund settled bills by line and reverse them (反结账); count-card extension, transfer and refund; manual
    /// points adjustments.
    Refund,
    /// Levels, points rules, commission rules and the merchant's loyalty settings.
    LoyaltyManage,
    /// Every staff member's commission statement (everyone may read their own).
    CommissionRead,
    /// Receive and count product stock.
    StockManage,
    /// Opening hours, closed days, shifts and their exceptions, skills, rooms and beds, booking settings.
    ScheduleManage,
    /// Book, confirm, reschedule and cancel for members, check them in, mark no-shows.
    BookingManage,
    /// The day board: every booking of the store (technicians work from it).
    BookingRead,
    /// Print a receipt, slip or ticket again (each reprint is marked, opens no drawer, and is audited).
    Reprint,
    /// Coupon templates and grants (merchant-wide staff only).
    CouponManage,
}

/// The owner's word on one staff member's reprints, over what their role says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReprintGrant {
    /// As the role says (cashiers, managers and owners reprint).
    Role,
    /// Given to this member although their role lacks it.
    Given,
    /// Withdrawn from this member although their role has it.
    Withdrawn,
}

impl ReprintGrant {
    /// How the grant is stored: `staff.may_reprint`.
    pub fn stored(self) -> Option<bool> {
        match self {
            ReprintGrant::Role => None,
            ReprintGrant::Given => Some(true),
            ReprintGrant::Withdrawn => Some(false),
        }
    }

    pub fn from_stored(may_reprint: Option<bool>) -> Self {
        match may_reprint {
            None => ReprintGrant::Role,
            Some(true) => ReprintGrant::Given,
            Some(false) => ReprintGrant::Withdrawn,
        }
    }
}

impl Permission {
    /// The name clients see (snake_case, as serialized).
    pub fn as_str(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Owner, Role::Manager, Role::Marketing, Role::Cashier, Role::Technician];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Marketing => "marketing",
            Role::Cashier => "cashier",
            Role::Technician => "technician",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == value)
    }

    /// The permission table. Marketing and technicians work with members but don't need their contact details:
    /// they see phone numbers masked. Allergy notes are readable by everyone who reads members, on purpose: the
    /// technician at the chair is the one who must see them.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner => &[
                MerchantManage,
                StoreManage,
                StaffRead,
                StaffManage,
                AuditRead,
                MemberRead,
                MemberWrite,
                MemberContactRead,
                MemberLevelSet,
                MemberPrivacy,
                CatalogManage,
                Checkout,
                StoredValueManage,
                Refund,
                LoyaltyManage,
                CommissionRead,
                StockManage,
                ScheduleManage,
                BookingManage,
                BookingRead,
                Reprint,
                CouponManage,
            ],
            Role::Manager => &[
                StoreManage,
                StaffRead,
                StaffManage,
                AuditRead,
                MemberRead,
                MemberWrite,
                MemberContactRead,
                MemberLevelSet,
                MemberPrivacy,
                CatalogManage,
                Checkout,
                StoredValueManage,
                Refund,
                CommissionRead,
                StockManage,
                ScheduleManage,
                BookingManage,
                BookingRead,
                Reprint,
                CouponManage,
            ],
            Role::Marketing => &[MemberRead, BookingRead, CouponManage],
            Role::Cashier => &[
                MemberRead,
                MemberWrite,
                MemberContactRead,
                Checkout,
                StockManage,
                BookingManage,
                BookingRead,
                Reprint,
            ],
            Role::Technician => &[MemberRead, BookingRead],
        }
    }

    pub fn can(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }

    /// Staff may only grant or manage roles strictly below their own; owners manage everyone, other owners
    /// included.
    pub fn may_manage(self, other: Role) -> bool {
        self == Role::Owner || (self.can(Permission::StaffManage) && other > self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn managers_cannot_manage_owners_or_each_other() {
        assert!(Role::Owner.may_manage(Role::Owner));
        assert!(Role::Manager.may_manage(Role::Cashier));
        assert!(!Role::Manager.may_manage(Role::Manager));
        assert!(!Role::Manager.may_manage(Role::Owner));
        assert!(!Role::Cashier.may_manage(Role::Technician));
    }

    #[test]
    fn only_contact_roles_see_phones() {
        assert!(Role::Cashier.can(Permission::MemberContactRead));
        assert!(!Role::Technician.can(Permission::MemberContactRead));
        assert!(!Role::Marketing.can(Permission::MemberContactRead));
    }
}
