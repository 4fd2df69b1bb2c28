//! Masking of personal data for logs: `george@hillvalley.edu` -> `g***@hillvalley.edu`,
//! `+15550109991` -> `***91`, a number of fewer than six digits -> `***`.

use identity::{Email, Phone};

/// The first character of the local part, then `***@` and the domain.
#[must_use]
pub fn email(email: &Email) -> String {
    let (local, domain) = email
        .as_str()
        .split_once('@')
        .unwrap_or((email.as_str(), ""));
    let first: String = local.chars().take(1).collect();
    format!("{first}***@{domain}")
}

/// Fewest digits a phone number has before its last two are shown: in a shorter one, two
/// digits are most of the number.
const SHOWN_FROM_DIGITS: usize = 6;

/// `***` and the last two digits; `***` alone for a number of fewer than six digits.
#[must_use]
pub fn phone(phone: &Phone) -> String {
    let digits = phone.as_str();
    if digits.trim_start_matches('+').len() < SHOWN_FROM_DIGITS {
        return "***".to_owned();
    }
    let tail = &digits[digits.len() - 2..];
    format!("***{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_identifies_nobody() {
        let e = Email::parse("George@HillValley.edu").unwrap();
        assert_eq!(email(&e), "g***@hillvalley.edu");
        let e = Email::parse("é@x.io").unwrap();
        assert_eq!(email(&e), "é***@x.io");
        assert_eq!(phone(&Phone::parse("+1 555 010 9991").unwrap()), "***91");
        assert_eq!(phone(&Phone::parse("7").unwrap()), "***");
        assert_eq!(phone(&Phone::parse("42").unwrap()), "***");
        assert_eq!(phone(&Phone::parse("+12345").unwrap()), "***");
        assert_eq!(phone(&Phone::parse("123456").unwrap()), "***56");
    }
}
