// An Express app exposing POST /identify with the wire contract, GET/PUT /settings (the
// tenant's phone region), PUT /settings/limits (its per-customer caps), GET/POST/DELETE /admin/blocked (the tenant's blocked values) and
// GET /admin/contacts/:id/history (why a contact's rows are one customer), /admin/webhooks
// (register, list, delete, read attempts of and replay webhook endpoints), GET /events (the
// tenant's change feed, with ?after=&limit=&wait= as the Rust service takes them),
// POST /admin/customers/:id/split (undo a wrong merge), POST /admin/customers/:id/erase (the
// right to be forgotten), POST /admin/import (history into an empty tenant), GET /admin/export
// (every customer, as JSON Lines), GET /admin/contacts (every row, as JSON Lines), GET
// /admin/erasures and POST /admin/erasures/reapply (erasure records, to apply again after a
// restore) and GET /admin/backup (a copy of the SQLite database), through
// identity-reconciliation.
// The tenant comes from the X-Tenant-Id header (absent: the default tenant); behind this app's
// own authentication only (it checks no tokens: see the Rust service for tenant tokens).
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { Identity, parseErasureLog } from 'identity-reconciliation'
import { exposition } from './metrics.mjs'

// each core kind as the Rust service answers it: status, wire code, Retry-After seconds; any
// other (STORE, CORRUPT_DATA, INTERNAL, or not a core error) is a 500 that says nothing
const KINDS = {
  INVALID_INPUT: [400, 'invalid_input'],
  BLOCKED_VALUE: [422, 'blocked_value'],
  CONFLICT: [409, 'conflict'],
  NOT_FOUND: [404, 'not_found'],
  EXPIRED: [410, 'expired'],
  UNAVAILABLE: [503, 'unavailable', 2],
  CLOSED: [503, 'unavailable', 2],
  CONTENTION: [503, 'contention', 1],
}

// a core error as the wire's JSON error
export function fail(res, e) {
  const [status, code, retryAfter] = KINDS[e.code] ?? [500, 'internal']
  if (retryAfter !== undefined) res.set('Retry-After', String(retryAfter))
  if (status === 500) console.error(`request failed: ${e.message} (${e.code ?? 'no code'})`)
  res.status(status).json({
    error: {
      code,
      message: status === 500 ? 'internal server error' : e.message,
      field: e.field,
      fields: e.fields,
    },
  })
}

// the body as JSON, or a malformed_json answer (undefined)
function json(req, res) {
  try {
    return JSON.parse(typeof req.body === 'string' ? req.body : '')
  } catch (e) {
    res.status(400).json({ error: { code: 'malformed_json', message: `request body is not valid JSON: ${e.message}` } })
    return undefined
  }
}

// `options`: Identity.connect's (`{ erasureLog }` keeps a record of every erase in that file)
export async function createApp(databaseUrl, options = {}) {
  const identity = await Identity.connect(databaseUrl, options)
  const app = express()
  // read the body as text whatever its Content-Type: many clients forget the header; an import
  // carries history and a reapply an erasure log, so their routes take up to 64 MiB, and a split
  // a customer's ids up to 16 MiB (the parser that runs first wins)
  app.use(['/admin/import', '/admin/erasures/reapply'], express.text({ type: () => true, limit: '64mb' }))
  app.use('/admin/customers/:id/split', express.text({ type: () => true, limit: '16mb' }))
  app.use(express.text({ type: () => true, limit: '16kb' }))

  // the handle for the tenant X-Tenant-Id names (absent: the default); throws for a bad id
  const scoped = (req) => {
    const tenant = req.get('X-Tenant-Id')
    return tenant === undefined ? identity : identity.tenant(tenant)
  }

  // identity's numbers for Prometheus (metrics.mjs), as the Rust service names them
  app.get('/metrics', async (req, res) => {
    const { text, contentType } = await exposition(identity)
    res.type(contentType).send(text)
  })

  app.post('/identify', async (req, res) => {
    const body = json(req, res)
    if (body === undefined) return
    try {
      const { ignored, ...contact } = await scoped(req).identify(body)
      // both spellings: the original task statement wrote `primaryContatctId`; values left out
      // (blocked) go beside the contact, as the service answers
      res.json({ contact: { ...contact, primaryContatctId: contact.primaryContactId }, ignored })
    } catch (e) {
      fail(res, e)
    }
  })

  app.get('/settings', async (req, res) => {
    try {
      res.json(await scoped(req).settings())
    } catch (e) {
      fail(res, e)
    }
  })

  app.put('/settings', async (req, res) => {
    const body = json(req, res)
    if (body === undefined) return
    if (body === null || typeof body !== 'object' || !('phoneRegion' in body)) {
      const message = 'invalid request: body must be a JSON object like {"phoneRegion": "IN"}'
      return res.status(400).json({ error: { code: 'invalid_input', message, field: 'request' } })
    }
    try {
      res.json(await scoped(req).setPhoneRegion(body.phoneRegion))
    } catch (e) {
      fail(res, e)
    }
  })

  app.put('/settings/limits', async (req, res) => {
    const body = json(req, res)
    if (body === undefined) return
    try {
      // the binding checks the caps object and each cap, and names the field at fault
      res.json(await scoped(req).setLimits(body))
    } catch (e) {
      fail(res, e)
    }
  })

  app.get('/admin/blocked', async (req, res) => {
    try {
      const handle = scoped(req)
      res.json({ tenantId: handle.tenantId, blocked: await handle.blockedValues() })
    } catch (e) {
      fail(res, e)
    }
  })

  for (const [method, change] of [['post', 'block'], ['delete', 'unblock']]) {
    app[method]('/admin/blocked', async (req, res) => {
      const body = json(req, res)
      if (body === undefined) return
      try {
        res.json({ changed: await scoped(req)[change](body) })
      } catch (e) {
        fail(res, e)
      }
    })
  }

  // the query's numbers as numbers (anything else goes through as text, which the binding
  // refuses naming the field)
  const number = (text) => (text === undefined ? undefined : /^\d+$/.test(text) ? Number(text) : text)
  app.get('/events', async (req, res) => {
    const { after, limit, wait } = req.query
    try {
      res.json(await scoped(req).events({ after, limit: number(limit), wait: number(wait) }))
    } catch (e) {
      fail(res, e)
    }
  })

  // webhook endpoints: the binding checks the URL, the types, the id, limit and after, and
  // names the field at fault
  const hookId = (text) => (/^\d+$/.test(text) ? Number(text) : text)
  app.post('/admin/webhooks', async (req, res) => {
    const body = json(req, res)
    if (body === undefined) return
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      const message = 'invalid request: body must be a JSON object like {"url": "https://..."}'
      return res.status(400).json({ error: { code: 'invalid_input', message, field: 'request' } })
    }
    try {
      res.status(201).json(await scoped(req).createWebhook(body.url, { types: body.types }))
    } catch (e) {
      fail(res, e)
    }
  })

  app.get('/admin/webhooks', async (req, res) => {
    try {
      res.json({ webhooks: await scoped(req).webhooks() })
    } catch (e) {
      fail(res, e)
    }
  })

  app.delete('/admin/webhooks/:id', async (req, res) => {
    try {
      await scoped(req).deleteWebhook(hookId(req.params.id))
      res.status(204).end()
    } catch (e) {
      fail(res, e)
    }
  })

  app.get('/admin/webhooks/:id/deliveries', async (req, res) => {
    try {
      const limit = number(req.query.limit)
      res.json({ deliveries: await scoped(req).webhookDeliveries(hookId(req.params.id), { limit }) })
    } catch (e) {
      fail(res, e)
    }
  })

  app.post('/admin/webhooks/:id/replay', async (req, res) => {
    // an empty body replays from the oldest event kept
    const body = typeof req.body === 'string' && req.body.trim() === '' ? {} : json(req, res)
    if (body === undefined) return
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      const message = 'invalid request: body must be empty or a JSON object like {"after": "f1.2a"}'
      return res.status(400).json({ error: { code: 'invalid_input', message, field: 'request' } })
    }
    try {
      res.json(await scoped(req).replayWebhook(hookId(req.params.id), { after: body.after }))
    } catch (e) {
      fail(res, e)
    }
  })

  app.get('/admin/contacts/:id/history', async (req, res) => {
    // digits as a bigint (any size the binding accepts); anything else it refuses as contactId
    const id = /^\d+$/.test(req.params.id) ? BigInt(req.params.id) : req.params.id
    try {
      res.json(await scoped(req).history(id))
    } catch (e) {
      fail(res, e)
    }
  })

  app.get('/admin/customers/:id', async (req, res) => {
    const id = /^\d+$/.test(req.params.id) ? BigInt(req.params.id) : req.params.id
    try {
      res.json(await scoped(req).customer(id))
    } catch (e) {
      fail(res, e)
    }
  })

  app.post('/admin/customers/:id/split', async (req, res) => {
    const body = json(req, res)
    if (body === undefined) return
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      const message = 'invalid request: body must be a JSON object like {"contactIds": [2]}'
      return res.status(400).json({ error: { code: 'invalid_input', message, field: 'request' } })
    }
    const id = /^\d+$/.test(req.params.id) ? BigInt(req.params.id) : req.params.id
    try {
      // the binding checks contactIds and blockShared and names the field at fault
      res.json(await scoped(req).split(id, body.contactIds, { blockShared: body.blockShared }))
    } catch (e) {
      fail(res, e)
    }
  })

  app.post('/admin/customers/:id/erase', async (req, res) => {
    // an empty body asks for no suppression
    const body = typeof req.body === 'string' && req.body.trim() === '' ? {} : json(req, res)
    if (body === undefined) return
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      const message = 'invalid request: body must be empty or a JSON object like {"suppress": true}'
      return res.status(400).json({ error: { code: 'invalid_input', message, field: 'request' } })
    }
    const id = /^\d+$/.test(req.params.id) ? BigInt(req.params.id) : req.params.id
    try {
      // the binding checks suppress and names the field at fault; the receipt has no personal data
      res.json(await scoped(req).erase(id, { suppress: body.suppress }))
    } catch (e) {
      fail(res, e)
    }
  })

  app.post('/admin/import', async (req, res) => {
    const body = json(req, res)
    if (body === undefined) return
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      const message = 'invalid request: body must be a JSON object like {"checkouts": [...]}'
      return res.status(400).json({ error: { code: 'invalid_input', message, field: 'request' } })
    }
    try {
      // the binding checks checkouts (or a table's rows), onError, dryRun and renumber and
      // names the field at fault; the report holds counts, ids and reasons, no values
      const { checkouts, table, onError, dryRun, renumber } = body
      if (checkouts !== undefined && table !== undefined) {
        const message = 'invalid request: give checkouts or table (an existing table\'s rows), not both'
        return res.status(400).json({ error: { code: 'invalid_input', message, field: 'request' } })
      }
      res.json(table !== undefined
        ? await scoped(req).importTableRows(table, { onError, dryRun, renumber })
        : await scoped(req).importCheckouts(checkouts, { onError, dryRun }))
    } catch (e) {
      fail(res, e)
    }
  })

  app.get('/admin/export', async (req, res) => {
    try {
      const customers = await scoped(req).customers()
      res.type('application/x-ndjson').send(customers.map((c) => JSON.stringify(c) + '\n').join(''))
    } catch (e) {
      fail(res, e)
    }
  })

  app.get('/admin/contacts', async (req, res) => {
    try {
      const rows = await scoped(req).allContacts()
      res.type('application/x-ndjson').send(rows.map((r) => JSON.stringify(r) + '\n').join(''))
    } catch (e) {
      fail(res, e)
    }
  })

  app.get('/admin/erasures', async (req, res) => {
    try {
      // one erasure record per line: ids, times and keyed hashes, no email or phone number
      const records = await scoped(req).erasures()
      res.type('application/x-ndjson').send(records.map((r) => JSON.stringify(r) + '\n').join(''))
    } catch (e) {
      fail(res, e)
    }
  })

  app.post('/admin/erasures/reapply', async (req, res) => {
    try {
      // the records as an erasure log holds them, one per line: the binding reads them (a line
      // that is no record is invalid_input `erasures`, naming it), the core applies them in one
      // transaction (another tenant's record, or digests under another secret: nothing changes)
      const handle = scoped(req)
      const records = parseErasureLog(typeof req.body === 'string' ? req.body : '')
      res.json(await handle.reapplyErasures(records))
    } catch (e) {
      fail(res, e)
    }
  })

  app.get('/admin/backup', async (req, res) => {
    // the whole SQLite database (every tenant), copied while it serves into a temporary folder
    // and sent from there; 409 conflict on PostgreSQL (pg_dump backs it up) and memory:
    const dir = await mkdtemp(join(tmpdir(), 'identity-backup-'))
    let file, size
    try {
      const path = join(dir, 'identity-backup.db')
      await scoped(req).backupTo(path)
      file = await open(path)
      size = (await file.stat()).size
    } catch (e) {
      await file?.close()
      return fail(res, e)
    } finally {
      // the open file outlives its name: the folder goes now, the bytes once they are sent
      await rm(dir, { recursive: true, force: true })
    }
    res.set({
      'Content-Type': 'application/vnd.sqlite3',
      'Content-Disposition': 'attachment; filename="identity-backup.db"',
      'Content-Length': String(size),
    })
    file.createReadStream().pipe(res)
  })

  // unknown routes: a JSON error, as the service answers, not Express's HTML page
  app.use((req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: `no route ${req.method} ${req.path}` } })
  })

  app.use((err, req, res, next) => {
    // body too large, unreadable body: still a JSON error
    res.status(err.status ?? 500).json({ error: { code: err.type ?? 'internal', message: err.message } })
  })

  return { app, identity }
}
