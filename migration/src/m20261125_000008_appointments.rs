//! Appointments: store opening hours and closed days, staff shifts with their exceptions, staff skills, rooms and
//! beds, bookings and the time they hold, members' one-time subscriptions, and the notification outbox that
//! reminders go through. Store booking settings and service timing live on their existing tables.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000008_appointments"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

fn int_default(name: &'static str, default: i32) -> ColumnDef {
    ColumnDef::new(col(name)).integer().not_null().default(default).take()
}

fn int_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(col(name)).integer().null().take()
}

fn date(name: &'static str) -> ColumnDef {
    ColumnDef::new(col(name)).date().not_null().take()
}

/// Columns added to existing tables, one `ALTER TABLE` each (SQLite alters one column per statement).
fn added_columns() -> Vec<(&'static str, ColumnDef)> {
    vec![
        // Start times are offered on this grid (minutes from local midnight).
        ("stores", int_default("booking_granularity_min", 15)),
        // Cancelling closer than this to the start counts as a late cancellation; members can no longer reschedule.
        ("stores", int_default("booking_cutoff_min", 120)),
        // How far ahead members may book.
        ("stores", int_default("booking_horizon_days", 30)),
        // least_busy | rotation | usual: who "anyone" gets.
        ("stores", ColumnDef::new(col("booking_anyone_policy")).string().not_null().default("least_busy").take()),
        // Minutes before the start that the member and the staff member are reminded (0: not reminded).
        ("stores", int_default("member_reminder_min", 120)),
        ("stores", int_default("staff_reminder_min", 30)),
        // Clean-up after the service, still the staff member's time.
        ("service_items", int_default("buffer_min", 0)),
        // A processing window (colour developing): the staff member is free from offset for length minutes.
        ("service_items", int_null("processing_offset_min")),
        ("service_items", int_null("processing_min")),
        // The kind of room or bed the service needs (`massage_bed`), if any.
        ("service_items", text_null(col("resource_kind"))),
        // Where staff reminders go by SMS (sealed like members' phones).
        ("staff", ColumnDef::new(col("phone_sealed")).text().null().take()),
        // The WeChat subscribe-message template for booking reminders and how its fields are filled (JSON).
        ("merchants", ColumnDef::new(col("booking_reminder_template")).text().null().take()),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, def) in added_columns() {
            m.alter_table(Table::alter().table(col(table)).add_column(def).take()).await?;
        }

        // Opening hours per ISO weekday (1 = Monday), minutes from local midnight; several rows make a lunch break.
        m.create_table(
            Table::create()
                .table(col("store_hours"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("store_id")))
                .col(int(col("weekday")))
                .col(int(col("opens_min")))
                .col(int(col("closes_min")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("store_hours"), "ix_store_hours_store", &["store_id", "weekday"], false)).await?;

        m.create_table(
            Table::create()
                .table(col("store_closures"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("store_id")))
                .col(date("day"))
                .col(text(col("reason")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("store_closures"), "ux_store_closures_day", &["store_id", "day"], true)).await?;

        // Weekly shifts, local minutes, per staff member and store.
        m.create_table(
            Table::create()
                .table(col("staff_shifts"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("store_id")))
                .col(fk_id(col("staff_id")))
                .col(int(col("weekday")))
                .col(int(col("starts_min")))
                .col(int(col("ends_min")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("staff_shifts"), "ix_staff_shifts_store", &["store_id", "staff_id"], false)).await?;

        // Exceptions on one local day: leave (the whole day when no times) or an extra shift.
        m.create_table(
            Table::create()
                .table(col("staff_shift_exceptions"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("store_id")))
                .col(fk_id(col("staff_id")))
                .col(date("day"))
                .col(text(col("kind")))
                .col(int_null("starts_min"))
                .col(int_null("ends_min"))
                .col(text(col("note")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("staff_shift_exceptions"), "ix_shift_exceptions_store", &["store_id", "day"], false))
            .await?;

        // Which services a staff member may do, optionally at their own price or duration.
        m.create_table(
            Table::create()
                .table(col("staff_skills"))
                .col(fk_id(col("staff_id")))
                .col(fk_id(col("service_item_id")))
                .col(fk_id(col("merchant_id")))
                .col(ColumnDef::new(col("price_fen")).big_integer().null())
                .col(int_null("duration_min"))
                .primary_key(Index::create().col(col("staff_id")).col(col("service_item_id")))
                .to_owned(),
        )
        .await?;

        // Rooms and beds: a kind and how many clients it takes at once.
        m.create_table(
            Table::create()
                .table(col("resources"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("store_id")))
                .col(text(col("name")))
                .col(text(col("kind")))
                .col(int(col("capacity")))
                .col(flag(col("active"), true))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("resources"), "ix_resources_store", &["store_id", "kind"], false)).await?;

        m.create_table(
            Table::create()
                .table(col("bookings"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("store_id")))
                .col(fk_id(col("member_id")))
                .col(fk_id(col("staff_id")))
                .col(at(col("starts_at")))
                .col(at(col("ends_at")))
                // booked | confirmed | arrived | completed | cancelled | no_show
                .col(text(col("status")))
                // mini | desk
                .col(text(col("source")))
                // chosen | least_busy | rotation | usual
                .col(text(col("assigned_by")))
                .col(text_null(col("idempotency_key")))
                // What the key was used for, so a reused key with another request is refused.
                .col(text_null(col("fingerprint")))
                .col(text(col("note")))
                .col(flag(col("late_cancel"), false))
                .col(int_default("reschedules", 0))
                .col(fk_id_null(col("bill_id")))
                .col(fk_id_null(col("created_by_staff_id")))
                .col(at(col("created_at")))
                .col(at(col("updated_at")))
                .col(at_null(col("confirmed_at")))
                .col(at_null(col("arrived_at")))
                .col(at_null(col("finished_at")))
                .col(text_null(col("cancel_reason")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("bookings"), "ux_bookings_key", &["merchant_id", "idempotency_key"], true)).await?;
        m.create_index(index(col("bookings"), "ix_bookings_store_start", &["store_id", "starts_at"], false)).await?;
        m.create_index(index(col("bookings"), "ix_bookings_member", &["member_id", "starts_at"], false)).await?;
        m.create_index(index(col("bookings"), "ix_bookings_status_start", &["status", "starts_at"], false)).await?;

        // The services of a booking, in order, each with its own times.
        m.create_table(
            Table::create()
                .table(col("booking_items"))
                .col(id(col("id")))
                .col(fk_id(col("booking_id")))
                .col(int(col("seq")))
                .col(fk_id(col("service_item_id")))
                .col(text(col("name")))
                .col(amount(col("price_fen")))
                .col(at(col("starts_at")))
                .col(at(col("ends_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("booking_items"), "ix_booking_items_booking", &["booking_id"], false)).await?;

        // The time a live booking holds: its staff member's working spans (processing windows left free) and each
        // room or bed it uses. Slot search and the double-booking check read only this.
        m.create_table(
            Table::create()
                .table(col("booking_holds"))
                .col(id(col("id")))
                .col(fk_id(col("booking_id")))
                .col(fk_id(col("store_id")))
                .col(fk_id_null(col("staff_id")))
                .col(text_null(col("resource_kind")))
                .col(at(col("starts_at")))
                .col(at(col("ends_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("booking_holds"), "ix_booking_holds_store", &["store_id", "starts_at"], false))
            .await?;
        m.create_index(index(col("booking_holds"), "ix_booking_holds_staff", &["staff_id", "starts_at"], false))
            .await?;
        m.create_index(index(col("booking_holds"), "ix_booking_holds_booking", &["booking_id"], false)).await?;

        // One row per one-time subscription a member accepted; a message sent consumes one.
        m.create_table(
            Table::create()
                .table(col("member_subscriptions"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("member_id")))
                .col(text(col("template_id")))
                .col(at(col("accepted_at")))
                .col(at_null(col("consumed_at")))
                .col(fk_id_null(col("consumed_by")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            col("member_subscriptions"),
            "ix_member_subscriptions_open",
            &["member_id", "template_id", "consumed_at"],
            false,
        ))
        .await?;

        // Messages to send. Written in the transaction that decides them, sent after; `dedupe_key` makes deciding
        // twice write one row.
        m.create_table(
            Table::create()
                .table(col("notification_outbox"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                // wechat_subscribe | sms
                .col(text(col("channel")))
                // member_reminder | staff_reminder
                .col(text(col("purpose")))
                .col(fk_id_null(col("booking_id")))
                // member:<id> | staff:<id>
                .col(text(col("recipient")))
                .col(text(col("dedupe_key")))
                .col(ColumnDef::new(col("payload")).text().not_null())
                // pending | sending | sent | failed | skipped
                .col(text(col("status")))
                .col(int_default("attempts", 0))
                .col(at(col("next_attempt_at")))
                .col(at_null(col("claimed_until")))
                .col(text_null(col("error_code")))
                .col(ColumnDef::new(col("error")).text().null())
                .col(at(col("created_at")))
                .col(at_null(col("sent_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("notification_outbox"), "ux_outbox_dedupe", &["dedupe_key"], true)).await?;
        m.create_index(index(col("notification_outbox"), "ix_outbox_due", &["status", "next_attempt_at"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "notification_outbox",
            "member_subscriptions",
            "booking_holds",
            "booking_items",
            "bookings",
            "resources",
            "staff_skills",
            "staff_shift_exceptions",
            "staff_shifts",
            "store_closures",
            "store_hours",
        ] {
            m.drop_table(Table::drop().table(col(table)).to_owned()).await?;
        }
        for (table, def) in added_columns().into_iter().rev() {
            let name = def.get_column_name();
            m.alter_table(Table::alter().table(col(table)).drop_column(Alias::new(name)).take()).await?;
        }
        Ok(())
    }
}
