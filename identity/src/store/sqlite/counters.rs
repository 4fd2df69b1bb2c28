//! The counters a SQLite write draws from: contact ids and record base numbers.

/// AUTOINCREMENT's next contact id: past every id ever used (the sequence) and every id there.
pub(super) const NEXT_ID: &str = "\
SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'contact'), 0),
           coalesce((SELECT max(id) FROM contact), 0)) + 1";

/// Takes the next base number (the record written next reads it): a base number names one
/// content of a customer's record for as long as the database lives (`bases.rs`).
pub(super) const NEXT_BASE: &str = "UPDATE identity_base_seq SET n = n + 1";
