//! Column and index builders shared by the migrations, so every table spells ids, money and times the same way.

use sea_orm_migration::prelude::*;

pub fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().take()
}

pub fn fk_id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().take()
}

pub fn fk_id_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().null().take()
}

pub fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().not_null().take()
}

pub fn text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().null().take()
}

pub fn at(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().take()
}

pub fn at_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().take()
}

pub fn flag(col: impl IntoIden, default: bool) -> ColumnDef {
    ColumnDef::new(col).boolean().not_null().default(default).take()
}

pub fn index(table: impl IntoIden, name: &str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    if unique {
        stmt.unique();
    }
    stmt.take()
}

/// Money in integer fen, or a count of points or sessions: always a 64-bit integer.
pub fn amount(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().take()
}

pub fn amount_default(col: impl IntoIden, default: i64) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().default(default).take()
}

pub fn int(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).integer().not_null().take()
}
