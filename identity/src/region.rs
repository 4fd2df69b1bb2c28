//! Phone regions: a tenant may name the region ([`PhoneRegion`], ISO 3166 alpha-2) its shop's
//! customers dial from. Its phone numbers are then read with libphonenumber's rules (the
//! `phonenumber` crate): a national number in that region, every number stored and matched in
//! E.164, a number that is not valid refused. Tenants without a region keep the plain rules of
//! [`Phone::parse`].

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use phonenumber::Mode;
use phonenumber::country::Id;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::contact::Phone;
use crate::error::{Error, Field, Result};

/// A region whose numbering plan reads national phone numbers: an ISO 3166 alpha-2 code that
/// libphonenumber knows (`IN`, `US`, `GB`, ...). Parsing accepts any case and surrounding
/// whitespace; the code is kept in upper case.
///
/// ```
/// use identity::PhoneRegion;
/// let region = PhoneRegion::parse(" in ")?;
/// assert_eq!(region.as_str(), "IN");
/// let err = PhoneRegion::parse("XX").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid phone region: `XX` is not an ISO 3166 region code with a phone numbering plan"
/// );
/// # Ok::<(), identity::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhoneRegion {
    id: Id,
    /// The code's two upper-case ASCII letters.
    code: [u8; 2],
}

impl PhoneRegion {
    /// Parses a region code.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::PhoneRegion`] when the code is not two letters
    /// naming a region with a numbering plan.
    pub fn parse(code: &str) -> Result<Self> {
        let code = code.trim();
        let upper = code.to_ascii_uppercase();
        let known = upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase());
        match Id::from_str(&upper) {
            Ok(id) if known && phonenumber::metadata::DATABASE.by_id(id.as_ref()).is_some() => {
                let code = [upper.as_bytes()[0], upper.as_bytes()[1]];
                Ok(PhoneRegion { id, code })
            }
            _ => Err(Error::invalid(
                Field::PhoneRegion,
                format!(
                    "`{code}` is not an ISO 3166 region code with a phone numbering plan",
                    code = code.chars().take(16).collect::<String>()
                ),
            )),
        }
    }

    /// The upper-case code, such as `IN`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // two ASCII letters, checked by `parse`
        std::str::from_utf8(&self.code).unwrap_or("??")
    }
}

impl fmt::Debug for PhoneRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneRegion({})", self.as_str())
    }
}

impl fmt::Display for PhoneRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PhoneRegion {
    type Err = Error;

    fn from_str(code: &str) -> Result<Self> {
        PhoneRegion::parse(code)
    }
}

impl Serialize for PhoneRegion {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PhoneRegion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        PhoneRegion::parse(&code).map_err(serde::de::Error::custom)
    }
}

impl Phone {
    /// The number as read in `region`: a national number is read in the region's numbering
    /// plan, an international one (`+...`) in its own; the answer is the E.164 form.
    ///
    /// ```
    /// use identity::{Phone, PhoneRegion};
    /// let india = PhoneRegion::parse("IN")?;
    /// for raw in ["098765 43210", "+91 98765 43210", "9876543210"] {
    ///     assert_eq!(Phone::parse(raw)?.in_region(india)?.as_str(), "+919876543210");
    /// }
    /// let err = Phone::parse("12345")?.in_region(india).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid phone number: is not a valid number in region IN");
    /// # Ok::<(), identity::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::PhoneNumber`] with libphonenumber's reason when
    /// the number cannot be read, or is not a valid number of its region.
    pub fn in_region(&self, region: PhoneRegion) -> Result<Phone> {
        // libphonenumber's rules cost microseconds (regular expressions) and a returning
        // customer brings the same number again: keep the readings, which never change
        let key = (region, self.clone());
        if let Some(read) = READINGS.get(&key) {
            return Ok(read);
        }
        let read = self.read_in(region)?;
        READINGS.keep(key, read.clone());
        Ok(read)
    }

    /// [`Phone::in_region`] without the kept readings.
    fn read_in(&self, region: PhoneRegion) -> Result<Phone> {
        let number = phonenumber::parse(Some(region.id), self.as_str())
            .map_err(|e| Error::invalid(Field::PhoneNumber, e.to_string()))?;
        if !phonenumber::is_valid(&number) {
            let reason = if self.as_str().starts_with('+') {
                "is not a valid number for its country calling code".to_owned()
            } else {
                format!("is not a valid number in region {region}")
            };
            return Err(Error::invalid(Field::PhoneNumber, reason));
        }
        Phone::parse(&number.format().mode(Mode::E164).to_string())
    }
}

/// Most readings [`Phone::in_region`] keeps; past it they are all dropped and kept again as they
/// come (a bound on memory, not an eviction policy: readings cost microseconds to redo).
const MAX_READINGS: usize = 16_384;

/// The numbers read in a region lately, process-wide: a reading depends only on the region,
/// the number and libphonenumber's metadata (compiled in), so it never goes stale.
static READINGS: Readings = Readings(std::sync::OnceLock::new());

/// See [`READINGS`].
struct Readings(std::sync::OnceLock<Mutex<HashMap<(PhoneRegion, Phone), Phone>>>);

impl Readings {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(PhoneRegion, Phone), Phone>> {
        let map = self.0.get_or_init(Mutex::default);
        // a panic while holding it cannot leave a half-written entry
        map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &(PhoneRegion, Phone)) -> Option<Phone> {
        self.map().get(key).cloned()
    }

    fn keep(&self, key: (PhoneRegion, Phone), read: Phone) {
        let mut map = self.map();
        if map.len() >= MAX_READINGS {
            map.clear();
        }
        map.insert(key, read);
    }
}

/// A region code a store read back; a stored value it cannot parse is a corrupt setting.
pub(crate) fn stored_region(code: Option<&str>) -> Result<Option<PhoneRegion>> {
    code.map(|c| {
        PhoneRegion::parse(c).map_err(|_| Error::CorruptGraph {
            reason: format!("tenant setting phone_region `{c}` is not a region code"),
        })
    })
    .transpose()
}

/// The reason a region change is refused once a tenant has rows.
pub(crate) fn refuse_change(
    tenant: &crate::tenant::TenantId,
    from: Option<PhoneRegion>,
    to: Option<PhoneRegion>,
) -> Error {
    let name = |r: Option<PhoneRegion>| r.map_or_else(|| "none".to_owned(), |r| r.to_string());
    Error::Conflict {
        reason: format!(
            "tenant {tenant} already has contacts, stored under phone region {}; its region \
             cannot change to {} (set it before the tenant's first identify)",
            name(from),
            name(to)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone_in(raw: &str, region: &str) -> Result<String> {
        let region = PhoneRegion::parse(region)?;
        Ok(Phone::parse(raw)?.in_region(region)?.as_str().to_owned())
    }

    #[test]
    fn national_and_international_forms_of_one_number_agree() {
        assert_eq!(phone_in("(201) 555-0123", "US").unwrap(), "+12015550123");
        assert_eq!(phone_in("+1 201 555 0123", "GB").unwrap(), "+12015550123");
        assert_eq!(phone_in("020 7946 0958", "GB").unwrap(), "+442079460958");
        assert_eq!(phone_in("0 98765 43210", "IN").unwrap(), "+919876543210");
    }

    #[test]
    fn invalid_numbers_name_the_phone_with_the_reason() {
        let reason = |raw: &str, region: &str| match phone_in(raw, region) {
            Err(Error::InvalidInput {
                field: Field::PhoneNumber,
                reason,
            }) => reason,
            other => panic!("{raw}: expected invalid phone, got {other:?}"),
        };
        assert_eq!(
            reason("555 0123", "US"),
            "is not a valid number in region US"
        );
        assert_eq!(
            reason("+1 555 0123", "GB"),
            "is not a valid number for its country calling code"
        );
        assert_eq!(reason("+999 1234", "US"), "invalid country code");
        assert_eq!(reason("0", "IN"), "not a number");
        assert_eq!(
            reason("99999999999999999999", "IN"),
            "the number is too long"
        );
    }

    #[test]
    fn region_codes_are_checked_and_kept_upper_case() {
        assert_eq!(PhoneRegion::parse("gb").unwrap().as_str(), "GB");
        for bad in ["", "G", "GBR", "ZZ", "1N", "I N", "ÍN"] {
            let err = PhoneRegion::parse(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        field: Field::PhoneRegion,
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
        let json = serde_json::to_string(&PhoneRegion::parse("in").unwrap()).unwrap();
        assert_eq!(json, r#""IN""#);
        assert!(serde_json::from_str::<PhoneRegion>(r#""XX""#).is_err());
    }

    #[test]
    fn kept_readings_answer_what_a_fresh_reading_does() {
        let region = PhoneRegion::parse("GB").unwrap();
        for raw in ["020 7946 0958", "+44 20 7946 0958", "+1 201 555 0123"] {
            let phone = Phone::parse(raw).unwrap();
            let fresh = phone.read_in(region).unwrap();
            assert_eq!(phone.in_region(region).unwrap(), fresh); // kept now
            assert_eq!(phone.in_region(region).unwrap(), fresh); // from the kept readings
        }
        // another region reads the same digits differently: readings are per region
        let national = Phone::parse("2015550123").unwrap();
        let us = national
            .in_region(PhoneRegion::parse("US").unwrap())
            .unwrap();
        assert_eq!(us.as_str(), "+12015550123");
        let gb = national.in_region(region).unwrap();
        assert_eq!(gb.as_str(), "+442015550123");
    }
}
