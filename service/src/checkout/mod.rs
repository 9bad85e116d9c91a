//! Checkout (开单/结账): bills priced and settled ([`bills`]), the pure pricing steps ([`pricing`]), the reference data
//! every bill is checked against ([`reference`]), and refunds and reversal (反结账) of settled bills ([`refunds`]).

pub mod bills;
pub mod pricing;
pub mod ratings;
pub mod reference;
pub mod refunds;
