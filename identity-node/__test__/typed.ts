// Type-checked with `tsc --noEmit` (npm run typecheck): the API as a TypeScript user writes it.
import { Identity, WebhookSender, parseErasureLog, readErasureLog, signWebhook, verifyWebhook, type BlockedEntry, type Customer, type Delivery, type FeedStats, type Stats, type Webhook, type CheckoutInput, type Contact, type ContactRow, type Erasure, type ErasedRow, type ErasureRecord, type EventsPage, type FeedEvent, type History, type HistoryEvent, type IdentityErrorInfo, type Ignored, type ImportReport, type JobProgress, type MovedRow, type PruneReport, type ReapplyReport, type Rejected, type Split, type SuppressedDigest, type TableRowInput, type TenantSettings } from '../index.js'

export async function main(): Promise<number> {
  const ident: Identity = await Identity.connect('sqlite::memory:', { maxConnections: 4 })
  const c: Contact = await ident.identify({ email: 'doc@hillvalley.edu', phoneNumber: 123456 })
  const again: Contact | null = await ident.lookup({ phoneNumber: '123456' })
  try {
    await ident.identify({ email: 'bad' })
  } catch (e) {
    const { code, field }: IdentityErrorInfo = e as Error & IdentityErrorInfo
    if (code === 'INVALID_INPUT' && field === 'email') console.log('rejected as expected')
  }
  const shop: Identity = ident.tenant('shop-in')
  const settings: TenantSettings = await shop.setPhoneRegion('IN')
  const region: string | null = (await shop.settings()).phoneRegion
  try {
    await shop.setPhoneRegion(null)
  } catch (e) {
    if ((e as Error & IdentityErrorInfo).code === 'CONFLICT') console.log(settings.tenantId, region)
  }
  const added: boolean = await shop.block({ kind: 'email', value: 'vip@shop.io' })
  const entries: BlockedEntry[] = await shop.blockedValues()
  const left: Ignored[] = (await shop.identify({ email: 'vip@shop.io', phoneNumber: '5550100' })).ignored ?? []
  try {
    await shop.identify({ email: 'vip@shop.io' })
  } catch (e) {
    const { code, fields }: IdentityErrorInfo = e as Error & IdentityErrorInfo
    if (code === 'BLOCKED_VALUE') console.log(added, entries.length, left[0]?.reason, fields)
  }
  const history: History = await ident.history(c.primaryContactId)
  const first: HistoryEvent | undefined = history.events[0]
  if (first?.type === 'created') console.log(new Date(first.at).toISOString(), first.via, history.customerId)
  const other: Contact = await ident.identify({ email: 'marty@hillvalley.edu', phoneNumber: 777 })
  await ident.identify({ email: 'doc@hillvalley.edu', phoneNumber: 777 })
  const split: Split = await ident.split(c.primaryContactId, [other.primaryContactId], { blockShared: false })
  console.log(split.newCustomer.primaryContactId, split.blocked.length)
  const receipt: Erasure = await ident.erase(split.newCustomer.primaryContactId, { suppress: true })
  const erased: number[] = receipt.contactIds
  const reason: Ignored['reason'] | undefined = (await ident.identify({ email: 'marty@hillvalley.edu', phoneNumber: 1 })).ignored?.[0]?.reason
  if (reason === 'suppressed') console.log(new Date(receipt.erasedAt).toISOString(), erased, receipt.suppressed)
  const capped: TenantSettings = await shop.setLimits({ emails: 3, phones: null })
  const most: number | null = capped.limits.emails
  console.log(most, capped.limits.phones)
  const history2: CheckoutInput[] = [
    { email: 'lorraine@hillvalley.edu', phoneNumber: 5550199, at: new Date('1955-11-05T18:00:00Z') },
    { email: 'george@hillvalley.edu', at: '1955-11-12 22:04:00+00' },
    { phoneNumber: '5550199', at: 1_000_000_000 },
  ]
  const report: ImportReport = await ident.tenant('archive').importCheckouts(history2, { onError: 'skip', dryRun: false })
  const refused: Rejected[] = report.firstRejected
  const firstId: number | null = report.firstId
  const everyone: Contact[] = await ident.tenant('archive').customers()
  const rows: ContactRow[] = await ident.tenant('archive').allContacts()
  const link: number | null = rows[0]?.linkedId ?? null
  console.log(rows.length, link, rows[0]?.linkPrecedence === 'primary', rows[0]?.email)
  console.log(report.rows, refused.length, firstId, everyone.length, report.ignored.blocked)
  const oldRows: TableRowInput[] = [
    { id: 9001n, email: 'biff@hillvalley.edu', linkedId: null, createdAt: new Date('1955-11-05T18:00:00Z'), deletedAt: null },
    { id: '9002', email: 'tannen@hillvalley.edu', linkedId: 9001, createdAt: '1955-11-06' },
  ]
  const fromTable: ImportReport = await ident.tenant('old-shop').importTableRows(oldRows, { onError: 'abort', renumber: false })
  const moved: MovedRow[] = fromTable.table?.movedRows ?? []
  const change: 'duplicate' | 'normalized' | 'primaryDeleted' | 'primaryLeftOut' | 'primaryNotOldest' | 'leftOut' | null = moved[0]?.change ?? null
  console.log(fromTable.table?.idsKept, moved.length, change, refused[0]?.record ?? refused[0]?.id)
  const logged: Identity = await Identity.connect('sqlite::memory:', { erasureLog: '/tmp/identity-typed-erasures.jsonl' })
  await logged.backupTo('/tmp/identity-typed-copy.db', { overwrite: true })
  const records: ErasureRecord[] = await ident.erasures()
  const rowsErased: ErasedRow[] = records[0]?.rows ?? []
  const createdAt: string | null = rowsErased[0]?.createdAt ?? null
  const digest: SuppressedDigest | undefined = records[0]?.digests[0]
  const kind: 'email' | 'phone' | undefined = digest?.kind
  const secret: string | null = records[0]?.secret ?? null
  const fromLog: ErasureRecord[] = [...readErasureLog('/tmp/identity-typed-erasures.jsonl'), ...parseErasureLog('')]
  const reapplied: ReapplyReport = await logged.reapplyErasures([...records, ...fromLog])
  const erasedNow: number[] = reapplied.erasedIds
  console.log(createdAt, kind, secret, reapplied.applied, reapplied.alreadyErased, erasedNow, reapplied.reusedIds, reapplied.suppressed)
  const job: JobProgress | null = logged.jobProgress()
  const jobKind: 'import' | 'erase' | undefined = job?.kind
  console.log(job?.done, job?.total, jobKind)
  const page: EventsPage = await ident.events({ after: null, limit: 10, wait: 0 })
  const types: Array<FeedEvent['type']> = page.events.map((e) => e.type)
  for await (const event of ident.feed({ after: page.next, idleTimeout: 0 })) {
    const primary: number | undefined = event.data.primaryContactId
    console.log(event.id, event.cursor, event.occurredAt, primary)
  }
  const pruned: PruneReport = await ident.pruneEvents({ olderThanDays: 30 })
  console.log(types, pruned.events, pruned.tenants, (await ident.history(1)).prunedBefore)
  const hook: Webhook = await ident.createWebhook('https://crm.example.com/h', { types: ['customer.merged'] })
  const state: 'active' | 'failing' = hook.state
  const sender: WebhookSender = ident.deliverWebhooks({ timeoutMs: 5000 })
  await sender.stop()
  const attempts: Delivery[] = await ident.webhookDeliveries(hook.id, { limit: 10 })
  const status: number | null = attempts[0]?.status ?? null
  const replayed: Webhook = await ident.replayWebhook(hook.id, { after: null })
  const signature: string = signWebhook(hook.secret ?? '', 'evt_1', 1, '{}')
  const valid: boolean = verifyWebhook(hook.secret ?? '', 'evt_1', 1, Buffer.from('{}'), signature)
  console.log(state, status, replayed.cursor, valid, (await ident.webhooks()).length, sender.running)
  await ident.deleteWebhook(hook.id)
  const customer: Customer = await ident.customer(1)
  const customerRows: ContactRow[] = customer.rows
  console.log(customer.customerId, customerRows.length)
  const stats: Stats = ident.stats()
  const merged: number = stats.identify.merged
  const waiting: number | null = stats.pool.waiting
  const feed: FeedStats = await ident.feedStats()
  const oldest: string | null = feed.webhooks[0]?.oldestUndeliveredAt ?? null
  console.log(merged, waiting, stats.retries['identify'], feed.eventsWritten, oldest)
  await logged.close()
  await ident.close()
  return c.primaryContactId + (again?.secondaryContactIds.length ?? 0)
}
