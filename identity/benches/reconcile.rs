//! The pure reconcile step, timed by criterion: `cargo bench -p identity --bench reconcile`.
//! Customers of 1, 10 and 1,000 rows; a returning request (nothing to write), a new value
//! (one insert) and a merge of two customers of that size.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use identity::{Contact, ContactId, Email, IdentifyRequest, LinkPrecedence, Phone, reconcile};
use time::OffsetDateTime;

/// A customer of `size` rows whose ids start at `first`: a primary and its secondaries.
fn customer(first: i64, size: i64, tag: &str) -> Vec<Contact> {
    (0..size)
        .map(|k| {
            let at = OffsetDateTime::from_unix_timestamp(first + k).unwrap();
            Contact {
                id: ContactId(first + k),
                email: Some(Email::parse(&format!("{tag}{k}@bench.test")).unwrap()),
                phone_number: Some(Phone::parse(&format!("{}{k:06}", first + 1)).unwrap()),
                linked_id: (k > 0).then_some(ContactId(first)),
                link_precedence: if k == 0 {
                    LinkPrecedence::Primary
                } else {
                    LinkPrecedence::Secondary
                },
                created_at: at,
                updated_at: at,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("reconcile");
    for size in [1i64, 10, 1_000] {
        let rows = customer(1, size, "a");
        let last = rows.last().unwrap();
        let returning =
            IdentifyRequest::new(last.email.clone(), last.phone_number.clone()).unwrap();
        group.bench_with_input(BenchmarkId::new("returning", size), &rows, |b, rows| {
            b.iter(|| reconcile(std::hint::black_box(&returning), rows));
        });
        let new_value =
            IdentifyRequest::new(last.email.clone(), Some(Phone::parse("999").unwrap())).unwrap();
        group.bench_with_input(BenchmarkId::new("new value", size), &rows, |b, rows| {
            b.iter(|| reconcile(std::hint::black_box(&new_value), rows));
        });
        let mut both = rows.clone();
        both.extend(customer(1 + size, size, "b"));
        let merge = IdentifyRequest::new(
            last.email.clone(),
            both.last().unwrap().phone_number.clone(),
        )
        .unwrap();
        group.bench_with_input(BenchmarkId::new("merge", size), &both, |b, rows| {
            b.iter(|| reconcile(std::hint::black_box(&merge), rows));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
