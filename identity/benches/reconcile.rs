//! The pure steps, timed by criterion: `cargo bench -p identity --bench reconcile`.
//! `plan` for customers of 1, 100 and 10,000 rows: a returning request (builds the answer), a
//! new value (one insert) and a merge of two customers of that size (builds the merged record);
//! `derive` (what rebuild and repair run) over the rows of such customers; and reading a phone
//! number the plain way and in a tenant's phone region (libphonenumber's rules).

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use identity::{
    Contact, ContactId, CustomerRecord, Email, IdentifyRequest, Link, Matched, Phone, PhoneRegion,
    derive, plan,
};
use time::OffsetDateTime;

/// A customer of `size` rows whose ids start at `first`: a primary and its secondaries.
fn rows(first: i64, size: i64, tag: &str) -> Vec<Contact> {
    (0..size)
        .map(|k| {
            let at = OffsetDateTime::from_unix_timestamp(first + k).unwrap();
            Contact {
                id: ContactId::new(first + k),
                email: Some(Email::parse(&format!("{tag}{k}@bench.test")).unwrap()),
                phone_number: Some(Phone::parse(&format!("{}{k:06}", first + 1)).unwrap()),
                link: if k == 0 {
                    Link::Primary
                } else {
                    Link::SecondaryOf(ContactId::new(first))
                },
                created_at: at,
                updated_at: at,
            }
        })
        .collect()
}

fn record(rows: &[Contact]) -> CustomerRecord {
    derive(rows).customers.remove(0)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    for size in [1i64, 100, 10_000] {
        let a = rows(1, size, "a");
        let b = rows(1 + size, size, "b");
        let (ra, rb) = (record(&a), record(&b));
        let (pa, pb) = (ra.primary, rb.primary);
        let last = a.last().unwrap();
        let returning =
            IdentifyRequest::new(last.email.clone(), last.phone_number.clone()).unwrap();
        let one = Matched::new(Some(pa), Some(pa), vec![ra.clone()]).unwrap();
        group.bench_with_input(BenchmarkId::new("returning", size), &one, |bench, m| {
            bench.iter_batched(
                || m.clone(),
                |m| plan(std::hint::black_box(&returning), m),
                BatchSize::LargeInput,
            );
        });
        let new_value =
            IdentifyRequest::new(last.email.clone(), Some(Phone::parse("999").unwrap())).unwrap();
        let only_email = Matched::new(Some(pa), None, vec![ra.clone()]).unwrap();
        group.bench_with_input(
            BenchmarkId::new("new value", size),
            &only_email,
            |bench, m| {
                bench.iter_batched(
                    || m.clone(),
                    |m| plan(std::hint::black_box(&new_value), m),
                    BatchSize::LargeInput,
                );
            },
        );
        let merge =
            IdentifyRequest::new(last.email.clone(), b.last().unwrap().phone_number.clone())
                .unwrap();
        let two = Matched::new(Some(pa), Some(pb), vec![ra, rb]).unwrap();
        group.bench_with_input(BenchmarkId::new("merge", size), &two, |bench, m| {
            bench.iter_batched(
                || m.clone(),
                |m| plan(std::hint::black_box(&merge), m),
                BatchSize::LargeInput,
            );
        });
        group.bench_with_input(BenchmarkId::new("derive", size), &a, |bench, rows| {
            bench.iter(|| derive(std::hint::black_box(rows)));
        });
    }
    group.finish();
}

/// What a tenant's phone region adds to every identify that carries a phone: the plain parse,
/// then reading the parsed number in the region.
fn phone(c: &mut Criterion) {
    let mut group = c.benchmark_group("phone");
    let raw = "098765 43210";
    group.bench_function("parse", |bench| {
        bench.iter(|| Phone::parse(std::hint::black_box(raw)));
    });
    let parsed = Phone::parse(raw).unwrap();
    let india = PhoneRegion::parse("IN").unwrap();
    assert_eq!(parsed.in_region(india).unwrap().as_str(), "+919876543210");
    group.bench_function("in region IN, kept", |bench| {
        bench.iter(|| std::hint::black_box(&parsed).in_region(india));
    });
    // 40,000 distinct numbers, more than the readings kept: every reading is a first one
    let fresh: Vec<Phone> = (0..40_000u64)
        .map(|k| Phone::parse(&format!("0{}", 9_876_500_000 + k)).unwrap())
        .collect();
    let mut next = fresh.iter().cycle();
    group.bench_function("in region IN, first reading", |bench| {
        bench.iter(|| next.next().unwrap().in_region(india));
    });
    group.finish();
}

criterion_group!(benches, bench, phone);
criterion_main!(benches);
