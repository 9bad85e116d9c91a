//! Segments (人群): members chosen by rules over their life with the store — when they last came, how often and how
//! much, their own usual rhythm, level, tags, birthday, what they buy, where they come, and their consent to
//! marketing. A rule is criteria joined by all (AND) or any (OR), with one level of groups, so "lapsed 90 days AND
//! (VIP OR spent ￥2,000 this year)" is one rule. The database answers it: one query of members with conditions on
//! them and subqueries over their bills, written once for SQLite and PostgreSQL (only the epoch of a timestamp is
//! spelled per backend), so a segment counts the same members on both.
//!
//! Visits are settled bills (a reversed bill is no visit); spend is what they paid less what was refunded.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement, SimpleExpr, SubQueryStatement};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use entity::{
    bill_lines, bills, count_cards, ledger_accounts, marketing_consents, member_levels, member_tags, members, segments,
    stores,
};

use crate::domain::{BillStatus, ConsentPurpose, Fen, Permission, Tag};
use crate::error::is_unique_violation;
use crate::foundation::principal::StaffPrincipal;
use crate::ledger::AccountKind;
use crate::members::MemberView;
use crate::{AppContext, Conflict, Error, Result};

/// How a rule's criteria (or a group's) are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Every criterion holds (AND).
    All,
    /// At least one holds (OR).
    Any,
}

/// Which members a segment holds: its own criteria and groups, joined by `combine`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentRule {
    pub combine: Combine,
    #[serde(default)]
    pub criteria: Vec<Criterion>,
    /// Groups of criteria with their own joining, each counting as one criterion of the rule.
    #[serde(default)]
    pub groups: Vec<CriteriaGroup>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriteriaGroup {
    pub combine: Combine,
    pub criteria: Vec<Criterion>,
}

/// Where a member counts as coming for a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreBy {
    /// The store they joined at (their home store).
    Home,
    /// The store of their latest visit.
    LastVisit,
}

/// One thing a member must be. Periods are whole days back from now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Criterion {
    /// Their latest visit was at least `min_days` and at most `max_days` ago. Members who never came do not match.
    LastVisit { min_days: Option<u32>, max_days: Option<u32> },
    /// They never came.
    NeverVisited {},
    /// Their time since the last visit is at least `percent` of their own usual interval (the average gap between
    /// their visits; two visits at least): 150 is "half as long again as they usually wait".
    Overdue { percent: u32 },
    /// Visits in the last `days` days: at least `min` and at most `max` (none is zero visits).
    Visits { days: u32, min: Option<u32>, max: Option<u32> },
    /// What they paid in the last `days` days, less refunds: at least `min_fen` and at most `max_fen`.
    Spend { days: u32, min_fen: Option<Fen>, max_fen: Option<Fen> },
    /// They hold one of these levels.
    Level { level_ids: Vec<i64> },
    /// They carry one of these tags.
    Tags { tags: Vec<String> },
    /// Born in one of these months (1–12).
    BirthMonth { months: Vec<u32> },
    /// Their birthday is today or within the next `within_days` days (0–90), on the merchant's calendar; one born on
    /// 29 February has it on the 28th in other years (as birthday coupons count it).
    Birthday { within_days: u32 },
    /// They bought a service or product of one of these categories in the last `days` days.
    BoughtCategory { categories: Vec<String>, days: u32 },
    /// They count for one of these stores, by their home store or their latest visit.
    Store { store_ids: Vec<i64>, by: StoreBy },
    /// Their stored value (principal and bonus together) is at least `min_fen` and at most `max_fen`. Members who
    /// never held stored value do not match.
    StoredValue { min_fen: Option<Fen>, max_fen: Option<Fen> },
    /// They hold a usable count card with at most `max_sessions` sessions left (one at least), or expiring within
    /// `expires_within_days` days; both given, one card must be both.
    CountCard { max_sessions: Option<u32>, expires_within_days: Option<u32> },
    /// Their RFM scores among the merchant's members who came in the last `days` days: recency, frequency (bills)
    /// and money (paid less refunds), each 1–5 by quintile, 5 the most recent, most frequent, most spent; members
    /// with equal figures share the lowest score their place allows. A list left empty takes any score; members who did not come in the period
    /// have no scores and do not match.
    Rfm {
        days: u32,
        #[serde(default)]
        recency: Vec<u8>,
        #[serde(default)]
        frequency: Vec<u8>,
        #[serde(default)]
        monetary: Vec<u8>,
    },
    /// Their answer in force for the purpose (marketing at all by default, or by SMS, or personalised) is yes
    /// (`granted`), or is not yes (no, or never asked).
    MarketingConsent {
        granted: bool,
        #[serde(default)]
        purpose: ConsentPurpose,
    },
}

const MAX_CRITERIA: usize = 30;
const MAX_LIST: usize = 100;
const MAX_DAYS: u32 = 3650;
const MAX_BIRTHDAY_DAYS: u32 = 90;

fn days_ok(field: &'static str, days: u32) -> Result<()> {
    if (1..=MAX_DAYS).contains(&days) { Ok(()) } else { Err(Error::invalid(field, "a period is 1–3650 days")) }
}

fn range_ok<T: PartialOrd + Copy>(field: &'static str, min: Option<T>, max: Option<T>) -> Result<()> {
    match (min, max) {
        (Some(min), Some(max)) if min > max => Err(Error::invalid(field, "the least must not exceed the most")),
        (None, None) => Err(Error::invalid(field, "give the least, the most, or both")),
        _ => Ok(()),
    }
}

fn list_ok<T>(field: &'static str, list: &[T]) -> Result<()> {
    if list.is_empty() || list.len() > MAX_LIST { Err(Error::invalid(field, "name 1–100 of them")) } else { Ok(()) }
}

impl Criterion {
    /// Checks the criterion's own numbers and lists; that levels and stores exist is checked with the merchant.
    fn check(&self) -> Result<()> {
        match self {
            Criterion::LastVisit { min_days, max_days } => {
                range_ok("criteria", *min_days, *max_days)?;
                if min_days.iter().chain(max_days).any(|d| *d > MAX_DAYS) {
                    return Err(Error::invalid("criteria", "a period is at most 3650 days"));
                }
                Ok(())
            }
            Criterion::NeverVisited {} => Ok(()),
            Criterion::Overdue { percent } if !(50..=1000).contains(percent) => {
                Err(Error::invalid("criteria", "overdue is 50–1000 percent of the member's usual interval"))
            }
            Criterion::Overdue { .. } => Ok(()),
            Criterion::Visits { days, min, max } => {
                days_ok("criteria", *days)?;
                range_ok("criteria", *min, *max)?;
                if *min == Some(0) && max.is_none() {
                    return Err(Error::invalid("criteria", "at least 0 visits is everyone: leave the criterion out"));
                }
                Ok(())
            }
            Criterion::Spend { days, min_fen, max_fen } => {
                days_ok("criteria", *days)?;
                range_ok("criteria", *min_fen, *max_fen)?;
                if min_fen.iter().chain(max_fen).any(|f| *f < Fen::ZERO) {
                    return Err(Error::invalid("criteria", "spend must not be negative"));
                }
                if *min_fen == Some(Fen::ZERO) && max_fen.is_none() {
                    return Err(Error::invalid(
                        "criteria",
                        "spending at least ￥0 is everyone: leave the criterion out",
                    ));
                }
                Ok(())
            }
            Criterion::Level { level_ids } => list_ok("criteria", level_ids),
            Criterion::Tags { tags } => {
                list_ok("criteria", tags)?;
                tags.iter().try_for_each(|t| Tag::parse(t).map(|_| ()).map_err(|m| Error::invalid("criteria", m)))
            }
            Criterion::BirthMonth { months } => {
                list_ok("criteria", months)?;
                if months.iter().all(|m| (1..=12).contains(m)) {
                    Ok(())
                } else {
                    Err(Error::invalid("criteria", "months are 1–12"))
                }
            }
            Criterion::Birthday { within_days } if *within_days > MAX_BIRTHDAY_DAYS => {
                Err(Error::invalid("criteria", "a birthday is within 0–90 days"))
            }
            Criterion::Birthday { .. } => Ok(()),
            Criterion::BoughtCategory { categories, days } => {
                days_ok("criteria", *days)?;
                list_ok("criteria", categories)
            }
            Criterion::Store { store_ids, .. } => list_ok("criteria", store_ids),
            Criterion::StoredValue { min_fen, max_fen } => {
                range_ok("criteria", *min_fen, *max_fen)?;
                if min_fen.is_none() && max_fen.is_none() {
                    return Err(Error::invalid("criteria", "give a lowest or a highest balance"));
                }
                if min_fen.iter().chain(max_fen).any(|f| *f < Fen::ZERO) {
                    return Err(Error::invalid("criteria", "a balance must not be negative"));
                }
                Ok(())
            }
            Criterion::CountCard { max_sessions, expires_within_days } => {
                if max_sessions.is_none() && expires_within_days.is_none() {
                    return Err(Error::invalid("criteria", "give the sessions left or the days to expiry"));
                }
                if max_sessions.is_some_and(|n| n == 0 || n > 1000) {
                    return Err(Error::invalid("criteria", "sessions left are 1–1000"));
                }
                expires_within_days.map_or(Ok(()), |d| days_ok("criteria", d))
            }
            Criterion::Rfm { days, recency, frequency, monetary } => {
                days_ok("criteria", *days)?;
                let lists = [recency, frequency, monetary];
                if lists.iter().all(|l| l.is_empty()) {
                    return Err(Error::invalid("criteria", "choose the scores of recency, frequency or money"));
                }
                if lists.iter().any(|l| l.len() > 5 || l.iter().any(|s| !(1..=5).contains(s))) {
                    return Err(Error::invalid("criteria", "RFM scores are 1–5"));
                }
                Ok(())
            }
            Criterion::MarketingConsent { .. } => Ok(()),
        }
    }
}

impl SegmentRule {
    fn criteria(&self) -> impl Iterator<Item = &Criterion> {
        self.criteria.iter().chain(self.groups.iter().flat_map(|g| g.criteria.iter()))
    }

    /// Checks the rule's shape and numbers, and that the levels and stores it names are the merchant's.
    async fn check(&self, conn: &impl ConnectionTrait, merchant_id: i64) -> Result<()> {
        let count = self.criteria().count();
        if count == 0 {
            return Err(Error::invalid("criteria", "a segment needs at least one criterion"));
        }
        if count > MAX_CRITERIA || self.groups.len() > 10 {
            return Err(Error::invalid("criteria", "a segment has at most 30 criteria in at most 10 groups"));
        }
        if self.groups.iter().any(|g| g.criteria.is_empty()) {
            return Err(Error::invalid("groups", "a group needs at least one criterion"));
        }
        self.criteria().try_for_each(Criterion::check)?;
        let levels: Vec<i64> = self
            .criteria()
            .flat_map(|c| match c {
                Criterion::Level { level_ids } => level_ids.clone(),
                _ => Vec::new(),
            })
            .collect();
        let found = member_levels::Entity::find()
            .filter(member_levels::Column::MerchantId.eq(merchant_id))
            .filter(member_levels::Column::Id.is_in(levels.iter().copied()))
            .count(conn)
            .await?;
        if found != u64::try_from(levels.iter().collect::<std::collections::BTreeSet<_>>().len()).unwrap_or(0) {
            return Err(Error::invalid("criteria", "a level named is not one of this merchant's"));
        }
        let store_ids: std::collections::BTreeSet<i64> = self
            .criteria()
            .flat_map(|c| match c {
                Criterion::Store { store_ids, .. } => store_ids.clone(),
                _ => Vec::new(),
            })
            .collect();
        let found = stores::Entity::find()
            .filter(stores::Column::MerchantId.eq(merchant_id))
            .filter(stores::Column::Id.is_in(store_ids.iter().copied()))
            .count(conn)
            .await?;
        if found != u64::try_from(store_ids.len()).unwrap_or(0) {
            return Err(Error::invalid("criteria", "a store named is not one of this merchant's"));
        }
        Ok(())
    }

    /// The condition on `members` choosing the merchant's live members the rule holds at `now`, which is `today` on
    /// the merchant's calendar.
    pub fn condition(&self, backend: DbBackend, merchant_id: i64, now: DateTime<Utc>, today: NaiveDate) -> Condition {
        let on = |combine: Combine| match combine {
            Combine::All => Condition::all(),
            Combine::Any => Condition::any(),
        };
        let at = At { backend, merchant_id, now, today };
        let mut rule = on(self.combine);
        for criterion in &self.criteria {
            rule = rule.add(at.criterion(criterion));
        }
        for group in &self.groups {
            let mut inner = on(group.combine);
            for criterion in &group.criteria {
                inner = inner.add(at.criterion(criterion));
            }
            rule = rule.add(inner);
        }
        Condition::all()
            .add(members::Column::MerchantId.eq(merchant_id))
            .add(members::Column::AnonymisedAt.is_null())
            .add(rule)
    }
}

/// What a criterion is judged against: the merchant, the moment (and its date on the merchant's calendar), and the
/// database's dialect.
struct At {
    backend: DbBackend,
    merchant_id: i64,
    now: DateTime<Utc>,
    today: NaiveDate,
}

impl At {
    fn days_ago(&self, days: u32) -> DateTime<Utc> {
        self.now - Duration::days(i64::from(days))
    }

    /// The merchant's settled bills with a member, selecting the member.
    fn visits(&self) -> SelectStatement {
        Query::select()
            .column((bills::Entity, bills::Column::MemberId))
            .from(bills::Entity)
            .and_where(Expr::col((bills::Entity, bills::Column::MerchantId)).eq(self.merchant_id))
            .and_where(Expr::col((bills::Entity, bills::Column::Status)).eq(BillStatus::Settled.as_str()))
            .and_where(Expr::col((bills::Entity, bills::Column::MemberId)).is_not_null())
            .to_owned()
    }

    /// Seconds since the epoch of a bill's settlement, as a number both databases compare and subtract.
    fn settled_epoch(&self) -> SimpleExpr {
        match self.backend {
            DbBackend::Postgres => Expr::cust("EXTRACT(EPOCH FROM bills.settled_at)"),
            _ => Expr::cust("CAST(strftime('%s', bills.settled_at) AS INTEGER)"),
        }
    }

    /// The UTC day of a bill's settlement: visits are days, so a service and a product paid apart are one visit.
    fn settled_day(&self) -> SimpleExpr {
        match self.backend {
            DbBackend::Postgres => Expr::cust("FLOOR(EXTRACT(EPOCH FROM bills.settled_at) / 86400)"),
            _ => Expr::cust("(CAST(strftime('%s', bills.settled_at) AS INTEGER) / 86400)"),
        }
    }

    fn member_in(&self, select: SelectStatement) -> Condition {
        Condition::all().add(members::Column::Id.in_subquery(select))
    }

    fn member_not_in(&self, select: SelectStatement) -> Condition {
        Condition::all().add(members::Column::Id.not_in_subquery(select))
    }

    fn criterion(&self, criterion: &Criterion) -> Condition {
        let settled_at = Expr::col((bills::Entity, bills::Column::SettledAt));
        match criterion {
            Criterion::LastVisit { min_days, max_days } => {
                let mut visits = self.visits();
                visits.group_by_col((bills::Entity, bills::Column::MemberId));
                if let Some(min) = min_days {
                    visits.and_having(Func::max(settled_at.clone()).lte(self.days_ago(*min)));
                }
                if let Some(max) = max_days {
                    visits.and_having(Func::max(settled_at).gte(self.days_ago(*max)));
                }
                self.member_in(visits)
            }
            Criterion::NeverVisited {} => self.member_not_in(self.visits()),
            Criterion::Overdue { percent } => {
                // (now − last) × (visit days − 1) × 100 ≥ percent × (last − first): the average gap times the
                // percent, without dividing. Visits are days, so two bills of one afternoon make no rhythm.
                let epoch = self.settled_epoch();
                let (last, first) = (Func::max(epoch.clone()), Func::min(epoch));
                let now = self.now.timestamp();
                let waited = Expr::val(now).sub(last.clone());
                let days = || Func::count_distinct(self.settled_day());
                let gaps = Expr::expr(days()).sub(1);
                let mut visits = self.visits();
                visits.group_by_col((bills::Entity, bills::Column::MemberId)).and_having(days().gte(2)).and_having(
                    waited.mul(gaps).mul(100).gte(Expr::val(i64::from(*percent)).mul(Expr::expr(last).sub(first))),
                );
                self.member_in(visits)
            }
            Criterion::Visits { days, min, max } => {
                let count = || Func::count(Expr::col((bills::Entity, bills::Column::Id)));
                let mut visits = self.visits();
                visits
                    .and_where(settled_at.gte(self.days_ago(*days)))
                    .group_by_col((bills::Entity, bills::Column::MemberId));
                match (min.filter(|m| *m > 0), max) {
                    // No least: members with no visit at all match too, so it is "not more than the most".
                    (None, Some(max)) => {
                        visits.and_having(count().gt(i64::from(*max)));
                        self.member_not_in(visits)
                    }
                    (min, max) => {
                        visits.and_having(count().gte(i64::from(min.unwrap_or(1))));
                        if let Some(max) = max {
                            visits.and_having(count().lte(i64::from(*max)));
                        }
                        self.member_in(visits)
                    }
                }
            }
            Criterion::Spend { days, min_fen, max_fen } => {
                // Every group has a bill, so the sum is never null.
                let paid = || {
                    Func::sum(
                        Expr::col((bills::Entity, bills::Column::TotalFen))
                            .sub(Expr::col((bills::Entity, bills::Column::RefundedFen))),
                    )
                };
                let mut visits = self.visits();
                visits
                    .and_where(settled_at.gte(self.days_ago(*days)))
                    .group_by_col((bills::Entity, bills::Column::MemberId));
                match (min_fen.filter(|m| *m > Fen::ZERO), max_fen) {
                    (None, Some(max)) => {
                        visits.and_having(paid().gt(max.get()));
                        self.member_not_in(visits)
                    }
                    (min, max) => {
                        visits.and_having(paid().gte(min.map_or(1, |m| m.get())));
                        if let Some(max) = max {
                            visits.and_having(paid().lte(max.get()));
                        }
                        self.member_in(visits)
                    }
                }
            }
            Criterion::Level { level_ids } => {
                Condition::all().add(members::Column::LevelId.is_in(level_ids.iter().copied()))
            }
            Criterion::Tags { tags } => self.member_in(
                Query::select()
                    .column(member_tags::Column::MemberId)
                    .from(member_tags::Entity)
                    .and_where(Expr::col(member_tags::Column::MerchantId).eq(self.merchant_id))
                    .and_where(Expr::col(member_tags::Column::Tag).is_in(tags.iter().map(|t| t.trim().to_owned())))
                    .to_owned(),
            ),
            Criterion::BirthMonth { months } => {
                Condition::all().add(members::Column::BirthMonth.is_in(months.iter().map(|m| i64::from(*m))))
            }
            Criterion::Birthday { within_days } => {
                let mut any = Condition::any();
                for (month, days) in crate::members::birthdays::birthdays_within(self.today, *within_days) {
                    any = any.add(
                        Condition::all()
                            .add(members::Column::BirthMonth.eq(month))
                            .add(members::Column::BirthDay.is_in(days)),
                    );
                }
                any
            }
            Criterion::BoughtCategory { categories, days } => {
                let mut visits = self.visits();
                visits
                    .inner_join(
                        bill_lines::Entity,
                        Expr::col((bill_lines::Entity, bill_lines::Column::BillId))
                            .equals((bills::Entity, bills::Column::Id)),
                    )
                    .and_where(settled_at.gte(self.days_ago(*days)))
                    .and_where(
                        Expr::col((bill_lines::Entity, bill_lines::Column::Category))
                            .is_in(categories.iter().map(|c| c.trim().to_owned())),
                    );
                self.member_in(visits)
            }
            Criterion::Store { store_ids, by: StoreBy::Home } => {
                Condition::all().add(members::Column::HomeStoreId.is_in(store_ids.iter().copied()))
            }
            Criterion::Store { store_ids, by: StoreBy::LastVisit } => {
                // The member's latest settled bill is at one of the stores.
                let latest = Query::select()
                    .expr(Func::max(Expr::col((Alias::new("latest"), bills::Column::SettledAt))))
                    .from_as(bills::Entity, Alias::new("latest"))
                    .and_where(
                        Expr::col((Alias::new("latest"), bills::Column::MemberId))
                            .equals((bills::Entity, bills::Column::MemberId)),
                    )
                    .and_where(
                        Expr::col((Alias::new("latest"), bills::Column::Status)).eq(BillStatus::Settled.as_str()),
                    )
                    .to_owned();
                let mut visits = self.visits();
                visits
                    .and_where(Expr::col((bills::Entity, bills::Column::StoreId)).is_in(store_ids.iter().copied()))
                    .and_where(
                        settled_at.eq(Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(latest)))),
                    );
                self.member_in(visits)
            }
            Criterion::StoredValue { min_fen, max_fen } => {
                let balance = Func::sum(Expr::col((ledger_accounts::Entity, ledger_accounts::Column::Balance)));
                let mut held = Query::select()
                    .column((ledger_accounts::Entity, ledger_accounts::Column::MemberId))
                    .from(ledger_accounts::Entity)
                    .and_where(
                        Expr::col((ledger_accounts::Entity, ledger_accounts::Column::MerchantId)).eq(self.merchant_id),
                    )
                    .and_where(
                        Expr::col((ledger_accounts::Entity, ledger_accounts::Column::Kind))
                            .is_in([AccountKind::SvPrincipal.as_str(), AccountKind::SvBonus.as_str()]),
                    )
                    .and_where(Expr::col((ledger_accounts::Entity, ledger_accounts::Column::MemberId)).is_not_null())
                    .group_by_col((ledger_accounts::Entity, ledger_accounts::Column::MemberId))
                    .to_owned();
                if let Some(min) = min_fen {
                    held.and_having(balance.clone().gte(min.get()));
                }
                if let Some(max) = max_fen {
                    held.and_having(balance.lte(max.get()));
                }
                self.member_in(held)
            }
            Criterion::CountCard { max_sessions, expires_within_days } => {
                let card = |column| Expr::col((count_cards::Entity, column));
                let mut cards = Query::select()
                    .column((count_cards::Entity, count_cards::Column::MemberId))
                    .from(count_cards::Entity)
                    .and_where(card(count_cards::Column::MerchantId).eq(self.merchant_id))
                    .and_where(card(count_cards::Column::Status).eq("active"))
                    .and_where(
                        card(count_cards::Column::ExpiresAt)
                            .is_null()
                            .or(card(count_cards::Column::ExpiresAt).gt(self.now)),
                    )
                    .to_owned();
                if let Some(days) = expires_within_days {
                    cards.and_where(
                        card(count_cards::Column::ExpiresAt).lte(self.now + Duration::days(i64::from(*days))),
                    );
                }
                if let Some(most) = max_sessions {
                    // The card's sessions are its ledger account `card:<id>:sessions`.
                    cards
                        .inner_join(
                            ledger_accounts::Entity,
                            Expr::col((ledger_accounts::Entity, ledger_accounts::Column::Key))
                                .eq(Expr::cust(r#"'card:' || "count_cards"."id" || ':sessions'"#)),
                        )
                        .and_where(Expr::col((ledger_accounts::Entity, ledger_accounts::Column::Balance)).gte(1))
                        .and_where(
                            Expr::col((ledger_accounts::Entity, ledger_accounts::Column::Balance))
                                .lte(i64::from(*most)),
                        );
                }
                self.member_in(cards)
            }
            Criterion::MarketingConsent { granted, purpose } => {
                let yes = latest_answer(self.merchant_id, *purpose, true);
                if *granted { self.member_in(yes) } else { self.member_not_in(yes) }
            }
            Criterion::Rfm { days, recency, frequency, monetary } => self.rfm(*days, recency, frequency, monetary),
        }
    }

    /// Members whose RFM scores are in the lists. A score is 1 + ⌊5 × (members with a figure below theirs) ÷
    /// (members)⌋: integer arithmetic both databases do alike; ties share the lowest score their place allows, so a
    /// figure most members share (one bill) scores low, not high.
    fn rfm(&self, days: u32, recency: &[u8], frequency: &[u8], monetary: &[u8]) -> Condition {
        let settled_at = Expr::col((bills::Entity, bills::Column::SettledAt));
        let paid = Expr::col((bills::Entity, bills::Column::TotalFen))
            .sub(Expr::col((bills::Entity, bills::Column::RefundedFen)));
        let mut figures = self.visits();
        figures
            .expr_as(Func::max(settled_at.clone()), "last_at")
            .expr_as(Func::count(Expr::col((bills::Entity, bills::Column::Id))), "visits")
            .expr_as(Func::sum(paid), "paid")
            .and_where(settled_at.gte(self.days_ago(days)))
            .group_by_col((bills::Entity, bills::Column::MemberId));
        let score =
            |figure: &str| Expr::cust(format!("5 * (RANK() OVER (ORDER BY {figure}) - 1) / COUNT(*) OVER () + 1"));
        let scores = Query::select()
            .column("member_id")
            .expr_as(score("last_at"), "r")
            .expr_as(score("visits"), "f")
            .expr_as(score("paid"), "m")
            .from_subquery(figures, "figures")
            .to_owned();
        let mut chosen = Query::select().column("member_id").from_subquery(scores, "scores").to_owned();
        for (name, list) in [("r", recency), ("f", frequency), ("m", monetary)] {
            if !list.is_empty() {
                chosen.and_where(Expr::col(name).is_in(list.iter().map(|s| i64::from(*s))));
            }
        }
        self.member_in(chosen)
    }
}

/// The merchant's members whose latest answer for `purpose` is `granted` (their answer with the greatest id).
pub(crate) fn latest_answer(merchant_id: i64, purpose: ConsentPurpose, granted: bool) -> SelectStatement {
    let later = Alias::new("later");
    let latest = Query::select()
        .expr(Func::max(Expr::col((later.clone(), marketing_consents::Column::Id))))
        .from_as(marketing_consents::Entity, later.clone())
        .and_where(
            Expr::col((later.clone(), marketing_consents::Column::MemberId))
                .equals((marketing_consents::Entity, marketing_consents::Column::MemberId)),
        )
        .and_where(Expr::col((later, marketing_consents::Column::Purpose)).eq(purpose.as_str()))
        .to_owned();
    Query::select()
        .column((marketing_consents::Entity, marketing_consents::Column::MemberId))
        .from(marketing_consents::Entity)
        .and_where(Expr::col((marketing_consents::Entity, marketing_consents::Column::MerchantId)).eq(merchant_id))
        .and_where(Expr::col((marketing_consents::Entity, marketing_consents::Column::Granted)).eq(granted))
        .and_where(Expr::col((marketing_consents::Entity, marketing_consents::Column::Purpose)).eq(purpose.as_str()))
        .and_where(
            Expr::col((marketing_consents::Entity, marketing_consents::Column::Id))
                .eq(Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(latest)))),
        )
        .to_owned()
}

/// The date it is for the merchant at `at`, on its own calendar.
pub(crate) async fn merchant_today(ctx: &AppContext, merchant_id: i64, at: DateTime<Utc>) -> Result<NaiveDate> {
    let merchant = crate::foundation::merchants::row(&ctx.db, merchant_id).await?;
    Ok(crate::booking::calendar::Calendar::new(&merchant.timezone).today(at))
}

/// How many members a rule holds now, and a few of them (the newest) to look at.
#[derive(Clone, Debug)]
pub struct SegmentCount {
    pub count: u64,
    pub sample: Vec<MemberView>,
}

/// Counts the members `rule` holds now, with a sample of the newest: what the console shows while the rule is edited.
pub async fn preview(ctx: &AppContext, principal: &StaffPrincipal, rule: &SegmentRule) -> Result<SegmentCount> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    rule.check(&ctx.db, principal.merchant_id).await?;
    count(ctx, principal, rule).await
}

async fn count(ctx: &AppContext, principal: &StaffPrincipal, rule: &SegmentRule) -> Result<SegmentCount> {
    let now = ctx.now();
    let today = merchant_today(ctx, principal.merchant_id, now).await?;
    let condition = rule.condition(ctx.db.get_database_backend(), principal.merchant_id, now, today);
    // Both read the whole rule (a year of bills, say): side by side, on two of PostgreSQL's connections.
    let (count, rows) = tokio::try_join!(
        members::Entity::find().filter(condition.clone()).count(&ctx.db),
        members::Entity::find().filter(condition).order_by_desc(members::Column::Id).limit(10).all(&ctx.db),
    )?;
    let sample = crate::members::views_for(ctx, rows, principal.can(Permission::MemberContactRead)).await?;
    Ok(SegmentCount { count, sample })
}

/// The condition on `members` choosing who the merchant's saved segment holds now (a coupon grant to it).
pub(crate) async fn members_of(ctx: &AppContext, merchant_id: i64, segment_id: i64) -> Result<Condition> {
    members_at(ctx, merchant_id, segment_id, ctx.now()).await
}

/// The condition choosing who the segment held at `at` (its periods counted back from then): a campaign's
/// audience as of the moment it started.
pub(crate) async fn members_at(
    ctx: &AppContext,
    merchant_id: i64,
    segment_id: i64,
    at: DateTime<Utc>,
) -> Result<Condition> {
    let segment = to_segment(row(ctx, merchant_id, segment_id).await?)?;
    let today = merchant_today(ctx, merchant_id, at).await?;
    Ok(segment.rule.condition(ctx.db.get_database_backend(), merchant_id, at, today))
}

/// A saved segment.
#[derive(Clone, Debug)]
pub struct Segment {
    pub id: i64,
    pub name: String,
    pub rule: SegmentRule,
    pub updated_at: DateTime<Utc>,
}

fn to_segment(row: segments::Model) -> Result<Segment> {
    Ok(Segment {
        id: row.id,
        rule: crate::domain::stored_json("a segment's rule", &row.rule)?,
        name: row.name,
        updated_at: row.updated_at,
    })
}

pub(crate) async fn row(ctx: &AppContext, merchant_id: i64, id: i64) -> Result<segments::Model> {
    segments::Entity::find_by_id(id)
        .filter(segments::Column::MerchantId.eq(merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("segment"))
}

/// The merchant's saved segments, by name.
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<Segment>> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    segments::Entity::find()
        .filter(segments::Column::MerchantId.eq(principal.merchant_id))
        .order_by_asc(segments::Column::Name)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(to_segment)
        .collect()
}

/// A saved segment and how many members it holds now.
pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<(Segment, SegmentCount)> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let segment = to_segment(row(ctx, principal.merchant_id, id).await?)?;
    let counted = count(ctx, principal, &segment.rule).await?;
    Ok((segment, counted))
}

/// Saves a new segment (`id` None) or replaces a saved one's name and rule.
pub async fn save(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    id: Option<i64>,
    name: &str,
    rule: SegmentRule,
) -> Result<Segment> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let name = super::checked_text("name", name, 30)?;
    rule.check(&ctx.db, principal.merchant_id).await?;
    let stored = serde_json::to_string(&rule).map_err(anyhow::Error::from)?;
    let now = ctx.now();
    let written = match id {
        None => {
            segments::ActiveModel {
                merchant_id: Set(principal.merchant_id),
                name: Set(name),
                rule: Set(stored),
                created_by: Set(principal.staff_id),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&ctx.db)
            .await
        }
        Some(id) => {
            let mut row: segments::ActiveModel = row(ctx, principal.merchant_id, id).await?.into();
            row.name = Set(name);
            row.rule = Set(stored);
            row.updated_at = Set(now);
            row.update(&ctx.db).await
        }
    };
    match written {
        Ok(row) => to_segment(row),
        Err(err) if is_unique_violation(&err) => Err(Error::Conflict(Conflict::SegmentNameTaken)),
        Err(err) => Err(err.into()),
    }
}

/// Deletes a saved segment no scheduled or running campaign uses (409 `used_by_campaign`).
pub async fn delete(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<()> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    row(ctx, principal.merchant_id, id).await?;
    if super::campaigns::in_use(&ctx.db, principal.merchant_id, Some(id), None).await? {
        return Err(Error::Conflict(Conflict::UsedByCampaign));
    }
    segments::Entity::delete_by_id(id).exec(&ctx.db).await?;
    Ok(())
}
