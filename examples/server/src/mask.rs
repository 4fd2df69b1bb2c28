//! Masking of personal data for logs: `george@hillvalley.edu` -> `g***@hillvalley.edu`,
//! `+15550109991` -> `***91`, a number of fewer than six digits -> `***`.

use std::fmt;

use identity::{Email, Phone};

/// An email or a phone number as the log shows it, written only when an event is: nothing is
/// formatted for a filtered-out event.
#[derive(Clone, Copy, Debug)]
pub enum Logged<'a> {
    /// The first character of the local part, then `***@` and the domain.
    Email(&'a Email),
    /// `***` and the last two digits; `***` alone for a number of fewer than six digits.
    Phone(&'a Phone),
    /// As is (`--log-unmasked`).
    Unmasked(&'a str),
}

/// `email` as the log shows it: masked unless `unmasked`.
#[must_use]
pub fn email(email: &Email, unmasked: bool) -> Logged<'_> {
    if unmasked {
        Logged::Unmasked(email.as_str())
    } else {
        Logged::Email(email)
    }
}

/// `phone` as the log shows it: masked unless `unmasked`.
#[must_use]
pub fn phone(phone: &Phone, unmasked: bool) -> Logged<'_> {
    if unmasked {
        Logged::Unmasked(phone.as_str())
    } else {
        Logged::Phone(phone)
    }
}

/// Fewest digits a phone number has before its last two are shown: in a shorter one, two
/// digits are most of the number.
const SHOWN_FROM_DIGITS: usize = 6;

impl fmt::Display for Logged<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Logged::Email(email) => {
                let (local, domain) = email
                    .as_str()
                    .split_once('@')
                    .unwrap_or((email.as_str(), ""));
                if let Some(first) = local.chars().next() {
                    write!(f, "{first}")?;
                }
                write!(f, "***@{domain}")
            }
            Logged::Phone(phone) => {
                let digits = phone.as_str();
                if digits.trim_start_matches('+').len() < SHOWN_FROM_DIGITS {
                    return f.write_str("***");
                }
                write!(f, "***{}", &digits[digits.len() - 2..])
            }
            Logged::Unmasked(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_identifies_nobody() {
        let masked_phone = |text: &str| phone(&Phone::parse(text).unwrap(), false).to_string();
        let e = Email::parse("George@HillValley.edu").unwrap();
        assert_eq!(email(&e, false).to_string(), "g***@hillvalley.edu");
        assert_eq!(email(&e, true).to_string(), "george@hillvalley.edu");
        let e = Email::parse("é@x.io").unwrap();
        assert_eq!(email(&e, false).to_string(), "é***@x.io");
        assert_eq!(masked_phone("+1 555 010 9991"), "***91");
        assert_eq!(masked_phone("7"), "***");
        assert_eq!(masked_phone("42"), "***");
        assert_eq!(masked_phone("+12345"), "***");
        assert_eq!(masked_phone("123456"), "***56");
        let p = Phone::parse("+1 555 010 9991").unwrap();
        assert_eq!(phone(&p, true).to_string(), "+15550109991");
    }
}
