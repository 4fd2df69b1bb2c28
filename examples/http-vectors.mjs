// Replays the shared vectors (tests/vectors/*.json) over HTTP against an app that serves the Rust
// service's routes with its wire contract: POST /identify, GET/PUT /settings, PUT /settings/limits,
// /admin/blocked, /admin/contacts/:id/history, /events, /admin/webhooks, /admin/customers/:id/split and /erase,
// /admin/import, /admin/export, /admin/contacts, /admin/erasures and /admin/erasures/reapply,
// the tenant in X-Tenant-Id. The Express and NestJS examples' tests run every vector through it,
// so both answer as the service does. It also checks that an example's server script binds where
// it says (`assertBindsLoopback`).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const VECTORS = join(import.meta.dirname, '..', 'tests', 'vectors')

/** The vector files, sorted. */
export function vectorFiles() {
  return readdirSync(VECTORS).filter((f) => f.endsWith('.json')).sort()
}

// a blocked-list step through /admin/blocked: its `result`, or its `error` (nothing changes)
async function blockedStep(base, headers, step, at) {
  const list = async () => (await (await fetch(`${base}/admin/blocked`, { headers })).json()).blocked
  const before = await list()
  if (step.list) {
    const wire = before.map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v != null)))
    assert.deepEqual(wire, step.result, at)
    return
  }
  const [method, entry] = step.block ? ['POST', step.block] : ['DELETE', step.unblock]
  const response = await fetch(`${base}/admin/blocked`, { method, body: JSON.stringify(entry), headers })
  const body = await response.json()
  if (step.error) {
    assert.equal(response.status, STATUS[step.error.code], at)
    assert.equal(body.error.code, step.error.code, at)
    assert.equal(body.error.field, step.error.field, at)
    assert.deepEqual(await list(), before, `${at}: a refused change changed the list`)
  } else {
    assert.equal(response.status, 200, `${at}: ${JSON.stringify(body)}`)
    assert.equal(body.changed, step.result, at)
  }
}

const STATUS = { invalid_input: 400, not_found: 404, conflict: 409 }

// a split, erase or import step: POSTs `payload` to `path`; a refusal must carry the step's
// status and code (and field, unless `field: false`) and answers undefined; else the 200 body
async function postStep(base, headers, step, at, path, payload, { field = true } = {}) {
  const response = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(payload), headers })
  const body = await response.json()
  if (step.error) {
    assert.equal(response.status, STATUS[step.error.code], `${at}: ${JSON.stringify(body)}`)
    assert.equal(body.error.code, step.error.code, at)
    if (field) assert.equal(body.error.field, step.error.field, at)
    return undefined
  }
  assert.equal(response.status, 200, `${at}: ${JSON.stringify(body)}`)
  return body
}

// an erase step through /admin/customers/:id/erase: the receipt without its time, or the error
async function eraseStep(base, headers, step, at) {
  const { customer, suppress } = step.erase
  const body = await postStep(base, headers, step, at, `/admin/customers/${customer}/erase`, { suppress }, { field: false })
  if (body === undefined) return
  const { erasedAt, ...receipt } = body
  assert.equal(typeof erasedAt, 'string', at)
  assert.deepEqual(receipt, step.result, at)
}

// an import step through /admin/import: the report, or the error (code and field)
async function importStep(base, headers, step, at) {
  const body = await postStep(base, headers, step, at, '/admin/import', step.import)
  if (body !== undefined) assert.deepEqual(body, step.result, at)
}

// an export or contacts step through /admin/export or /admin/contacts: one customer or row
// per line (a row's times checked to be there, then left out)
async function exportStep(base, headers, step, at) {
  const response = await fetch(`${base}/admin/${step.export ? 'export' : 'contacts'}`, { headers })
  assert.match(response.headers.get('content-type'), /^application\/x-ndjson/, at)
  const lines = (await response.text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
  const wire = step.export
    ? lines
    : lines.map(({ createdAt, updatedAt, ...row }) => {
      assert.equal(typeof createdAt, 'string', at)
      assert.equal(typeof updatedAt, 'string', at)
      return row
    })
  assert.deepEqual(wire, step.result, at)
}

// the tenant's erasure records through /admin/erasures, one per line
async function erasureLines(base, headers, at) {
  const response = await fetch(`${base}/admin/erasures`, { headers })
  assert.equal(response.status, 200, at)
  assert.match(response.headers.get('content-type'), /^application\/x-ndjson/, at)
  return (await response.text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
}

// the tenant's visible rows through /admin/contacts, `id` and `linkedId`
async function tableOf(base, headers) {
  const text = await (await fetch(`${base}/admin/contacts`, { headers })).text()
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)).map(({ id, linkedId }) => ({ id, linkedId }))
}

// an erasures step: each record's tenant and time checked, then its receipt, the ids of its rows
// and the kinds of its digests (no vector can know times, digests or the secret)
async function erasuresStep(base, headers, step, at) {
  const records = (await erasureLines(base, headers, at)).map((r) => {
    assert.equal(r.tenantId, step.tenant ?? 'default', at)
    assert.equal(typeof r.erasedAt, 'string', at)
    return { customerId: r.customerId, contactIds: r.contactIds, suppressed: r.suppressed, rows: r.rows.map((row) => row.id), digests: r.digests.map((d) => d.kind) }
  })
  assert.deepEqual(records, step.result, at)
}

// a reapply step through /admin/erasures/reapply, the records as JSON Lines: the report and
// `table`, or the error, which changes no row and no record
async function reapplyStep(base, headers, step, at) {
  const before = [await tableOf(base, headers), await erasureLines(base, headers, at)]
  const body = step.reapply.map((r) => JSON.stringify(r) + '\n').join('')
  const response = await fetch(`${base}/admin/erasures/reapply`, { method: 'POST', body, headers })
  const answer = await response.json()
  if (step.error) {
    assert.equal(response.status, STATUS[step.error.code], `${at}: ${JSON.stringify(answer)}`)
    assert.equal(answer.error.code, step.error.code, at)
    assert.equal(answer.error.field, step.error.field, at)
    assert.deepEqual([await tableOf(base, headers), await erasureLines(base, headers, at)], before, `${at}: a refused reapply changed something`)
    return
  }
  assert.equal(response.status, 200, `${at}: ${JSON.stringify(answer)}`)
  assert.deepEqual(answer, step.result, at)
  if (step.table) assert.deepEqual(await tableOf(base, headers), step.table, `${at}: table`)
}

// a split step through /admin/customers/:id/split: the answer, or the error
async function splitStep(base, headers, step, at) {
  const { customer, contactIds, blockShared } = step.split
  const body = await postStep(base, headers, step, at, `/admin/customers/${customer}/split`, { contactIds, blockShared })
  if (body !== undefined) assert.deepEqual(body, step.result, at)
}

// a history step through /admin/contacts/:id/history: events without their times, or 404
async function historyStep(base, headers, step, at) {
  const response = await fetch(`${base}/admin/contacts/${step.history}/history`, { headers })
  const body = await response.json()
  if (step.error) {
    assert.equal(response.status, 404, at)
    assert.equal(body.error.code, step.error.code, at)
    return
  }
  assert.equal(response.status, 200, `${at}: ${JSON.stringify(body)}`)
  for (const event of body.events) delete event.at
  assert.deepEqual(body, step.result, at)
}

// a customer step through /admin/customers/{id}: rows without their times, or the 404
async function customerStep(base, headers, step, at) {
  const response = await fetch(`${base}/admin/customers/${step.customer}`, { headers })
  const body = await response.json()
  if (step.error) {
    assert.equal(response.status, 404, at)
    assert.equal(body.error.code, step.error.code, at)
    return
  }
  assert.equal(response.status, 200, `${at}: ${JSON.stringify(body)}`)
  for (const row of body.rows) {
    assert.equal(typeof row.createdAt, 'string', at)
    assert.equal(typeof row.updatedAt, 'string', at)
    delete row.createdAt
    delete row.updatedAt
  }
  assert.deepEqual(body, step.result, at)
}

// an events step through /events: each event's type, tenant and data (its id, occurredAt and
// cursor strings, next the last cursor), or the 400 naming the field
async function eventsStep(base, headers, step, at) {
  const query = new URLSearchParams()
  if (step.events.after !== undefined) query.set('after', step.events.after)
  if (step.events.limit !== undefined) query.set('limit', String(step.events.limit))
  const response = await fetch(`${base}/events?${query}`, { headers })
  const body = await response.json()
  if (step.error) {
    assert.equal(response.status, 400, `${at}: ${JSON.stringify(body)}`)
    assert.equal(body.error.code, step.error.code, at)
    assert.equal(body.error.field, step.error.field, at)
    return
  }
  assert.equal(response.status, 200, `${at}: ${JSON.stringify(body)}`)
  const { next, events } = body
  if (events.length > 0) assert.equal(next, events[events.length - 1].cursor, at)
  const compared = events.map(({ id, occurredAt, cursor, ...rest }) => {
    assert.ok([id, occurredAt, cursor].every((v) => typeof v === 'string'), at)
    return rest
  })
  assert.deepEqual({ events: compared }, step.result, at)
}

// a webhook's wire shape as a vector states it: without id, createdAt, nextAttemptAt and the
// secret (told by create only)
function comparableWebhook(wire, created, at) {
  if (Array.isArray(wire)) return wire.map((w) => comparableWebhook(w, false, at))
  if (wire === null || wire.eventId !== undefined) return wire
  const { id, createdAt, nextAttemptAt, secret, ...rest } = wire
  assert.ok(Number.isInteger(id) && typeof createdAt === 'string' && typeof nextAttemptAt === 'string', at)
  assert.ok(created ? secret.startsWith('whsec_') : secret === undefined, `${at}: the secret is told once`)
  return rest
}

// a webhook step through /admin/webhooks: the endpoint(s), or the error naming the field
async function webhookStep(base, headers, step, at) {
  const w = step.webhook
  let response
  if (w.create) {
    response = await fetch(`${base}/admin/webhooks`, { method: 'POST', body: JSON.stringify(w.create), headers })
  } else if (w.list) {
    response = await fetch(`${base}/admin/webhooks`, { headers })
  } else if (w.deliveries !== undefined) {
    const query = w.limit !== undefined ? `?limit=${w.limit}` : ''
    response = await fetch(`${base}/admin/webhooks/${w.deliveries}/deliveries${query}`, { headers })
  } else if (w.replay !== undefined) {
    const body = JSON.stringify({ after: w.after ?? null })
    response = await fetch(`${base}/admin/webhooks/${w.replay}/replay`, { method: 'POST', body, headers })
  } else {
    response = await fetch(`${base}/admin/webhooks/${w.delete}`, { method: 'DELETE', headers })
  }
  const text = await response.text()
  const body = text === '' ? null : JSON.parse(text)
  if (step.error) {
    assert.equal(response.status, STATUS[step.error.code], `${at}: ${text}`)
    assert.equal(body.error.code, step.error.code, at)
    assert.equal(body.error.field, step.error.field, at)
    return
  }
  assert.equal(response.status, w.create ? 201 : w.delete !== undefined ? 204 : 200, `${at}: ${text}`)
  const answer = w.list ? body.webhooks : w.deliveries !== undefined ? body.deliveries : body
  assert.deepEqual(comparableWebhook(answer, Boolean(w.create), at), step.result, at)
}

/**
 * Replays every step of one vector file against the app at `base` (a fresh, empty store).
 * `identifyPaths`: the paths an identify step posts to, in turn (an app with an alias passes both);
 * `sign`: the binding's `signWebhook`, for the signature steps.
 */
// identity_identify_total by outcome, as GET /metrics shows it (Prometheus text)
async function identifyCounts(base) {
  const response = await fetch(`${base}/metrics`)
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type'), /^text\/plain/)
  const counts = {}
  for (const line of (await response.text()).split('\n')) {
    const sample = /^identity_identify_total\{outcome="([a-z]+)"\} (\d+)$/.exec(line)
    if (sample) counts[sample[1]] = Number(sample[2])
  }
  return counts
}

export async function replayVector(base, file, { identifyPaths = ['/identify'], sign } = {}) {
  const vector = JSON.parse(readFileSync(join(VECTORS, file), 'utf8'))
  const countedBefore = await identifyCounts(base)
  for (const [i, step] of vector.steps.entries()) {
    const headers = step.tenant !== undefined ? { 'X-Tenant-Id': step.tenant } : {}
    if (step.stats) {
      const now = await identifyCounts(base)
      const counted = Object.fromEntries(Object.entries(now).map(([k, n]) => [k, n - countedBefore[k]]))
      assert.deepEqual(counted, step.result.identify, `${file} ${i}`)
      continue
    }
    if (step.settings) {
      const response = await fetch(`${base}/settings`, { method: 'PUT', body: JSON.stringify(step.settings), headers })
      const body = await response.json()
      if (step.error) {
        assert.equal(response.status, step.error.code === 'conflict' ? 409 : 400, `${file} ${i}`)
        assert.equal(body.error.code, step.error.code, `${file} ${i}`)
        assert.equal(body.error.field, step.error.field, `${file} ${i}`)
      } else {
        assert.equal(response.status, 200, `${file} ${i}: ${JSON.stringify(body)}`)
        assert.equal(body.phoneRegion, step.result.phoneRegion, `${file} ${i}`)
        const read = await (await fetch(`${base}/settings`, { headers })).json()
        assert.deepEqual(read, body, `${file} ${i}: read back`)
      }
      continue
    }
    if (step.list || step.block || step.unblock) {
      await blockedStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.history !== undefined) {
      await historyStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.customer !== undefined) {
      await customerStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.events) {
      await eventsStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.webhook) {
      await webhookStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.signature) {
      const { secret, id, timestamp, body } = step.signature
      assert.equal(sign(secret, id, timestamp, body), step.result, `${file} ${i}`)
      continue
    }
    if (step.split) {
      await splitStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.erase) {
      await eraseStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.import) {
      await importStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.export || step.contacts) {
      await exportStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.erasures) {
      await erasuresStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.reapply) {
      await reapplyStep(base, headers, step, `${file} ${i}`)
      continue
    }
    if (step.limits) {
      const before = await (await fetch(`${base}/settings`, { headers })).json()
      const response = await fetch(`${base}/settings/limits`, { method: 'PUT', body: JSON.stringify(step.limits), headers })
      const body = await response.json()
      const read = await (await fetch(`${base}/settings`, { headers })).json()
      if (step.error) {
        assert.deepEqual([response.status, body.error.field], [400, 'limits'], `${file} ${i}`)
        assert.deepEqual(read, before, `${file} ${i}`)
      } else {
        assert.deepEqual([response.status, body.limits], [200, step.result], `${file} ${i}`)
        assert.deepEqual(read, body, `${file} ${i}`)
      }
      continue
    }
    const path = identifyPaths[i % identifyPaths.length]
    const response = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(step.request), headers })
    const body = await response.json()
    if (step.error) {
      assert.equal(response.status, step.error.code === 'blocked_value' ? 422 : 400, `${file} ${i}`)
      assert.equal(body.error.code, step.error.code, `${file} ${i}`)
      assert.equal(body.error.field, step.error.field, `${file} ${i}`)
    } else {
      assert.equal(response.status, 200, `${file} ${i}: ${JSON.stringify(body)}`)
      const { primaryContatctId, ...contact } = body.contact
      assert.equal(primaryContatctId, contact.primaryContactId)
      assert.deepEqual({ ...body, contact }, step.response, `${file} ${i}`)
    }
  }
}

/**
 * Checks the restore routes: `sqliteBase` serves a SQLite file with its erasure log at `log`,
 * `memoryBase` `memory:` (an in-memory SQLite database). GET /admin/backup answers the database (a SQLite file holding
 * the customer) or, on memory:, 409 conflict; a refused reapply (a line that is no record,
 * another tenant's record) answers 400 invalid_input `erasures` naming the line or record, and
 * changes nothing; an erase over HTTP reaches the log, whose lines GET /admin/erasures answers
 * byte for byte and POST /admin/erasures/reapply takes as they are.
 */
export async function assertRestoreRoutes(sqliteBase, memoryBase, log) {
  const created = await fetch(`${sqliteBase}/identify`, { method: 'POST', body: '{"email":"doc@x.io","phoneNumber":"555"}' })
  assert.equal(created.status, 200)
  const backup = await fetch(`${sqliteBase}/admin/backup`)
  assert.equal(backup.status, 200)
  assert.equal(backup.headers.get('content-type'), 'application/vnd.sqlite3')
  const bytes = Buffer.from(await backup.arrayBuffer())
  assert.ok(bytes.length > 0 && bytes.subarray(0, 16).toString('latin1') === 'SQLite format 3\0', 'not a SQLite file')
  assert.equal(Number(backup.headers.get('content-length')), bytes.length)
  assert.ok(bytes.includes('doc@x.io'), 'the copy holds the customer')
  const refused = await fetch(`${memoryBase}/admin/backup`)
  assert.deepEqual([refused.status, (await refused.json()).error.code], [409, 'conflict'])

  const before = [await tableOf(sqliteBase, {}), await erasureLines(sqliteBase, {}, 'before')]
  const record = {
    tenantId: 'shopB', customerId: 1, contactIds: [1], erasedAt: '2026-11-22T10:00:00Z', suppressed: false,
    rows: [{ id: 1, createdAt: null }], digests: [], secret: null,
  }
  const cases = [
    [`${JSON.stringify({ ...record, tenantId: 'default' })}\nnope\n`, 'line 2'],
    [`${JSON.stringify({ ...record, tenantId: 'default', contactIds: [] })}\n`, 'line 1'],
    [`${JSON.stringify(record)}\n`, 'record 0 is an erasure of tenant shopB'],
  ]
  for (const [body, says] of cases) {
    const response = await fetch(`${sqliteBase}/admin/erasures/reapply`, { method: 'POST', body })
    const answer = await response.json()
    assert.equal(response.status, 400, JSON.stringify(answer))
    assert.deepEqual([answer.error.code, answer.error.field], ['invalid_input', 'erasures'])
    assert.ok(answer.error.message.includes(says), answer.error.message)
  }
  assert.deepEqual([await tableOf(sqliteBase, {}), await erasureLines(sqliteBase, {}, 'after')], before, 'a refused reapply changed something')
  const empty = await fetch(`${sqliteBase}/admin/erasures/reapply`, { method: 'POST', body: '' })
  assert.deepEqual(await empty.json(), { records: 0, applied: 0, alreadyErased: 0, erasedIds: [], reusedIds: [], suppressed: 0 })

  const erased = await fetch(`${sqliteBase}/admin/customers/1/erase`, { method: 'POST', body: '{"suppress":true}' })
  assert.equal(erased.status, 200)
  const logged = readFileSync(log, 'utf8')
  assert.equal(logged.split('\n').filter((l) => l !== '').length, 1)
  assert.equal(await (await fetch(`${sqliteBase}/admin/erasures`)).text(), logged, 'the export is the log')
  const again = await fetch(`${sqliteBase}/admin/erasures/reapply`, { method: 'POST', body: logged })
  assert.deepEqual(await again.json(), { records: 1, applied: 0, alreadyErased: 1, erasedIds: [], reusedIds: [], suppressed: 0 })
}

/**
 * Runs `script` (an example's server) on a free port with `memory:` (SQLite in memory), and checks that it
 * prints `listening on http://127.0.0.1:<port>` and answers POST /identify there.
 */
export async function assertBindsLoopback(script) {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: '0', DATABASE_URL: 'sqlite::memory:' },
  })
  try {
    const line = await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => resolve(String(d)))
      child.on('exit', (code) => reject(new Error(`${script} exited with ${code}`)))
    })
    const [, address, port] = line.match(/listening on http:\/\/([\d.]+):(\d+)/)
    assert.equal(address, '127.0.0.1')
    const answer = await fetch(`http://127.0.0.1:${port}/identify`, { method: 'POST', body: '{"email":"a@x.io"}' })
    assert.equal((await answer.json()).contact.primaryContactId, 1)
  } finally {
    child.kill()
  }
}
