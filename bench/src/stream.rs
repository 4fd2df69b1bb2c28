//! A realistic stream of historical checkouts for the import benchmark: most people check out
//! once or twice, a long tail of regulars many times; some share a household phone, some use a
//! second email, some mistype theirs, some give only one value. Deterministic per seed.

use std::io::Write;

/// xorshift64*: no dependency, the same stream for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// How many checkouts a person makes: 60% once, 25% twice, 12% 3-9 times, 3% regulars with
/// 10-200 (so about 3.3 checkouts per person on average).
fn visits(rng: &mut Rng) -> u64 {
    match rng.below(100) {
        0..=59 => 1,
        60..=84 => 2,
        85..=96 => 3 + rng.below(7),
        _ => 10 + rng.below(191),
    }
}

/// Writes `count` checkouts as CSV (`email,phoneNumber,createdAt`, times over five years in
/// time order) to `out`; answers how many people they come from.
pub fn write_csv(count: u64, seed: u64, out: &mut impl Write) -> std::io::Result<u64> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let start = 1_546_300_800i64; // 2019-01-01
    let span = 5 * 365 * 86_400i64;
    // (time, person, visit) for every checkout, then sorted: a shop's export is in time order
    let mut rows: Vec<(i64, u32, u16)> = Vec::with_capacity(count as usize);
    let mut people = 0u32;
    while (rows.len() as u64) < count {
        let n = visits(&mut rng).min(count - rows.len() as u64);
        for v in 0..n {
            let at = start + (rng.below(span as u64) as i64);
            rows.push((at, people, v as u16));
        }
        people += 1;
    }
    rows.sort_unstable();
    writeln!(out, "email,phoneNumber,createdAt")?;
    for (at, person, visit) in rows {
        // each person's values come from their own little generator, so visits agree
        let mut p = Rng(u64::from(person).wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
        let household = p.chance(10); // shares a phone with the next three people
        let second_email = p.chance(15);
        let mut v = Rng((u64::from(person) << 16 | u64::from(visit))
            .wrapping_mul(0x94D0_49BB_1331_11EB)
            | 1);
        let email = if second_email && v.chance(40) {
            format!("p{person}.work@corp{}.example", person % 997)
        } else if v.chance(1) {
            format!("p{person}@shopmai1.example") // a typo: a new value, joined by its phone
        } else {
            format!("p{person}@shopmail.example")
        };
        let phone_owner = if household {
            person - person % 4
        } else {
            person
        };
        let phone = format!("+1555{:07}", phone_owner);
        let (email, phone) = match v.below(100) {
            0..=14 => (email, String::new()),
            15..=24 => (String::new(), phone),
            _ => (email, phone),
        };
        let when = time::OffsetDateTime::from_unix_timestamp(at).map_err(std::io::Error::other)?;
        writeln!(
            out,
            "{email},{phone},{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            when.year(),
            u8::from(when.month()),
            when.day(),
            when.hour(),
            when.minute(),
            when.second()
        )?;
    }
    Ok(u64::from(people))
}
