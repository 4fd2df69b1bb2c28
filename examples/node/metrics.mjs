// GET /metrics for the Express app: identity's numbers (stats() and feedStats()) in the
// Prometheus text format, written by prom-client and named as the Rust service names them
// (README, "Metrics"). No label carries an email, a phone number or a tenant.
import client from 'prom-client'

/** The exposition now: `{ text, contentType }`; the database's part left out when unreadable. */
export async function exposition(identity) {
  const registry = new client.Registry()
  const counters = (name, help, label, counts) => {
    const counter = new client.Counter({ name, help, labelNames: [label], registers: [registry] })
    for (const [value, n] of Object.entries(counts)) counter.inc({ [label]: value }, n)
  }
  const gauge = (name, help, value, labelNames = []) =>
    new client.Gauge({ name, help, labelNames, registers: [registry] }).set(value)
  const stats = identity.stats()
  counters('identity_identify_total', 'Identifies answered, by outcome', 'outcome', stats.identify)
  counters('identity_identify_errors_total', 'Identifies refused or failed, by error code', 'kind', stats.identifyErrors)
  counters('identity_store_retries_total', 'Attempts made again, by operation', 'operation', stats.retries)
  counters('identity_store_contention_total', 'Calls refused for contention, by operation', 'operation', stats.contention)
  counters('identity_webhook_deliveries_total', 'Webhook deliveries attempted, by outcome', 'outcome', stats.webhookDeliveries)
  const pool = new client.Gauge({ name: 'identity_pool_connections', help: 'Database connections now, by state', labelNames: ['state'], registers: [registry] })
  pool.set({ state: 'in_use' }, stats.pool.inUse)
  pool.set({ state: 'idle' }, stats.pool.idle)
  gauge('identity_pool_max_connections', 'The most connections the pool opens', stats.pool.max)
  if (stats.pool.waiting !== null) gauge('identity_pool_waiting', 'Calls waiting for a connection', stats.pool.waiting)
  let feed = null
  try {
    feed = await identity.feedStats()
  } catch {
    // the database is down: say so, and show what is counted in memory
  }
  gauge('identity_database_up', "Whether the database's numbers could be read", feed === null ? 0 : 1)
  if (feed !== null) {
    new client.Counter({ name: 'identity_feed_events_written_total', help: 'Events written to the change feed', registers: [registry] }).inc(feed.eventsWritten)
    const age = new client.Gauge({ name: 'identity_webhook_oldest_undelivered_age_seconds', help: 'Age of the oldest event a webhook endpoint has not been sent yet', labelNames: ['webhook_id'], registers: [registry] })
    const behind = new client.Gauge({ name: 'identity_webhook_undelivered_events', help: "Events after the endpoint's cursor", labelNames: ['webhook_id'], registers: [registry] })
    for (const hook of feed.webhooks) {
      const oldest = hook.oldestUndeliveredAt
      const seconds = oldest === null ? 0 : Math.max(0, (Date.now() - Date.parse(oldest)) / 1000)
      age.set({ webhook_id: String(hook.id) }, seconds)
      behind.set({ webhook_id: String(hook.id) }, hook.undelivered)
    }
  }
  return { text: await registry.metrics(), contentType: registry.contentType }
}
