//! Stored-value cards (储值卡): recharge plans (充X送Y), recharge at the desk, debits that split principal and
//! bonus by the merchant's rule, transfers between members, freezing a lost card (挂失) and refunding a card
//! (退卡). Every movement is a ledger entry; the card row holds only status and expiry.
//!
//! Every operation that moves a card's value first touches the card row (`lock_card`), so operations on one card
//! queue behind each other: a split computed from the balances it read is still exact when it posts. The ledger's
//! guarded updates remain the last word: no interleaving can overdraw a card.

mod statement;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde_json::json;

use entity::{members, stored_value_cards};

use crate::cards::recharge_plans::plan_row;
use crate::domain::{Fen, IdempotencyKey, Permission, Points, SplitRule, amount, fingerprint};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::ledger::posting::Posting;
use crate::ledger::{self, Account, AccountKind, Cause, Draft};
use crate::loyalty::points::NewLot;
use crate::store::print_queue::{self, Job, JobKind};
use crate::{AppContext, Conflict, Error, Result};

pub(crate) use statement::statement_lines;
pub use statement::{StatementLine, my_statement, statement};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardStatus {
    Active,
    Frozen,
    Closed,
}

impl CardStatus {
    fn parse(value: &str) -> Self {
        match value {
            "frozen" => CardStatus::Frozen,
            "closed" => CardStatus::Closed,
            _ => CardStatus::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Active => "active",
            CardStatus::Frozen => "frozen",
            CardStatus::Closed => "closed",
        }
    }
}

/// A member's card as staff see it. A member who never recharged has an empty active card.
#[derive(Clone, Debug)]
pub struct Card {
    pub member_id: i64,
    pub status: CardStatus,
    pub principal: Fen,
    pub bonus: Fen,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Card {
    pub fn balance(&self) -> Fen {
        self.principal + self.bonus
    }
}

/// Takings at the desk: what a recharge or refund is paid with or out in. WeChat Pay and Alipay join with the
/// payments issue, through the same ledger accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeskTender {
    Cash,
    BankCard,
}

impl DeskTender {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "cash" => Some(DeskTender::Cash),
            "bank_card" => Some(DeskTender::BankCard),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeskTender::Cash => "cash",
            DeskTender::BankCard => "bank_card",
        }
    }

    pub fn account(self, store_id: i64) -> Account {
        match self {
            DeskTender::Cash => Account::store(store_id, AccountKind::Cash),
            DeskTender::BankCard => Account::store(store_id, AccountKind::BankCard),
        }
    }
}

/// The result of a movement: the entry that made it and the card afterwards. `replayed` is true when the
/// idempotency key had been seen and nothing new happened.
#[derive(Clone, Debug)]
pub struct Movement {
    pub entry_id: i64,
    pub card: Card,
    pub replayed: bool,
}

fn principal_account(member_id: i64) -> Account {
    Account::member(member_id, AccountKind::SvPrincipal)
}

fn bonus_account(member_id: i64) -> Account {
    Account::member(member_id, AccountKind::SvBonus)
}

fn idempotency_key(value: &str) -> Result<IdempotencyKey> {
    IdempotencyKey::parse(value).map_err(|m| Error::invalid("idempotency_key", m))
}

/// The card row of a member, created (with its two accounts) when missing.
async fn ensure_card(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_id: i64,
) -> Result<stored_value_cards::Model> {
    if let Some(card) = card_row(conn, merchant_id, member_id).await? {
        return Ok(card);
    }
    let ids =
        ledger::open_accounts(conn, merchant_id, &[principal_account(member_id), bonus_account(member_id)]).await?;
    let now = Utc::now();
    stored_value_cards::Entity::insert(stored_value_cards::ActiveModel {
        merchant_id: Set(merchant_id),
        member_id: Set(member_id),
        status: Set(CardStatus::Active.as_str().to_owned()),
        expires_at: Set(None),
        principal_account_id: Set(ids[0]),
        bonus_account_id: Set(ids[1]),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict_do_nothing_on([stored_value_cards::Column::MemberId])
    .exec(conn)
    .await?;
    card_row(conn, merchant_id, member_id).await?.ok_or(Error::NotFound("stored-value card"))
}

async fn card_row(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_id: i64,
) -> Result<Option<stored_value_cards::Model>> {
    Ok(stored_value_cards::Entity::find()
        .filter(stored_value_cards::Column::MerchantId.eq(merchant_id))
        .filter(stored_value_cards::Column::MemberId.eq(member_id))
        .one(conn)
        .await?)
}

/// Takes the card's row lock for the rest of the transaction (PostgreSQL) or the write lock (SQLite), and returns
/// the row as it is now.
async fn lock_card(conn: &impl ConnectionTrait, card: &stored_value_cards::Model) -> Result<stored_value_cards::Model> {
    stored_value_cards::Entity::update_many()
        .col_expr(stored_value_cards::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(stored_value_cards::Column::Id.eq(card.id))
        .exec_with_returning(conn)
        .await?
        .pop()
        .ok_or(Error::NotFound("stored-value card"))
}

/// The member's card as `conn` sees it (inside a transaction: after its own moves).
pub(crate) async fn card_in(conn: &impl ConnectionTrait, merchant_id: i64, member_id: i64) -> Result<Card> {
    let row = card_row(conn, merchant_id, member_id).await?;
    let balances =
        ledger::balances(conn, merchant_id, &[principal_account(member_id), bonus_account(member_id)]).await?;
    Ok(Card {
        member_id,
        status: row.as_ref().map_or(CardStatus::Active, |r| CardStatus::parse(&r.status)),
        principal: Fen::new(balances[0]),
        bonus: Fen::new(balances[1]),
        expires_at: row.and_then(|r| r.expires_at),
    })
}

/// A card may be debited only when active and unexpired.
fn require_spendable(card: &stored_value_cards::Model, now: DateTime<Utc>) -> Result<()> {
    match CardStatus::parse(&card.status) {
        CardStatus::Frozen => return Err(Error::Conflict(Conflict::CardFrozen)),
        CardStatus::Closed => return Err(Error::Conflict(Conflict::CardClosed)),
        CardStatus::Active => {}
    }
    if card.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::Conflict(Conflict::CardExpired));
    }
    Ok(())
}

async fn split_rule(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<SplitRule> {
    let merchant = crate::foundation::merchants::row(conn, merchant_id).await?;
    Ok(SplitRule::parse(&merchant.sv_split_rule).unwrap_or(SplitRule::Proportional))
}

/// How a debit of `amount` from a locked card splits, by the merchant's rule and the card's balances now.
async fn split_debit(conn: &impl ConnectionTrait, merchant_id: i64, member_id: i64, amount: i64) -> Result<(i64, i64)> {
    let rule = split_rule(conn, merchant_id).await?;
    let balances =
        ledger::balances(conn, merchant_id, &[principal_account(member_id), bonus_account(member_id)]).await?;
    rule.split(amount, balances[0], balances[1]).ok_or(Error::Conflict(Conflict::InsufficientBalance))
}

/// Inside a settlement: checks the member's card, locks it, and adds the lines debiting `amount` from it, split by
/// `rule`. Returns `(from principal, from bonus)`.
pub(crate) async fn debit_into(
    posting: &mut Posting<'_, impl ConnectionTrait>,
    amount: Fen,
    rule: SplitRule,
) -> Result<(Fen, Fen)> {
    let (conn, merchant_id, member_id) = (posting.conn, posting.merchant_id(), posting.member_id()?);
    let draft = &mut posting.draft;
    // Locks the card in the same statement that finds it.
    let card = stored_value_cards::Entity::update_many()
        .col_expr(stored_value_cards::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(stored_value_cards::Column::MerchantId.eq(merchant_id))
        .filter(stored_value_cards::Column::MemberId.eq(member_id))
        .exec_with_returning(conn)
        .await?
        .pop()
        .ok_or(Error::Conflict(Conflict::InsufficientBalance))?;
    require_spendable(&card, Utc::now())?;
    let balances = ledger::balances_for(conn, draft, &[principal_account(member_id), bonus_account(member_id)]).await?;
    let (from_principal, from_bonus) =
        rule.split(amount.get(), balances[0], balances[1]).ok_or(Error::Conflict(Conflict::InsufficientBalance))?;
    draft.debit(principal_account(member_id), from_principal).debit(bonus_account(member_id), from_bonus);
    Ok((Fen::new(from_principal), Fen::new(from_bonus)))
}

/// Inside a recharge or a settlement: opens (or reopens) the member's card, extends its validity by a plan's days,
/// counts the recharge towards the member's level, and adds the lines crediting principal and bonus. The caller
/// debits whatever paid `pay`.
pub(crate) async fn recharge_into(
    posting: &mut Posting<'_, impl ConnectionTrait>,
    pay: Fen,
    bonus: Fen,
    validity_days: Option<i32>,
) -> Result<()> {
    let (conn, merchant_id, store_id, member_id) =
        (posting.conn, posting.merchant_id(), posting.store_id(), posting.member_id()?);
    let card = ensure_card(conn, merchant_id, member_id).await?;
    let card = lock_card(conn, &card).await?;
    let now = posting.now;
    let mut active: stored_value_cards::ActiveModel = card.clone().into();
    if CardStatus::parse(&card.status) == CardStatus::Closed {
        active.status = Set(CardStatus::Active.as_str().to_owned());
    }
    if let Some(days) = validity_days {
        let until = now + Duration::days(i64::from(days));
        if card.expires_at.is_none_or(|at| at < until) {
            active.expires_at = Set(Some(until));
        }
    }
    active.updated_at = Set(now);
    active.update(conn).await?;
    members::Entity::update_many()
        .col_expr(members::Column::TotalRechargeFen, Expr::col(members::Column::TotalRechargeFen).add(pay))
        .filter(members::Column::Id.eq(member_id))
        .exec(conn)
        .await?;
    let draft = &mut posting.draft;
    draft.credit(principal_account(member_id), pay);
    draft.debit(Account::store(store_id, AccountKind::BonusExpense), bonus).credit(bonus_account(member_id), bonus);
    Ok(())
}

/// Inside a refund of a recharge line: takes back the principal paid in and voids the bonus it granted. Fails with
/// [`Conflict::InsufficientBalance`] when the member has already spent it.
pub(crate) async fn reverse_recharge_into(
    posting: &mut Posting<'_, impl ConnectionTrait>,
    pay: Fen,
    bonus: Fen,
) -> Result<()> {
    let (conn, merchant_id, store_id, member_id) =
        (posting.conn, posting.merchant_id(), posting.store_id(), posting.member_id()?);
    let card = card_row(conn, merchant_id, member_id).await?.ok_or(Error::Conflict(Conflict::InsufficientBalance))?;
    lock_card(conn, &card).await?;
    members::Entity::update_many()
        .col_expr(members::Column::TotalRechargeFen, Expr::col(members::Column::TotalRechargeFen).sub(pay))
        .filter(members::Column::Id.eq(member_id))
        .exec(conn)
        .await?;
    let draft = &mut posting.draft;
    draft.debit(principal_account(member_id), pay);
    draft.debit(bonus_account(member_id), bonus).credit(Account::store(store_id, AccountKind::BonusExpense), bonus);
    Ok(())
}

/// Inside a refund of a bill paid with stored value: puts principal and bonus back on the member's card.
pub(crate) async fn credit_back_into(
    posting: &mut Posting<'_, impl ConnectionTrait>,
    principal_part: Fen,
    bonus_part: Fen,
) -> Result<()> {
    let (conn, member_id) = (posting.conn, posting.member_id()?);
    let card = ensure_card(conn, posting.merchant_id(), member_id).await?;
    lock_card(conn, &card).await?;
    posting.draft.credit(principal_account(member_id), principal_part).credit(bonus_account(member_id), bonus_part);
    Ok(())
}

/// Demo data: a cash recharge recorded by the seeding job, through the ledger like any other.
pub(crate) async fn seed_recharge(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    store_id: i64,
    member_id: i64,
    pay: i64,
    bonus: i64,
) -> Result<i64> {
    let mut posting = Posting::new(conn, Utc::now(), merchant_id, store_id, "recharge", Cause::Job("demo-seed"))
        .for_member(Some(member_id))
        .memo("储值 (demo)");
    posting.draft.debit(DeskTender::Cash.account(store_id), pay);
    recharge_into(&mut posting, Fen::new(pay), Fen::new(bonus), None).await?;
    posting.post().await
}

/// The member's card, for staff who may read members.
pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<Card> {
    principal.require(Permission::MemberRead)?;
    crate::members::row(&ctx.db, principal.merchant_id, member_id).await?;
    card_in(&ctx.db, principal.merchant_id, member_id).await
}

/// The member's own card, for the mini-program.
pub async fn own(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Card> {
    card_in(&ctx.db, merchant_id, member_id).await
}

/// Runs `post` unless the key was seen, and shows the card afterwards.
async fn once<F, Fut>(
    ctx: &AppContext,
    merchant_id: i64,
    member_id: i64,
    key: &IdempotencyKey,
    fingerprint: &str,
    post: F,
) -> Result<Movement>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<i64>>,
{
    let (entry_id, replayed) = ledger::once(&ctx.db, merchant_id, key.as_str(), fingerprint, post).await?;
    let card = card_in(&ctx.db, merchant_id, member_id).await?;
    Ok(Movement { entry_id, card, replayed })
}

pub struct RechargeInput {
    pub store_id: i64,
    /// A recharge plan, or
    pub plan_id: Option<i64>,
    /// a plain amount without bonus.
    pub amount_fen: Option<Fen>,
    pub tender: String,
    pub idempotency_key: String,
}

/// Recharge at the desk by cash or bank card. A plan adds its bonus and may extend the card's validity; a closed
/// card opens again.
pub async fn recharge(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    input: RechargeInput,
) -> Result<Movement> {
    principal.require(Permission::Checkout)?;
    let key = idempotency_key(&input.idempotency_key)?;
    let tender = DeskTender::parse(&input.tender)
        .ok_or_else(|| Error::invalid("tender", "must be cash or bank_card (wallets pay through the payments API)"))?;
    let merchant_id = principal.merchant_id;
    let terms = RechargeTerms::resolve(&ctx.db, merchant_id, input.plan_id, input.amount_fen.map(|v| v.get())).await?;
    let fingerprint =
        fingerprint(&json!(["recharge", member_id, input.store_id, input.plan_id, terms.pay, tender.as_str()]));
    let store_id = input.store_id;
    once(ctx, merchant_id, member_id, &key, &fingerprint, || async {
        let txn = ctx.db.begin().await?;
        // The member first: another merchant's member is not found, whatever store the request names.
        crate::members::live_row(&txn, merchant_id, member_id).await?;
        crate::foundation::stores::require_open(&txn, principal, store_id).await?;
        let mut posting =
            Posting::new(&txn, ctx.now(), merchant_id, store_id, "recharge", Cause::Staff(principal.staff_id))
                .for_member(Some(member_id));
        posting.draft.idempotency_key = Some(key.as_str().to_owned());
        posting.draft.fingerprint = Some(fingerprint.clone());
        let entry_id = terms.post_paid(posting, tender.account(store_id)).await?;
        txn.commit().await?;
        Ok(entry_id)
    })
    .await
}

/// What one recharge pays and grants: a plan's terms, or a plain amount without bonus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RechargeTerms {
    pub merchant_id: i64,
    pub plan_id: Option<i64>,
    pub plan_name: Option<String>,
    pub pay: i64,
    pub bonus: Fen,
    pub bonus_points: Points,
    pub validity_days: Option<i32>,
}

impl RechargeTerms {
    /// A plan that is still offered, or a plain amount (not both).
    pub async fn resolve(
        conn: &impl ConnectionTrait,
        merchant_id: i64,
        plan_id: Option<i64>,
        amount_fen: Option<i64>,
    ) -> Result<Self> {
        match (plan_id, amount_fen) {
            (Some(plan_id), None) => {
                let plan = plan_row(conn, merchant_id, plan_id).await?;
                if !plan.active {
                    return Err(Error::invalid("plan_id", "this plan is no longer offered"));
                }
                Ok(Self {
                    merchant_id,
                    plan_id: Some(plan.id),
                    plan_name: Some(plan.name),
                    pay: plan.pay_fen,
                    bonus: Fen::new(plan.bonus_fen),
                    bonus_points: Points::new(plan.bonus_points),
                    validity_days: plan.validity_days,
                })
            }
            (None, Some(fen)) => Ok(Self {
                merchant_id,
                plan_id: None,
                plan_name: None,
                pay: amount("amount_fen", Fen::new(fen))?.get(),
                bonus: Fen::ZERO,
                bonus_points: Points::ZERO,
                validity_days: None,
            }),
            _ => Err(Error::invalid("plan_id", "give either plan_id or amount_fen")),
        }
    }

    /// The terms a paid recharge is applied with: its plan as it is now (offered or not: the member paid for it),
    /// unless the plan's price changed since, when the amount paid is recharged without bonus.
    pub(crate) async fn as_paid(
        conn: &impl ConnectionTrait,
        merchant_id: i64,
        plan_id: Option<i64>,
        paid: i64,
    ) -> Result<Self> {
        if let Some(plan_id) = plan_id {
            let plan = plan_row(conn, merchant_id, plan_id).await?;
            if plan.pay_fen == paid {
                return Ok(Self {
                    merchant_id,
                    plan_id: Some(plan.id),
                    plan_name: Some(plan.name),
                    pay: plan.pay_fen,
                    bonus: Fen::new(plan.bonus_fen),
                    bonus_points: Points::new(plan.bonus_points),
                    validity_days: plan.validity_days,
                });
            }
        }
        Ok(Self {
            merchant_id,
            plan_id: None,
            plan_name: None,
            pay: paid,
            bonus: Fen::ZERO,
            bonus_points: Points::ZERO,
            validity_days: None,
        })
    }

    pub fn memo(&self) -> String {
        match &self.plan_name {
            Some(name) => format!("储值 {name}"),
            None => "储值".to_owned(),
        }
    }

    /// Inside the caller's transaction: the money arrived in `paid_into`; credit the card of the posting's member
    /// with principal and bonus, grant the plan's points, reconsider the member's level, post, and queue the recharge
    /// slip. Returns the entry id.
    pub(crate) async fn post_paid(
        &self,
        mut posting: Posting<'_, impl ConnectionTrait>,
        paid_into: Account,
    ) -> Result<i64> {
        let (conn, merchant_id, store_id, member_id, now) =
            (posting.conn, posting.merchant_id(), posting.store_id(), posting.member_id()?, posting.now);
        posting.draft.memo = self.memo();
        posting.draft.debit(paid_into, self.pay);
        recharge_into(&mut posting, Fen::new(self.pay), self.bonus, self.validity_days).await?;
        if self.bonus_points > Points::ZERO {
            let days = crate::foundation::merchants::loyalty_settings(conn, merchant_id).await?.points_validity_days;
            let lot = NewLot { points: self.bonus_points, source: "recharge", validity_days: days };
            crate::loyalty::points::grant_into(&mut posting, lot).await?;
        }
        let cause = json!({ "recharge_fen": self.pay, "bill_id": posting.draft.bill_id });
        crate::loyalty::levels::raise_member(conn, merchant_id, member_id, cause).await?;
        let entry_id = posting.post().await?;
        // The slip states the card as this recharge left it, however late it prints.
        let stated = crate::cards::statement(conn, merchant_id, member_id, &[], now).await?;
        let slip = Job { merchant_id, store_id, kind: JobKind::Recharge, subject_id: entry_id, stated: Some(&stated) };
        print_queue::queue_into(conn, slip).await?;
        Ok(entry_id)
    }
}

pub struct TransferInput {
    pub to_member_id: i64,
    pub amount_fen: Fen,
    pub reason: String,
    pub idempotency_key: String,
}

/// Moves value from one member's card to another's, principal and bonus split by the merchant's rule, so bonus
/// stays bonus. Audited.
pub async fn transfer(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    from_member_id: i64,
    input: TransferInput,
) -> Result<Movement> {
    principal.require(Permission::StoredValueManage)?;
    let key = idempotency_key(&input.idempotency_key)?;
    let fen = amount("amount_fen", input.amount_fen)?;
    let reason = audit::reason(&input.reason)?;
    if input.to_member_id == from_member_id {
        return Err(Error::invalid("to_member_id", "must be another member"));
    }
    let merchant_id = principal.merchant_id;
    let to = input.to_member_id;
    let fingerprint = fingerprint(&json!(["transfer", from_member_id, to, fen]));
    once(ctx, merchant_id, from_member_id, &key, &fingerprint, || async {
        let txn = ctx.db.begin().await?;
        crate::members::live_row(&txn, merchant_id, from_member_id).await?;
        crate::members::live_row(&txn, merchant_id, to).await.map_err(|e| match e {
            Error::NotFound(_) => Error::invalid("to_member_id", "no such member"),
            other => other,
        })?;
        let from_card =
            card_row(&txn, merchant_id, from_member_id).await?.ok_or(Error::Conflict(Conflict::InsufficientBalance))?;
        let to_card = ensure_card(&txn, merchant_id, to).await?;
        // Lock both cards in id order so two opposite transfers cannot deadlock.
        let (from_card, to_card) = if from_card.id < to_card.id {
            let from = lock_card(&txn, &from_card).await?;
            (from, lock_card(&txn, &to_card).await?)
        } else {
            let to = lock_card(&txn, &to_card).await?;
            (lock_card(&txn, &from_card).await?, to)
        };
        require_spendable(&from_card, Utc::now())?;
        if CardStatus::parse(&to_card.status) == CardStatus::Closed {
            return Err(Error::Conflict(Conflict::CardClosed));
        }
        let (p, b) = split_debit(&txn, merchant_id, from_member_id, fen.get()).await?;
        let mut draft = Draft::new(merchant_id, "transfer", Cause::Staff(principal.staff_id));
        draft.member_id = Some(from_member_id);
        draft.idempotency_key = Some(key.as_str().to_owned());
        draft.fingerprint = Some(fingerprint.clone());
        draft.memo = format!("转赠 → 会员 {to}: {reason}");
        draft.debit(principal_account(from_member_id), p).credit(principal_account(to), p);
        draft.debit(bonus_account(from_member_id), b).credit(bonus_account(to), b);
        let entry_id = ledger::post(&txn, &draft).await?;
        audit::record(
            &txn,
            Event {
                merchant_id: Some(merchant_id),
                actor: Actor::Staff(principal.staff_id),
                action: "stored_value.transferred",
                target: Some(("member", from_member_id)),
                detail: json!({ "to_member_id": to, "principal_fen": p, "bonus_fen": b, "entry_id": entry_id }),
                ip: None,
            },
        )
        .await?;
        txn.commit().await?;
        Ok(entry_id)
    })
    .await
}

pub struct RefundInput {
    pub store_id: i64,
    pub tender: String,
    /// Kept by the store from the principal, by its refund policy (0 when none).
    pub fee_fen: Fen,
    pub reason: String,
    pub idempotency_key: String,
}

/// 退卡: pays the remaining principal back (less the policy fee, which becomes breakage), voids the bonus (the
/// bonus expense is reversed: it was never money) and closes the card. Audited.
pub async fn refund_card(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    input: RefundInput,
) -> Result<Movement> {
    principal.require(Permission::StoredValueManage)?;
    let key = idempotency_key(&input.idempotency_key)?;
    let tender =
        DeskTender::parse(&input.tender).ok_or_else(|| Error::invalid("tender", "must be cash or bank_card"))?;
    if !(Fen::ZERO..=Fen::MAX_AMOUNT).contains(&input.fee_fen) {
        return Err(Error::invalid("fee_fen", "must be 0 or more"));
    }
    let reason = audit::reason(&input.reason)?;
    let merchant_id = principal.merchant_id;
    let store_id = input.store_id;
    let fee = input.fee_fen;
    let fingerprint = fingerprint(&json!(["refund_card", member_id, store_id, tender.as_str(), fee]));
    once(ctx, merchant_id, member_id, &key, &fingerprint, || async {
        let txn = ctx.db.begin().await?;
        crate::members::row(&txn, merchant_id, member_id).await?;
        crate::foundation::stores::require_open(&txn, principal, store_id).await?;
        let card = card_row(&txn, merchant_id, member_id).await?.ok_or(Error::Conflict(Conflict::InsufficientBalance))?;
        let card = lock_card(&txn, &card).await?;
        if CardStatus::parse(&card.status) == CardStatus::Closed {
            return Err(Error::Conflict(Conflict::CardClosed));
        }
        let balances =
            ledger::balances(&txn, merchant_id, &[principal_account(member_id), bonus_account(member_id)]).await?;
        let (held, bonus) = (Fen::new(balances[0]), Fen::new(balances[1]));
        if fee > held {
            return Err(Error::invalid("fee_fen", "must not exceed the remaining principal"));
        }
        let mut draft = Draft::new(merchant_id, "card_refund", Cause::Staff(principal.staff_id));
        draft.store_id = Some(store_id);
        draft.member_id = Some(member_id);
        draft.idempotency_key = Some(key.as_str().to_owned());
        draft.fingerprint = Some(fingerprint.clone());
        draft.memo = format!("退卡: {reason}");
        draft
            .debit(principal_account(member_id), held)
            .credit(tender.account(store_id), held - fee)
            .credit(Account::store(store_id, AccountKind::Breakage), fee);
        draft.debit(bonus_account(member_id), bonus).credit(Account::store(store_id, AccountKind::BonusExpense), bonus);
        let entry_id = ledger::post(&txn, &draft).await?;
        // The principal taken back off the card was never really recharged: it no longer counts towards the level.
        let standing = crate::loyalty::levels::standing(&txn, merchant_id, member_id).await?;
        crate::members::lower_totals(&txn, member_id, Fen::ZERO, held).await?;
        let cause = json!({ "card_refund_entry_id": entry_id });
        crate::loyalty::levels::follow_return(&txn, merchant_id, standing, Actor::Staff(principal.staff_id), cause)
            .await?;
        let mut active: stored_value_cards::ActiveModel = card.into();
        active.status = Set(CardStatus::Closed.as_str().to_owned());
        active.expires_at = Set(None);
        active.update(&txn).await?;
        audit::record(
            &txn,
            Event {
                merchant_id: Some(merchant_id),
                actor: Actor::Staff(principal.staff_id),
                action: "stored_value.refunded",
                target: Some(("member", member_id)),
                detail: json!({ "refunded_fen": held - fee, "fee_fen": fee, "bonus_voided_fen": bonus, "entry_id": entry_id }),
                ip: None,
            },
        )
        .await?;
        // The slip both sign, stating the member as the refund left them.
        let stated = crate::cards::statement(&txn, merchant_id, member_id, &[], ctx.now()).await?;
        let slip =
            Job { merchant_id, store_id, kind: JobKind::CardRefund, subject_id: entry_id, stated: Some(&stated) };
        print_queue::queue_into(&txn, slip).await?;
        txn.commit().await?;
        print_queue::announce(ctx, store_id).await;
        Ok(entry_id)
    })
    .await
}

/// 挂失 and its reverse. Freezing stops debits and transfers out; recharges still land. Any cashier may freeze
/// (the member is at the desk or on the phone); unfreezing needs a manager.
pub async fn set_frozen(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64, frozen: bool) -> Result<Card> {
    principal.require(if frozen { Permission::Checkout } else { Permission::StoredValueManage })?;
    let merchant_id = principal.merchant_id;
    let txn = ctx.db.begin().await?;
    crate::members::live_row(&txn, merchant_id, member_id).await?;
    let card = ensure_card(&txn, merchant_id, member_id).await?;
    let card = lock_card(&txn, &card).await?;
    let (from, to) =
        if frozen { (CardStatus::Active, CardStatus::Frozen) } else { (CardStatus::Frozen, CardStatus::Active) };
    let status = CardStatus::parse(&card.status);
    if status == CardStatus::Closed {
        return Err(Error::Conflict(Conflict::CardClosed));
    }
    if status == from {
        let mut active: stored_value_cards::ActiveModel = card.into();
        active.status = Set(to.as_str().to_owned());
        active.update(&txn).await?;
        audit::record(
            &txn,
            Event {
                merchant_id: Some(merchant_id),
                actor: Actor::Staff(principal.staff_id),
                action: if frozen { "stored_value.frozen" } else { "stored_value.unfrozen" },
                target: Some(("member", member_id)),
                detail: json!({}),
                ip: None,
            },
        )
        .await?;
    }
    txn.commit().await?;
    card_in(&ctx.db, merchant_id, member_id).await
}

/// The breakage job, for one stored-value card past its expiry under the `at_expiry` policy: the principal left
/// becomes breakage income at `store_id` (the store that keeps the member's balances), the bonus is voided (it was
/// never money) and the card is closed; a later recharge opens it again. Returns the fen recognised, or `None` when
/// the card is closed already or was extended since it was picked.
pub(crate) async fn recognise_breakage(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    store_id: i64,
    card: &stored_value_cards::Model,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let card = lock_card(conn, card).await?;
    if CardStatus::parse(&card.status) == CardStatus::Closed || card.expires_at.is_none_or(|at| at > now) {
        return Ok(None);
    }
    let member_id = card.member_id;
    let balances =
        ledger::balances(conn, merchant_id, &[principal_account(member_id), bonus_account(member_id)]).await?;
    let (held, bonus) = (Fen::new(balances[0]), Fen::new(balances[1]));
    let mut draft = Draft::new(merchant_id, "card_breakage", Cause::Job("breakage"));
    draft.store_id = Some(store_id);
    draft.member_id = Some(member_id);
    draft.memo = "储值过期".to_owned();
    draft.debit(principal_account(member_id), held).credit(Account::store(store_id, AccountKind::Breakage), held);
    draft.debit(bonus_account(member_id), bonus).credit(Account::store(store_id, AccountKind::BonusExpense), bonus);
    let entry_id = if held > Fen::ZERO || bonus > Fen::ZERO { Some(ledger::post(conn, &draft).await?) } else { None };
    let mut active: stored_value_cards::ActiveModel = card.into();
    active.status = Set(CardStatus::Closed.as_str().to_owned());
    active.updated_at = Set(now);
    active.update(conn).await?;
    audit::record(
        conn,
        Event {
            merchant_id: Some(merchant_id),
            actor: Actor::System,
            action: "stored_value.expired",
            target: Some(("member", member_id)),
            detail: json!({ "breakage_fen": held, "bonus_voided_fen": bonus, "entry_id": entry_id }),
            ip: None,
        },
    )
    .await?;
    Ok(Some(held.get()))
}
