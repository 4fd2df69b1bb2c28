//! Tables of the Node services people replace, as their ORMs create them, filled with the data
//! their races leave behind: the source of every table-import test.

use sqlx::postgres::PgPool;

use crate::TestDb;

/// The layouts the import has presets for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Prisma: `"Contact"`, `timestamp(3)` times, a text phone.
    Prisma,
    /// TypeORM: `contact`, `timestamp` times, a varchar phone.
    TypeOrm,
    /// Sequelize: `"Contacts"`, `timestamptz` times, an integer phone.
    Sequelize,
}

impl Layout {
    /// Every layout.
    pub const ALL: [Layout; 3] = [Layout::Prisma, Layout::TypeOrm, Layout::Sequelize];

    /// The preset's name on the command line.
    pub fn preset(self) -> &'static str {
        match self {
            Layout::Prisma => "prisma",
            Layout::TypeOrm => "typeorm",
            Layout::Sequelize => "sequelize",
        }
    }

    /// The table, quoted as SQL needs it.
    pub fn table(self) -> &'static str {
        match self {
            Layout::Prisma => "\"Contact\"",
            Layout::TypeOrm => "contact",
            Layout::Sequelize => "\"Contacts\"",
        }
    }

    fn ddl(self) -> String {
        let (phone, time) = match self {
            Layout::Prisma => ("TEXT", "TIMESTAMP(3)"),
            Layout::TypeOrm => ("CHARACTER VARYING", "TIMESTAMP"),
            Layout::Sequelize => ("INTEGER", "TIMESTAMP WITH TIME ZONE"),
        };
        format!(
            "CREATE TABLE {t} (id SERIAL PRIMARY KEY, \"phoneNumber\" {phone}, email TEXT, \
             \"linkedId\" INTEGER REFERENCES {t} (id), \"linkPrecedence\" TEXT NOT NULL, \
             \"createdAt\" {time} NOT NULL, \"updatedAt\" {time} NOT NULL, \"deletedAt\" {time})",
            t = self.table()
        )
    }
}

/// One legacy row: email, phone, linked id, soft-deleted.
pub type LegacyRow = (
    Option<&'static str>,
    Option<&'static str>,
    Option<i32>,
    bool,
);

/// The rows of [`race_damaged`], ids 1.. in order, a minute apart from 2023-04-01 10:00 UTC.
pub const RACE_DAMAGED: [LegacyRow; 14] = [
    (Some("lorraine@hillvalley.edu"), Some("123456"), None, false), // 1
    (Some("mcfly@hillvalley.edu"), Some("123456"), Some(1), false), // 2
    // 20 identical concurrent requests left five primaries for one person
    (Some("george@hillvalley.edu"), Some("717171"), None, false), // 3
    (Some("george@hillvalley.edu"), Some("717171"), None, false), // 4
    (Some("george@hillvalley.edu"), Some("717171"), None, false), // 5
    (Some("george@hillvalley.edu"), Some("717171"), None, false), // 6
    (Some("george@hillvalley.edu"), Some("717171"), None, false), // 7
    (Some("biff@hillvalley.edu"), Some("717171"), Some(5), false), // 8: linked to a duplicate
    (Some("doc@hillvalley.edu"), Some("555"), None, false),       // 9
    // a merge made without a row: 10 shares no value with 9
    (Some("emmett@hillvalley.edu"), Some("999"), Some(9), false), // 10
    (Some("marty@hillvalley.edu"), Some("999"), Some(10), false), // 11: a chain
    (Some("gone@hillvalley.edu"), Some("123456"), Some(1), true), // 12: soft-deleted
    // one phone in two customers
    (Some("alice@shop.io"), Some("42"), None, false), // 13
    (Some("bob@shop.io"), Some("42"), None, false),   // 14
];

/// What importing [`RACE_DAMAGED`] must give: rows, customers, customers of the table merged
/// into older ones for holding one of their values exactly (the races' duplicates), chains
/// repaired.
pub const RACE_DAMAGED_RESULT: (u64, u64, u64, u64) = (9, 4, 5, 1);

/// A fresh database holding `layout`'s table with the rows of [`RACE_DAMAGED`].
pub async fn race_damaged(layout: Layout) -> TestDb {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    fill(&pool, layout).await;
    pool.close().await;
    db
}

/// Creates `layout`'s table in `pool`'s database and fills it with [`RACE_DAMAGED`].
pub async fn fill(pool: &PgPool, layout: Layout) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(layout.ddl()))
        .execute(pool)
        .await
        .unwrap();
    let phone_cast = if layout == Layout::Sequelize {
        "::integer"
    } else {
        ""
    };
    let insert = format!(
        "INSERT INTO {} (email, \"phoneNumber\", \"linkedId\", \"linkPrecedence\", \"createdAt\",
             \"updatedAt\", \"deletedAt\")
         VALUES ($1, $2{phone_cast}, $3, $4,
                 TIMESTAMPTZ '2023-04-01 10:00:00+00' + make_interval(mins => $5),
                 TIMESTAMPTZ '2023-04-01 10:00:00+00' + make_interval(mins => $5),
                 CASE WHEN $6 THEN TIMESTAMPTZ '2024-01-01 00:00:00+00' END)",
        layout.table()
    );
    for (i, (email, phone, linked, deleted)) in RACE_DAMAGED.iter().enumerate() {
        let precedence = if linked.is_some() {
            "secondary"
        } else {
            "primary"
        };
        sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
            .bind(email)
            .bind(phone)
            .bind(linked)
            .bind(precedence)
            .bind(i as i32)
            .bind(deleted)
            .execute(pool)
            .await
            .unwrap();
    }
}

/// One row of [`MESSY`]: its id, email, phone, link, minute of creation, whether it is
/// soft-deleted, and the person it is (what every id must still name after an import).
#[derive(Debug, Clone, Copy)]
pub struct MessyRow {
    pub id: i32,
    pub email: Option<&'static str>,
    pub phone: Option<&'static str>,
    pub linked: Option<i32>,
    pub minute: i32,
    pub deleted: bool,
    pub person: &'static str,
}

const fn messy(
    id: i32,
    email: Option<&'static str>,
    phone: Option<&'static str>,
    linked: Option<i32>,
    minute: i32,
    deleted: bool,
    person: &'static str,
) -> MessyRow {
    MessyRow {
        id,
        email,
        phone,
        linked,
        minute,
        deleted,
        person,
    }
}

/// A table as years of a Node service leave it: ids with gaps, the same person in other
/// spellings, race duplicates, chains, soft-deleted rows (a primary among them), a primary
/// created after its secondary, a malformed row and a placeholder phone.
pub const MESSY: [MessyRow; 18] = [
    messy(
        3,
        Some("marty@hv.edu"),
        Some("555-0101"),
        None,
        3,
        false,
        "marty",
    ),
    // another spelling of marty: the old service kept it apart
    messy(
        4,
        Some("Marty@HV.edu"),
        Some("(555) 0101"),
        None,
        4,
        false,
        "marty",
    ),
    messy(
        7,
        Some("doc@hv.edu"),
        Some("555-0202"),
        None,
        7,
        false,
        "doc",
    ),
    // a race's duplicate of 7, and rows linked to it, one through a chain
    messy(
        8,
        Some("doc@hv.edu"),
        Some("555-0202"),
        None,
        8,
        false,
        "doc",
    ),
    messy(
        10,
        Some("emmett@hv.edu"),
        Some("555-0303"),
        Some(8),
        10,
        false,
        "doc",
    ),
    messy(
        11,
        Some("brown@hv.edu"),
        Some("555-0404"),
        Some(10),
        11,
        false,
        "doc",
    ),
    // a soft-deleted primary with two secondaries that share nothing
    messy(
        15,
        Some("biff@hv.edu"),
        Some("555-0505"),
        None,
        15,
        true,
        "biff",
    ),
    messy(
        16,
        Some("tannen@hv.edu"),
        Some("555-0606"),
        Some(15),
        16,
        false,
        "biff",
    ),
    messy(
        20,
        Some("griff@hv.edu"),
        Some("555-0707"),
        Some(15),
        20,
        false,
        "biff",
    ),
    // a primary created after its secondary
    messy(
        21,
        Some("lorraine@hv.edu"),
        Some("555-0808"),
        None,
        21,
        false,
        "lorraine",
    ),
    messy(
        22,
        Some("baines@hv.edu"),
        Some("555-0909"),
        Some(21),
        5,
        false,
        "lorraine",
    ),
    messy(30, Some("george@hv.edu"), None, None, 30, false, "george"),
    // george in capitals with a new phone: its own customer in the old table
    messy(
        31,
        Some(" GEORGE@hv.edu"),
        Some("555 1010"),
        None,
        31,
        false,
        "george",
    ),
    messy(
        40,
        Some("jennifer@hv.edu"),
        Some("555-1111"),
        None,
        40,
        false,
        "jennifer",
    ),
    messy(
        41,
        Some("not-an-email"),
        Some("555-1212"),
        Some(40),
        41,
        false,
        "jennifer",
    ),
    messy(
        42,
        Some("jennifer@hv.edu"),
        Some("0000000"),
        Some(40),
        42,
        false,
        "jennifer",
    ),
    messy(55, Some("einstein@"), None, None, 55, false, "einstein"),
    messy(
        60,
        Some("parker@hv.edu"),
        Some("555-1313"),
        Some(40),
        60,
        true,
        "jennifer",
    ),
];

/// The customer each person of [`MESSY`] is after an import (`--on-error skip`), by its
/// primary's id, and the email to look it up by; einstein's only row is malformed.
pub const MESSY_PEOPLE: [(&str, Option<i64>, &str); 7] = [
    ("marty", Some(3), "marty@hv.edu"),
    ("doc", Some(7), "doc@hv.edu"),
    ("biff", Some(16), "tannen@hv.edu"),
    ("lorraine", Some(22), "lorraine@hv.edu"),
    ("george", Some(30), "george@hv.edu"),
    ("jennifer", Some(40), "jennifer@hv.edu"),
    ("einstein", None, "einstein@hv.edu"),
];

/// A fresh database holding `layout`'s table with the rows of [`MESSY`] under their ids (a
/// layout with a text phone: Prisma or TypeORM; Sequelize's integer phone holds no
/// punctuation).
pub async fn messy_table(layout: Layout) -> TestDb {
    assert_ne!(layout, Layout::Sequelize, "MESSY's phones are text");
    let db = TestDb::create().await;
    let pool = db.pool().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(layout.ddl()))
        .execute(&pool)
        .await
        .unwrap();
    let insert = format!(
        "INSERT INTO {} (id, email, \"phoneNumber\", \"linkedId\", \"linkPrecedence\",
             \"createdAt\", \"updatedAt\", \"deletedAt\")
         VALUES ($1, $2, $3, $4, $5,
                 TIMESTAMPTZ '2023-04-01 10:00:00+00' + make_interval(mins => $6),
                 TIMESTAMPTZ '2023-04-01 10:00:00+00' + make_interval(mins => $6),
                 CASE WHEN $7 THEN TIMESTAMPTZ '2024-01-01 00:00:00+00' END)",
        layout.table()
    );
    for row in MESSY {
        let precedence = if row.linked.is_some() {
            "secondary"
        } else {
            "primary"
        };
        sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
            .bind(row.id)
            .bind(row.email)
            .bind(row.phone)
            .bind(row.linked)
            .bind(precedence)
            .bind(row.minute)
            .bind(row.deleted)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    db
}
