//! The vocabulary of a bill: what a line sells, what a tender pays with, and where a bill stands. Each is a closed
//! set with snake_case names on the wire and in storage, so a request naming anything else fails at the edge.

use serde::{Deserialize, Serialize};

/// Names and parsing of a closed set of snake_case values.
macro_rules! names {
    ($kind:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $kind {
            pub const ALL: &'static [$kind] = &[$($kind::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($kind::$variant => $name),+
                }
            }

            pub fn parse(value: &str) -> Option<Self> {
                match value {
                    $($name => Some($kind::$variant),)+
                    _ => None,
                }
            }

            /// A value read back from storage, where nothing else is ever written: anything else is a bug, and
            /// fails loudly instead of being read as a default.
            pub fn stored(value: &str) -> crate::Result<Self> {
                Self::parse(value).ok_or_else(|| {
                    crate::Error::Internal(anyhow::anyhow!("{} {value:?} in storage", stringify!($kind)))
                })
            }
        }

        impl std::fmt::Display for $kind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use names;

/// What a bill line sells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A service on the menu (by a count card's sessions, or paid).
    #[default]
    Service,
    /// A retail product.
    Product,
    /// A count card (次卡) sold.
    CardSale,
    /// Stored value (储值) bought, by a plan or an amount.
    Recharge,
    /// A product given for points (积分兑换).
    Gift,
}

names!(LineKind { Service => "service", Product => "product", CardSale => "card_sale", Recharge => "recharge", Gift => "gift" });

impl LineKind {
    /// Services and products are consumption; card sales and recharges sell prepaid value; gifts cost points.
    pub fn is_consumption(self) -> bool {
        matches!(self, LineKind::Service | LineKind::Product)
    }
}

/// What a tender pays with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenderKind {
    /// The member's stored-value card (储值).
    StoredValue,
    Cash,
    BankCard,
    /// Taken only through a payment (a payment code at the counter): never named by the cashier directly.
    WechatPay,
    Alipay,
}

names!(TenderKind {
    StoredValue => "stored_value",
    Cash => "cash",
    BankCard => "bank_card",
    WechatPay => "wechat_pay",
    Alipay => "alipay",
});

impl TenderKind {
    /// WeChat Pay and Alipay: money that came through a provider and goes back through it.
    pub fn is_external(self) -> bool {
        matches!(self, TenderKind::WechatPay | TenderKind::Alipay)
    }
}

/// Where a bill stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillStatus {
    /// Kept to resume (挂单); nothing has moved.
    Parked,
    /// Held while the customer's payment code is charged.
    Paying,
    Settled,
    /// Given up while parked; nothing had moved.
    Voided,
    /// Settled, then reversed (反结账).
    Reversed,
}

names!(BillStatus {
    Parked => "parked",
    Paying => "paying",
    Settled => "settled",
    Voided => "voided",
    Reversed => "reversed",
});
