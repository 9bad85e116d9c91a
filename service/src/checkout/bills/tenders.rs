//! Tenders: which kinds a cashier may name, that they pay the total exactly, and when the member must confirm a
//! stored-value or count-card debit.

use super::input::TenderInput;
use super::resolve::Resolved;
use crate::checkout::pricing::Priced;
use crate::domain::{Fen, LineKind, TenderKind};
use crate::ledger::{Account, AccountKind};
use crate::{AppContext, Conflict, Error, Result};

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

/// Whether this settlement debits more stored value or count-card value than the merchant lets go unconfirmed.
pub(super) fn needs_confirmation(resolved: &Resolved, tenders: &[CheckedTender]) -> bool {
    let Some(threshold) = resolved.settings.confirm_threshold_fen else { return false };
    let stored: Fen = tenders.iter().filter(|t| t.kind == TenderKind::StoredValue).map(|t| t.amount).sum();
    let sessions: Fen = resolved
        .lines
        .iter()
        .filter_map(|line| {
            let card = line.count_card.as_ref()?;
            let per_session =
                card.price_fen * i64::from(line.quantity) / i64::from(std::cmp::max(card.sessions_total, 1));
            Some(Fen::new(per_session))
        })
        .sum();
    stored > threshold || sessions > threshold
}

pub(super) fn check_confirmation(
    ctx: &AppContext,
    resolved: &Resolved,
    tenders: &[CheckedTender],
    member_code: Option<&str>,
    confirmed_in_app: bool,
) -> Result<()> {
    if !needs_confirmation(resolved, tenders) || confirmed_in_app {
        return Ok(());
    }
    let Some(code) = member_code else { return Err(Error::Conflict(Conflict::MemberConfirmationRequired)) };
    let claims = crate::members::code::verify_member_code(ctx, code)?;
    if Some(claims.member_id) != resolved.member_id() {
        return Err(Error::invalid("member_code", "this member code belongs to another member"));
    }
    Ok(())
}
