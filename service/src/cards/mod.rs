//! Prepaid value a member holds: stored-value cards (储值), count cards (次卡/疗程卡) and the count-card products on
//! the menu.

pub mod card_products;
pub mod count_cards;
pub mod recharge_plans;
pub mod stored_value;
