// GET /metrics: identity's numbers (stats() and feedStats()) in the Prometheus text format,
// written by prom-client and named as the Rust service names them (README, "Metrics"). No label
// carries an email, a phone number or a tenant.
import { Controller, Get, Res } from '@nestjs/common'
import type { Response } from 'express'
import type { FeedStats, Identity } from 'identity-reconciliation'
import { Counter, Gauge, Registry } from 'prom-client'
import { InjectIdentity } from './identity.module.js'

@Controller('metrics')
export class MetricsController {
  constructor(@InjectIdentity() private readonly identity: Identity) {}

  @Get()
  async scrape(@Res() res: Response): Promise<void> {
    const registry = new Registry()
    const counters = (name: string, help: string, label: string, counts: object): void => {
      const counter = new Counter({ name, help, labelNames: [label], registers: [registry] })
      for (const [value, n] of Object.entries(counts)) counter.inc({ [label]: value }, n as number)
    }
    const gauge = (name: string, help: string, value: number): void => {
      new Gauge({ name, help, registers: [registry] }).set(value)
    }
    const stats = this.identity.stats()
    counters('identity_identify_total', 'Identifies answered, by outcome', 'outcome', stats.identify)
    counters('identity_identify_errors_total', 'Identifies refused or failed, by error code', 'kind', stats.identifyErrors)
    counters('identity_store_retries_total', 'Attempts made again, by operation', 'operation', stats.retries)
    counters('identity_store_contention_total', 'Calls refused for contention, by operation', 'operation', stats.contention)
    counters('identity_webhook_deliveries_total', 'Webhook deliveries attempted, by outcome', 'outcome', stats.webhookDeliveries)
    const pool = new Gauge({ name: 'identity_pool_connections', help: 'Database connections now, by state', labelNames: ['state'], registers: [registry] })
    pool.set({ state: 'in_use' }, stats.pool.inUse)
    pool.set({ state: 'idle' }, stats.pool.idle)
    gauge('identity_pool_max_connections', 'The most connections the pool opens', stats.pool.max)
    if (stats.pool.waiting !== null) gauge('identity_pool_waiting', 'Calls waiting for a connection', stats.pool.waiting)
    let feed: FeedStats | null = null
    try {
      feed = await this.identity.feedStats()
    } catch {
      // the database is down: say so, and show what is counted in memory
    }
    gauge('identity_database_up', "Whether the database's numbers could be read", feed === null ? 0 : 1)
    if (feed !== null) {
      new Counter({ name: 'identity_feed_events_written_total', help: 'Events written to the change feed', registers: [registry] }).inc(feed.eventsWritten)
      const labelNames = ['webhook_id']
      const age = new Gauge({ name: 'identity_webhook_oldest_undelivered_age_seconds', help: 'Age of the oldest event a webhook endpoint has not been sent yet', labelNames, registers: [registry] })
      const behind = new Gauge({ name: 'identity_webhook_undelivered_events', help: "Events after the endpoint's cursor", labelNames, registers: [registry] })
      for (const hook of feed.webhooks) {
        const oldest = hook.oldestUndeliveredAt
        age.set({ webhook_id: String(hook.id) }, oldest === null ? 0 : Math.max(0, (Date.now() - Date.parse(oldest)) / 1000))
        behind.set({ webhook_id: String(hook.id) }, hook.undelivered)
      }
    }
    res.type(registry.contentType).send(await registry.metrics())
  }
}
