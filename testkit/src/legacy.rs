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

/// What importing [`RACE_DAMAGED`] must give: rows, customers, duplicate primaries repaired,
/// chains repaired.
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
