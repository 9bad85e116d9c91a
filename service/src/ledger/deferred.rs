//! Writes a transaction makes last and reads nothing back from, sent together.
//!
//! A settlement ends with a run of such writes: its journal lines, the bill's link to its entry, the receipt's
//! print job, the stock movements and the guarded stock updates (the ledger's balance moves follow in their own
//! statement, `BalanceMoves::apply` in the ledger). One by one they cost a round trip each, and on PostgreSQL
//! round trips set the pace of a bill more than the work inside them (`bench bills --phases ceiling`). So they are
//! collected here and [`Deferred::flush`] sends them:
//!
//! - on PostgreSQL as **one statement**: each write is a data-modifying CTE with `RETURNING 1`, and the statement
//!   returns how many rows each one wrote. PostgreSQL runs a data-modifying CTE when the query first reads it, and
//!   the final `SELECT` reads the counts in the order the writes were pushed, so row locks are still taken in the
//!   one order every transaction uses;
//! - on SQLite (one writer, no round trips) one statement after another, as is a lone write on PostgreSQL.
//!
//! Every write says how many rows it must touch; a guard that refused fails the flush with the write's conflict,
//! and the caller's transaction must then be dropped.

use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Expr, ExprTrait, InsertStatement, PostgresQueryBuilder, Query,
    SelectStatement, SubQueryStatement, UpdateStatement, WithClause, WithQuery,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{Conflict, Error, Result};

/// The writes, in the order they must run.
#[derive(Default)]
#[must_use = "flush the deferred writes before committing"]
pub struct Deferred {
    writes: Vec<(Write, Check)>,
}

/// An `INSERT` or an `UPDATE`.
#[derive(Clone)]
pub enum Write {
    Insert(InsertStatement),
    Update(UpdateStatement),
}

impl From<InsertStatement> for Write {
    fn from(statement: InsertStatement) -> Self {
        Write::Insert(statement)
    }
}

impl From<UpdateStatement> for Write {
    fn from(statement: UpdateStatement) -> Self {
        Write::Update(statement)
    }
}

/// What a write must have touched.
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// Anything (an insert that may meet an existing row and do nothing).
    Any,
    /// Exactly this many rows, or the flush fails with the conflict (a guarded update that refused).
    Exactly(u64, Conflict),
}

impl Check {
    fn verify(self, touched: u64) -> Result<()> {
        match self {
            Check::Exactly(expected, conflict) if touched != expected => Err(Error::Conflict(conflict)),
            Check::Exactly(..) | Check::Any => Ok(()),
        }
    }
}

impl Deferred {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write, to run after every write pushed before it.
    pub fn push(&mut self, write: impl Into<Write>, check: Check) {
        self.writes.push((write.into(), check));
    }

    /// Sends every write, in order, and checks what each touched.
    pub async fn flush(self, txn: &impl ConnectionTrait) -> Result<()> {
        if self.writes.is_empty() {
            return Ok(());
        }
        let backend = txn.get_database_backend();
        // A lone write gains nothing from the CTE around it.
        if backend != DbBackend::Postgres || self.writes.len() == 1 {
            for (write, check) in self.writes {
                let statement = match write {
                    Write::Insert(s) => backend.build(&s),
                    Write::Update(s) => backend.build(&s),
                };
                check.verify(txn.execute_raw(statement).await?.rows_affected())?;
            }
            return Ok(());
        }
        let (sql, values) = one_statement(&self.writes).build(PostgresQueryBuilder);
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the deferred writes returned no row")))?;
        for (k, (_, check)) in self.writes.iter().enumerate() {
            let touched: i64 = row.try_get("", &format!("n{k}"))?;
            check.verify(u64::try_from(touched).unwrap_or_default())?;
        }
        Ok(())
    }
}

/// `WITH w0 AS (... RETURNING 1), w1 AS (...) SELECT (SELECT COUNT(*) FROM w0) AS n0, ...`: reading the counts in
/// order runs the writes in order.
fn one_statement(writes: &[(Write, Check)]) -> WithQuery {
    let mut with = WithClause::new();
    let mut counts = Query::select();
    for (k, (write, _)) in writes.iter().enumerate() {
        let name = Alias::new(format!("w{k}"));
        let returning = Query::returning().expr(Expr::val(1));
        let statement: SubQueryStatement = match write.clone() {
            Write::Insert(mut s) => s.returning(returning).to_owned().into(),
            Write::Update(mut s) => s.returning(returning).to_owned().into(),
        };
        with.cte(CommonTableExpression::new().query(statement).table_name(name.clone()).to_owned());
        let count: SelectStatement = Query::select().expr(Expr::col(Asterisk).count()).from(name).to_owned();
        counts.expr_as(Expr::SubQuery(None, Box::new(count.into())), Alias::new(format!("n{k}")));
    }
    counts.with(with)
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};

    use super::*;

    #[test]
    fn postgres_gets_one_statement_that_counts_each_write_in_the_order_pushed() {
        let mut deferred = Deferred::new();
        let insert =
            Query::insert().into_table(Alias::new("a")).columns([Alias::new("x")]).values_panic([7.into()]).to_owned();
        let update = Query::update()
            .table(Alias::new("b"))
            .value(Alias::new("y"), Expr::col(Alias::new("y")).add(-2))
            .and_where(Expr::col(Alias::new("y")).add(-2).gte(0))
            .to_owned();
        deferred.push(insert, Check::Any);
        deferred.push(update, Check::Exactly(1, Conflict::OutOfStock));
        let (sql, values) = one_statement(&deferred.writes).build(PostgresQueryBuilder);
        assert_eq!(
            sql,
            r#"WITH "w0" AS (INSERT INTO "a" ("x") VALUES ($1) RETURNING $2) , "#.to_owned()
                + r#""w1" AS (UPDATE "b" SET "y" = "y" + $3 WHERE "y" + $4 >= $5 RETURNING $6) "#
                + r#"SELECT (SELECT COUNT(*) FROM "w0") AS "n0", (SELECT COUNT(*) FROM "w1") AS "n1""#
        );
        assert_eq!(values.0.len(), 6);
    }
}
