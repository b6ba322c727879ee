//! Usage metering: admitted requests counted in memory per consumer, UTC day and service, and
//! written to PostgreSQL in batches (one upsert per key, every few seconds and at shutdown),
//! never a write per request. A batch is taken out of the counters before it is written and put
//! back if the write fails, so nothing is counted twice or lost.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, Utc};
use deadpool_postgres::Pool;

use crate::identity::catalog::UsageRow;

/// Consumer, day, service: shared strings, so that counting a request allocates nothing.
type UsageKey = (Arc<str>, NaiveDate, Arc<str>);

#[derive(Default)]
pub struct UsageMeter {
    counters: Mutex<Counters>,
}

#[derive(Default)]
struct Counters {
    pending: Pending,
    /// Everything counted since start (DB-less mode answers usage queries from it).
    totals: BTreeMap<UsageKey, u64>,
}

#[derive(Default)]
struct Pending {
    counts: foldhash::HashMap<UsageKey, u64>,
    used_keys: BTreeSet<Arc<str>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl UsageMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one admitted request.
    pub fn record(&self, consumer_id: &Arc<str>, service: &Arc<str>, key_id: Option<&Arc<str>>) {
        let key = (
            consumer_id.clone(),
            Utc::now().date_naive(),
            service.clone(),
        );
        let mut counters = lock(&self.counters);
        let Counters { pending, totals } = &mut *counters;
        *pending.counts.entry(key.clone()).or_default() += 1;
        if let Some(key_id) = key_id
            && !pending.used_keys.contains(key_id)
        {
            pending.used_keys.insert(key_id.clone());
        }
        *totals.entry(key).or_default() += 1;
    }

    /// Rows counted since start for `consumer_id` between two days (DB-less mode).
    pub fn totals(&self, consumer_id: &str, from: NaiveDate, to: NaiveDate) -> Vec<UsageRow> {
        lock(&self.counters)
            .totals
            .iter()
            .filter(|((c, day, _), _)| &**c == consumer_id && (from..=to).contains(day))
            .map(|((c, day, service), n)| UsageRow {
                consumer_id: c.to_string(),
                day: *day,
                service: service.to_string(),
                requests: *n,
            })
            .collect()
    }

    /// Writes everything pending in one transaction; on failure it stays pending. Safe to
    /// cancel (a shutdown may drop it mid-write): the batch then goes back too.
    pub async fn flush(&self, pool: &Pool) -> anyhow::Result<usize> {
        let mut taken = TakenBatch {
            meter: self,
            batch: Some(std::mem::take(&mut lock(&self.counters).pending)),
        };
        let Some(batch) = taken.batch.as_ref() else {
            return Ok(0);
        };
        if batch.counts.is_empty() && batch.used_keys.is_empty() {
            return Ok(0);
        }
        let rows = batch.counts.len();
        write(pool, batch).await?;
        // Committed: nothing to give back.
        taken.batch = None;
        Ok(rows)
    }

    fn give_back(&self, batch: Pending) {
        let pending = &mut lock(&self.counters).pending;
        for (key, n) in batch.counts {
            *pending.counts.entry(key).or_default() += n;
        }
        pending.used_keys.extend(batch.used_keys);
    }
}

/// A batch out of the counters while it is written; dropped unwritten (error or cancellation),
/// it goes back.
struct TakenBatch<'a> {
    meter: &'a UsageMeter,
    batch: Option<Pending>,
}

impl Drop for TakenBatch<'_> {
    fn drop(&mut self) {
        if let Some(batch) = self.batch.take() {
            self.meter.give_back(batch);
        }
    }
}

async fn write(pool: &Pool, batch: &Pending) -> anyhow::Result<()> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let (mut consumers, mut days, mut services, mut counts) = (vec![], vec![], vec![], vec![]);
    for ((consumer, day, service), n) in &batch.counts {
        consumers.push(&**consumer);
        days.push(*day);
        services.push(&**service);
        counts.push(i64::try_from(*n).unwrap_or(i64::MAX));
    }
    transaction
        .execute(
            "INSERT INTO usage_daily (consumer_id, day, service, requests) \
             SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[]) \
             ON CONFLICT (consumer_id, day, service) \
             DO UPDATE SET requests = usage_daily.requests + excluded.requests",
            &[&consumers, &days, &services, &counts],
        )
        .await?;
    let key_ids: Vec<&str> = batch.used_keys.iter().map(|id| &**id).collect();
    if !key_ids.is_empty() {
        transaction
            .execute(
                "UPDATE api_keys SET last_used_at = now() WHERE id::text = ANY($1)",
                &[&key_ids],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}
