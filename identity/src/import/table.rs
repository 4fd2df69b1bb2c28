//! An existing deployment's contact table as a source of checkouts: which table and columns,
//! with presets for the schemas the common Node services create (Prisma, TypeORM, Sequelize).

use crate::error::{Error, Field, Result};

/// The table of an existing deployment to import (over a PostgreSQL URL): each visible row is
/// one checkout at its creation time (ties by id), and the rows it links stay one customer.
///
/// ```
/// use identity::import::{Preset, TableSource};
/// let prisma = Preset::parse("prisma")?.source();
/// assert_eq!(prisma.table, "Contact");
/// let custom = TableSource::new("legacy.customers_contact")
///     .column(identity::import::Column::PhoneNumber, "phone");
/// assert_eq!(custom.phone_number, "phone");
/// # Ok::<(), identity::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableSource {
    /// The table, optionally schema-qualified (`legacy.Contact`); names are taken exactly as
    /// written (quoted).
    pub table: String,
    /// The row id column.
    pub id: String,
    /// The email column.
    pub email: String,
    /// The phone number column (text or a number).
    pub phone_number: String,
    /// The column linking a secondary to its primary; a table without it links nothing.
    pub linked_id: String,
    /// The creation time column (`timestamp` is read as UTC).
    pub created_at: String,
    /// The soft-delete column: rows where it is set are not imported; a table without it has
    /// every row visible.
    pub deleted_at: String,
}

/// A column of a [`TableSource`], to rename with [`TableSource::column`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Column {
    /// [`TableSource::id`].
    Id,
    /// [`TableSource::email`].
    Email,
    /// [`TableSource::phone_number`].
    PhoneNumber,
    /// [`TableSource::linked_id`].
    LinkedId,
    /// [`TableSource::created_at`].
    CreatedAt,
    /// [`TableSource::deleted_at`].
    DeletedAt,
}

/// The table layouts of the common implementations of the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Preset {
    /// Prisma's `model Contact`: table `"Contact"`, camelCase columns.
    Prisma,
    /// TypeORM's `@Entity() class Contact`: table `contact`, camelCase columns.
    TypeOrm,
    /// Sequelize's `Contact` model: table `"Contacts"`, camelCase columns.
    Sequelize,
}

impl Preset {
    /// `prisma`, `typeorm` or `sequelize` (any case).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Table`] for another name.
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "prisma" => Ok(Preset::Prisma),
            "typeorm" => Ok(Preset::TypeOrm),
            "sequelize" => Ok(Preset::Sequelize),
            _ => Err(Error::invalid(
                Field::Table,
                "unknown preset (expected prisma, typeorm or sequelize)",
            )),
        }
    }

    /// The preset's table and columns.
    #[must_use]
    pub fn source(self) -> TableSource {
        TableSource::new(match self {
            Preset::Prisma => "Contact",
            Preset::TypeOrm => "contact",
            Preset::Sequelize => "Contacts",
        })
    }
}

impl TableSource {
    /// `table` with the task's column names: `id`, `email`, `phoneNumber`, `linkedId`,
    /// `createdAt`, `deletedAt`.
    #[must_use]
    pub fn new(table: impl Into<String>) -> Self {
        TableSource {
            table: table.into(),
            id: "id".into(),
            email: "email".into(),
            phone_number: "phoneNumber".into(),
            linked_id: "linkedId".into(),
            created_at: "createdAt".into(),
            deleted_at: "deletedAt".into(),
        }
    }

    /// The same source with `column` named `name`.
    #[must_use]
    pub fn column(mut self, column: Column, name: impl Into<String>) -> Self {
        let name = name.into();
        match column {
            Column::Id => self.id = name,
            Column::Email => self.email = name,
            Column::PhoneNumber => self.phone_number = name,
            Column::LinkedId => self.linked_id = name,
            Column::CreatedAt => self.created_at = name,
            Column::DeletedAt => self.deleted_at = name,
        }
        self
    }

    /// The schema (if named) and the table.
    pub(crate) fn schema_and_table(&self) -> (Option<&str>, &str) {
        match self.table.split_once('.') {
            Some((schema, table)) => (Some(schema), table),
            None => (None, self.table.as_str()),
        }
    }
}

/// `name` as a quoted SQL identifier (inner quotes doubled): never more than one name.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_name_their_tables() {
        assert_eq!(
            Preset::parse(" TypeORM ").unwrap().source().table,
            "contact"
        );
        assert_eq!(
            Preset::parse("sequelize").unwrap().source().table,
            "Contacts"
        );
        assert!(Preset::parse("knex").is_err());
    }

    #[test]
    fn identifiers_are_quoted_whole() {
        assert_eq!(quoted("phoneNumber"), "\"phoneNumber\"");
        assert_eq!(
            quoted("a\"; DROP TABLE x; --"),
            "\"a\"\"; DROP TABLE x; --\""
        );
        let s = TableSource::new("legacy.Contact");
        assert_eq!(s.schema_and_table(), (Some("legacy"), "Contact"));
    }
}
