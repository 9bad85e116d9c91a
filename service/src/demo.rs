//! Demo data for the embedded default: a salon brand with two stores, one account per role, a dozen members and a
//! service menu, recharge plans and some stored value, levels with discounts, retail products in stock, count-card
//! products and commission rules, opening hours, shifts, skills, beds and a reminder template for booking, so a
//! newcomer sees a working system in one command. Seeded once; a second run changes nothing.

pub mod showcase;

use chrono::NaiveDate;
use rand::Rng;
use rand::distributions::Alphanumeric;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};

use entity::{
    member_allergies, member_levels, member_tags, members, merchants, service_items, staff, staff_stores, stores,
};

use crate::commission::rules::Tier;
use crate::domain::{Fen, Gender, Password, PersonName, PhoneNumber, Role, Username};
use crate::foundation::merchants::{NewMerchant, NewStaff, insert_staff};
use crate::foundation::vault::Field;
use crate::loyalty::levels::LevelRule;
use crate::members::{NAME_INDEX, PHONE_INDEX};
use crate::{AppContext, Result};

pub const DEMO_CODE: &str = "demo";
/// The subscribe-message template the demo reminds members with (the sandbox accepts any id).
pub const DEMO_REMINDER_TEMPLATE: &str = "demo-booking-reminder";

pub struct DemoAccount {
    pub username: String,
    pub password: String,
    pub role: Role,
}

pub struct DemoSeed {
    pub merchant_id: i64,
    pub store_ids: Vec<i64>,
    pub accounts: Vec<DemoAccount>,
}

pub fn random_password() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(14).map(char::from).collect()
}

/// The demo merchant's id, when it has been seeded.
pub async fn merchant_id(ctx: &AppContext) -> Result<Option<i64>> {
    Ok(merchants::Entity::find().filter(merchants::Column::Code.eq(DEMO_CODE)).one(&ctx.db).await?.map(|m| m.id))
}

/// Seeds the demo merchant unless it exists. `password_for` picks each account's password (random at start-up,
/// known in tests).
pub async fn seed(ctx: &AppContext, password_for: &dyn Fn(Role) -> String) -> Result<Option<DemoSeed>> {
    let exists = merchants::Entity::find().filter(merchants::Column::Code.eq(DEMO_CODE)).one(&ctx.db).await?;
    if exists.is_some() {
        return Ok(None);
    }
    let accounts: Vec<(&str, &str, Role, Option<usize>)> = vec![
        ("demo-owner", "林老板", Role::Owner, None),
        ("demo-manager", "周店长", Role::Manager, Some(0)),
        ("demo-marketing", "陈市场", Role::Marketing, None),
        ("demo-cashier", "王前台", Role::Cashier, Some(0)),
        ("demo-tech", "Tony 老师", Role::Technician, Some(0)),
        ("demo-tech2", "Amy 老师", Role::Technician, Some(0)),
        ("demo-tech3", "小美", Role::Technician, Some(1)),
    ];
    let mut hashed = Vec::new();
    for (username, _, role, _) in &accounts {
        let password = password_for(*role);
        let parsed = Password::parse(&password).map_err(|m| crate::Error::invalid("password", m))?;
        hashed.push((username.to_string(), password, crate::foundation::auth::hash_password(&parsed).await?));
    }

    let txn = ctx.db.begin().await?;
    let merchant = crate::foundation::merchants::create(
        ctx,
        &txn,
        NewMerchant { name: "悦己美发 Demo", code: DEMO_CODE, timezone: "Asia/Shanghai" },
    )
    .await?;
    let now = ctx.now();
    let mut store_ids = Vec::new();
    for (name, address) in [("人民广场店", "上海市黄浦区人民大道 100 号"), ("徐家汇店", "上海市徐汇区漕溪北路 88 号")]
    {
        let store = stores::ActiveModel {
            merchant_id: Set(merchant.id),
            name: Set(name.to_owned()),
            address: Set(address.to_owned()),
            phone: Set("021-6000 0000".to_owned()),
            timezone: Set("Asia/Shanghai".to_owned()),
            active: Set(true),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        store_ids.push(store.id);
    }
    let mut seeded = Vec::new();
    let mut staff_ids = std::collections::BTreeMap::new();
    for ((username, display, role, store), (_, password, hash)) in accounts.iter().zip(hashed) {
        let username_parsed = Username::parse(username).map_err(|m| crate::Error::invalid("username", m))?;
        let row = insert_staff(
            ctx,
            &txn,
            NewStaff {
                merchant_id: merchant.id,
                username: &username_parsed,
                display_name: display,
                role: *role,
                password_hash: hash,
                all_stores: store.is_none(),
            },
        )
        .await?;
        if let Some(index) = store {
            staff_stores::ActiveModel {
                staff_id: Set(row.id),
                store_id: Set(store_ids[*index]),
                merchant_id: Set(merchant.id),
            }
            .insert(&txn)
            .await?;
        }
        // How members see the technicians when they choose one for a booking.
        let title = match *username {
            "demo-tech" => "首席发型师",
            "demo-tech2" => "资深护理师",
            "demo-tech3" => "发型师",
            _ => "",
        };
        let row = if title.is_empty() {
            row
        } else {
            let mut titled: staff::ActiveModel = row.into();
            titled.title = Set(title.to_owned());
            titled.update(&txn).await?
        };
        staff_ids.insert(*username, row.id);
        seeded.push(DemoAccount { username: username.to_string(), password, role: *role });
    }

    // 银卡: ￥2000 spent, 95折, 1.2× points. 金卡: ￥5000 spent, 9折 (护理 85折), 1.5× points.
    let mut level_ids = vec![];
    for (name, rank, threshold_fen, discount_bp, overrides, points_multiplier_pct) in
        [("银卡会员", 1, 200_000, 9_500, &[][..], 120), ("金卡会员", 2, 500_000, 9_000, &[("护理", 8_500)][..], 150)]
    {
        let level = LevelRule {
            id: 0,
            name: name.to_owned(),
            rank,
            threshold_fen: Fen::new(threshold_fen),
            discount_bp,
            category_discounts: overrides.iter().map(|(category, bp)| ((*category).to_owned(), *bp)).collect(),
            points_multiplier_pct,
        };
        level_ids.push(crate::loyalty::levels::seed(&txn, merchant.id, level).await?);
    }
    let base_level = member_levels::Entity::find()
        .filter(member_levels::Column::MerchantId.eq(merchant.id))
        .filter(member_levels::Column::Rank.eq(0))
        .one(&txn)
        .await?
        .map(|l| l.id);

    let menu: [(&str, &str, i32, i64, &[&str]); 6] = [
        ("美发", "洗剪吹", 45, 6_800, &[]),
        ("美发", "烫发", 150, 38_800, &["硫代乙醇酸"]),
        ("美发", "染发", 120, 32_800, &["PPD"]),
        ("护理", "头皮护理", 60, 19_800, &[]),
        ("美容", "面部清洁", 60, 16_800, &["果酸"]),
        ("养生", "肩颈按摩", 60, 15_800, &[]),
    ];
    let mut service_ids = std::collections::BTreeMap::new();
    for (category, name, minutes, price, substances) in menu {
        let item = service_items::ActiveModel {
            merchant_id: Set(merchant.id),
            category: Set(category.to_owned()),
            name: Set(name.to_owned()),
            duration_min: Set(minutes),
            price_fen: Set(price),
            substances: Set(serde_json::to_string(substances).map_err(anyhow::Error::from)?),
            level_prices: Set("{}".to_owned()),
            active: Set(true),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        service_ids.insert(name, item.id);
    }
    seed_retail(&txn, merchant.id, &store_ids, &service_ids).await?;
    seed_booking(&txn, merchant.id, &store_ids, &staff_ids, &service_ids).await?;

    let people = [
        ("张丽", "13800000001", "female", (1990, 3, 12), &["VIP", "烫发客"][..], 1),
        ("王芳", "13800000002", "female", (1988, 11, 2), &["染发客"][..], 2),
        ("李娜", "13800000003", "female", (1995, 7, 21), &[][..], 0),
        ("刘洋", "13800000004", "male", (1992, 1, 5), &["商务"][..], 0),
        ("陈静", "13800000005", "female", (1985, 11, 30), &["VIP"][..], 2),
        ("杨帆", "13800000006", "male", (1998, 5, 18), &[][..], 0),
        ("赵敏", "13800000007", "female", (2000, 9, 9), &["学生"][..], 0),
        ("黄磊", "13800000008", "male", (1983, 12, 24), &["商务", "VIP"][..], 1),
        ("周婷", "13800000009", "female", (1993, 4, 1), &[][..], 1),
        ("吴昊", "13800000010", "male", (1996, 8, 15), &[][..], 0),
        ("徐佳", "13800000011", "female", (1991, 2, 14), &["烫发客"][..], 0),
        ("孙悦", "13800000012", "female", (1997, 6, 6), &["新客"][..], 0),
    ];
    for (i, (name, phone, gender, (y, m, d), tags, level)) in people.into_iter().enumerate() {
        let phone = PhoneNumber::parse(phone).map_err(|m| crate::Error::invalid("phone", m))?;
        let name = PersonName::parse(name).map_err(|m| crate::Error::invalid("name", m))?;
        let birthday = NaiveDate::from_ymd_opt(y, m, d);
        let member = members::ActiveModel {
            merchant_id: Set(merchant.id),
            home_store_id: Set(Some(store_ids[i % 2])),
            nickname: Set(String::new()),
            name_sealed: Set(Some(ctx.vault.seal(Field::MemberName, name.as_str()))),
            name_index: Set(Some(ctx.vault.blind_index(NAME_INDEX, &name.normalised()))),
            phone_sealed: Set(Some(ctx.vault.seal(Field::MemberPhone, phone.as_str()))),
            phone_index: Set(Some(ctx.vault.blind_index(PHONE_INDEX, phone.as_str()))),
            gender: Set(Gender::from_db(gender).as_str().to_owned()),
            birthday: Set(None),
            birthday_sealed: Set(birthday.map(|b| ctx.vault.seal(Field::MemberBirthday, &b.to_string()))),
            birth_month: Set(Some(i32::try_from(m).unwrap_or(1))),
            birth_day: Set(Some(i32::try_from(d).unwrap_or(1))),
            level_id: Set(if level == 0 { base_level } else { Some(level_ids[level - 1]) }),
            total_spend_fen: Set(i64::try_from(i).unwrap_or(0) * 52_300),
            preferences: Set("{}".to_owned()),
            preferences_sealed: Set(Some(ctx.vault.seal(Field::MemberPreferences, r#"{"drink":"温水"}"#))),
            source: Set("desk".to_owned()),
            anonymised_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        for tag in tags {
            member_tags::ActiveModel {
                member_id: Set(member.id),
                tag: Set((*tag).to_owned()),
                merchant_id: Set(merchant.id),
            }
            .insert(&txn)
            .await?;
        }
        if i == 1 {
            member_allergies::ActiveModel {
                merchant_id: Set(merchant.id),
                member_id: Set(member.id),
                substance_sealed: Set(ctx.vault.seal(Field::AllergySubstance, "PPD")),
                severity: Set("severe".to_owned()),
                note_sealed: Set(Some(ctx.vault.seal(Field::AllergyNote, "2023 年染发后头皮红肿，改用无 PPD 染膏"))),
                created_by: Set(1),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
        }
        // Members tagged VIP bought the ￥3000 plan at their home store, so stored value shows up at once.
        if tags.contains(&"VIP") {
            crate::cards::stored_value::seed_recharge(&txn, merchant.id, store_ids[i % 2], member.id, 300_000, 80_000)
                .await?;
        }
    }
    for (name, pay, bonus, bonus_points, validity_days) in [
        ("充500送50", 50_000, 5_000, 0, None),
        ("充1000送200", 100_000, 20_000, 0, None),
        ("充3000送800", 300_000, 80_000, 3_000, Some(730)),
    ] {
        entity::recharge_plans::ActiveModel {
            merchant_id: Set(merchant.id),
            name: Set(name.to_owned()),
            pay_fen: Set(pay),
            bonus_fen: Set(bonus),
            bonus_points: Set(bonus_points),
            validity_days: Set(validity_days),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(Some(DemoSeed { merchant_id: merchant.id, store_ids, accounts: seeded }))
}

/// Retail products with opening stock at both stores, two count-card products and the commission rules: 10% on
/// 美发 services rising with the stylist's monthly sales, and a fixed or percentage reward for selling each card.
async fn seed_retail(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    store_ids: &[i64],
    service_ids: &std::collections::BTreeMap<&str, i64>,
) -> Result<()> {
    // SKU, barcode, name, category, price, points price (a gift), opening stock at each demo store.
    let products = [
        ("DEMO-SH-500", Some("6923456789012"), "氨基酸洗发水 500ml", "洗护用品", 12_800, None, [24, 12]),
        ("DEMO-OIL-100", Some("6923456789029"), "护发精油 100ml", "洗护用品", 16_800, None, [15, 8]),
        ("DEMO-MASK-250", Some("6923456789036"), "修护发膜 250ml", "洗护用品", 9_800, None, [20, 10]),
        ("DEMO-SPRAY-150", None, "定型喷雾 150ml", "造型用品", 6_800, None, [10, 0]),
        ("DEMO-COMB", None, "檀木梳 (积分兑换)", "礼品", 3_800, Some(2_000), [30, 30]),
    ];
    for (sku, barcode, name, category, price, points_price, stock) in products {
        let stock: Vec<(i64, i64)> =
            store_ids.iter().copied().zip(stock).filter(|(_, quantity)| *quantity > 0).collect();
        let product = (sku, barcode, name, category, price, points_price);
        crate::store::products::seed_product(conn, merchant_id, product, &stock).await?;
    }
    let id_of = |name: &str| service_ids.get(name).copied().unwrap_or_default();
    let wash_card =
        crate::cards::card_products::seed(conn, merchant_id, "洗护10次卡", 58_000, 10, Some(365), &[id_of("洗剪吹")])
            .await?;
    let facial_course = crate::cards::card_products::seed(
        conn,
        merchant_id,
        "面部清洁 6 次疗程",
        79_800,
        6,
        Some(180),
        &[id_of("面部清洁")],
    )
    .await?;
    let tiers = |list: &[(i64, i64)]| -> Vec<Tier> {
        list.iter().map(|&(from_fen, value)| Tier { from_fen: Fen::new(from_fen), value }).collect()
    };
    crate::commission::rules::seed(
        conn,
        merchant_id,
        "service",
        None,
        Some("美发"),
        "percent",
        &tiers(&[(0, 1_000), (2_000_000, 1_200), (5_000_000, 1_500)]),
    )
    .await?;
    crate::commission::rules::seed(
        conn,
        merchant_id,
        "card_sale",
        Some(wash_card),
        None,
        "fixed",
        &tiers(&[(0, 2_000)]),
    )
    .await?;
    crate::commission::rules::seed(
        conn,
        merchant_id,
        "card_sale",
        Some(facial_course),
        None,
        "percent",
        &tiers(&[(0, 500)]),
    )
    .await?;
    Ok(())
}

/// Booking at the demo stores: open 10:00–21:00 every day; Tony (off on Wednesdays) and Amy at 人民广场店, 小美 at
/// 徐家汇店, with their skills; colour and perm develop while the stylist takes someone else; massage and facials
/// need a bed; members are reminded by a subscribe message two hours before.
async fn seed_booking(
    txn: &impl ConnectionTrait,
    merchant_id: i64,
    store_ids: &[i64],
    staff_ids: &std::collections::BTreeMap<&str, i64>,
    service_ids: &std::collections::BTreeMap<&str, i64>,
) -> Result<()> {
    let id = |map: &std::collections::BTreeMap<&str, i64>, key: &str| {
        map.get(key).copied().ok_or_else(|| crate::Error::Internal(anyhow::anyhow!("demo seed lacks {key}")))
    };
    for store_id in store_ids {
        for weekday in 1..=7 {
            entity::store_hours::ActiveModel {
                merchant_id: Set(merchant_id),
                store_id: Set(*store_id),
                weekday: Set(weekday),
                opens_min: Set(10 * 60),
                closes_min: Set(21 * 60),
                ..Default::default()
            }
            .insert(txn)
            .await?;
        }
    }
    // (account, store, weekdays, shift, skills)
    type Roster<'a> = (&'a str, usize, &'a [i32], (i32, i32), &'a [&'a str]);
    let rosters: [Roster; 3] = [
        ("demo-tech", 0, &[1, 2, 4, 5, 6, 7], (10 * 60, 19 * 60), &["洗剪吹", "烫发", "染发", "头皮护理"]),
        (
            "demo-tech2",
            0,
            &[1, 2, 3, 4, 5, 6, 7],
            (12 * 60, 21 * 60),
            &["洗剪吹", "染发", "头皮护理", "面部清洁", "肩颈按摩"],
        ),
        (
            "demo-tech3",
            1,
            &[1, 2, 3, 4, 5, 6, 7],
            (10 * 60, 21 * 60),
            &["洗剪吹", "烫发", "染发", "头皮护理", "面部清洁", "肩颈按摩"],
        ),
    ];
    for (username, store, weekdays, (from_min, to_min), skills) in rosters {
        let staff_id = id(staff_ids, username)?;
        for weekday in weekdays {
            entity::staff_shifts::ActiveModel {
                merchant_id: Set(merchant_id),
                staff_id: Set(staff_id),
                store_id: Set(store_ids[store]),
                weekday: Set(*weekday),
                starts_min: Set(from_min),
                ends_min: Set(to_min),
                ..Default::default()
            }
            .insert(txn)
            .await?;
        }
        for skill in skills {
            entity::staff_skills::ActiveModel {
                staff_id: Set(staff_id),
                service_item_id: Set(id(service_ids, skill)?),
                merchant_id: Set(merchant_id),
                price_fen: Set(None),
                duration_min: Set(None),
            }
            .insert(txn)
            .await?;
        }
    }
    // (service, clean-up minutes, processing window, resource kind)
    type Rule<'a> = (&'a str, i32, Option<(i32, i32)>, Option<&'a str>);
    let booking_rules: [Rule; 4] = [
        ("烫发", 10, Some((45, 60)), None),
        ("染发", 10, Some((30, 45)), None),
        ("面部清洁", 10, None, Some("facial_bed")),
        ("肩颈按摩", 5, None, Some("massage_bed")),
    ];
    for (name, buffer, processing, resource) in booking_rules {
        service_items::ActiveModel {
            id: sea_orm::ActiveValue::Unchanged(id(service_ids, name)?),
            buffer_min: Set(buffer),
            processing_offset_min: Set(processing.map(|(offset, _)| offset)),
            processing_min: Set(processing.map(|(_, length)| length)),
            resource_kind: Set(resource.map(str::to_owned)),
            ..Default::default()
        }
        .update(txn)
        .await?;
    }
    for (store, name, kind, capacity) in [
        (0, "按摩床", "massage_bed", 1),
        (0, "美容床", "facial_bed", 1),
        (1, "按摩床", "massage_bed", 2),
        (1, "美容床", "facial_bed", 1),
    ] {
        entity::resources::ActiveModel {
            merchant_id: Set(merchant_id),
            store_id: Set(store_ids[store]),
            name: Set(name.to_owned()),
            kind: Set(kind.to_owned()),
            capacity: Set(capacity),
            active: Set(true),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    let template = crate::booking::reminders::ReminderTemplate {
        template_id: DEMO_REMINDER_TEMPLATE.to_owned(),
        page: Some("pages/bookings/detail".to_owned()),
        fields: [
            ("thing1", "services"),
            ("time2", "starts_at"),
            ("thing3", "store"),
            ("thing4", "staff"),
            ("thing5", "note"),
        ]
        .into_iter()
        .map(|(key, source)| (key.to_owned(), source.to_owned()))
        .collect(),
    };
    merchants::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(merchant_id),
        booking_reminder_template: Set(Some(serde_json::to_string(&template).map_err(anyhow::Error::from)?)),
        ..Default::default()
    }
    .update(txn)
    .await?;
    Ok(())
}
