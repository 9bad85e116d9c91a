//! Tenders: which kinds a cashier may name, and that they pay the total exactly (the member's consent to a large
//! debit is `consent`).

use super::input::TenderInput;
use super::resolve::Resolved;
use crate::checkout::pricing::Priced;
use crate::domain::{Fen, LineKind, TenderKind};
use crate::ledger::{Account, AccountKind};
use crate::{Error, Result};

/// The store account a tender's money lands in (stored value has none: it comes from the member's card).
pub(crate) fn tender_account(kind: TenderKind, store_id: i64) -> Option<Account> {
    match kind {
        TenderKind::StoredValue => None,
        TenderKind::Cash => Some(Account::store(store_id, AccountKind::Cash)),
        TenderKind::BankCard => Some(Account::store(store_id, AccountKind::BankCard)),
        TenderKind::WechatPay => Some(Account::store(store_id, AccountKind::WechatPay)),
        TenderKind::Alipay => Some(Account::store(store_id, AccountKind::Alipay)),
    }
}

pub(super) struct CheckedTender {
    pub(super) kind: TenderKind,
    pub(super) amount: Fen,
    pub(super) tendered: Fen,
}

impl CheckedTender {
    /// A tender paid exactly (no change): a wallet's share, or the member paying in the app.
    pub(super) fn exact(kind: TenderKind, amount: Fen) -> Self {
        Self { kind, amount, tendered: amount }
    }

    pub(super) fn change(&self) -> Fen {
        self.tendered - self.amount
    }
}

pub(super) fn check_tenders(inputs: &[TenderInput], member: Option<i64>) -> Result<Vec<CheckedTender>> {
    if inputs.len() > 5 {
        return Err(Error::invalid("tenders", "at most 5 tenders"));
    }
    let mut seen = Vec::new();
    let mut out = Vec::with_capacity(inputs.len());
    for tender in inputs {
        let kind = Some(tender.kind).filter(|k| !k.is_external()).ok_or_else(|| {
            Error::invalid(
                "tenders",
                "kind must be stored_value, cash or bank_card (WeChat Pay and Alipay: scan the customer's payment code)",
            )
        })?;
        if seen.contains(&kind) {
            return Err(Error::invalid("tenders", "each kind at most once"));
        }
        seen.push(kind);
        if tender.amount_fen <= Fen::ZERO || tender.amount_fen > Fen::MAX_AMOUNT {
            return Err(Error::invalid("tenders", "amount_fen must be more than 0 and at most ￥1,000,000"));
        }
        let tendered = match (kind, tender.tendered_fen) {
            (TenderKind::Cash, Some(given)) if given < tender.amount_fen || given > Fen::MAX_AMOUNT => {
                return Err(Error::invalid("tenders", "cash tendered_fen must cover amount_fen"));
            }
            (TenderKind::Cash, Some(given)) => given,
            (_, Some(_)) => return Err(Error::invalid("tenders", "only cash has tendered_fen")),
            (_, None) => tender.amount_fen,
        };
        if kind == TenderKind::StoredValue && member.is_none() {
            return Err(Error::invalid("tenders", "stored value needs the bill's member"));
        }
        out.push(CheckedTender { kind, amount: tender.amount_fen, tendered });
    }
    Ok(out)
}

/// Tenders must pay the total exactly, and stored value cannot pay for a recharge.
pub(super) fn check_cover(tenders: &[CheckedTender], resolved: &Resolved, priced: &Priced) -> Result<()> {
    let paid: Fen = tenders.iter().map(|t| t.amount).sum();
    if paid != priced.total {
        return Err(Error::invalid(
            "tenders",
            format!("tenders add up to {} fen but the bill is {} fen", paid.get(), priced.total.get()),
        ));
    }
    let recharges: Fen = resolved
        .lines
        .iter()
        .zip(&priced.lines)
        .filter(|(line, _)| line.kind == LineKind::Recharge)
        .map(|(_, p)| p.net)
        .sum();
    let stored: Fen = tenders.iter().filter(|t| t.kind == TenderKind::StoredValue).map(|t| t.amount).sum();
    if stored > priced.total - recharges {
        return Err(Error::invalid("tenders", "stored value cannot pay for a recharge"));
    }
    Ok(())
}
