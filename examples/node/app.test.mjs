// Starts the Express app on a free port and replays every shared vector over HTTP.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createApp } from './app.mjs'

const VECTORS = join(import.meta.dirname, '..', '..', 'tests', 'vectors')

async function serve() {
  const { app, identity } = await createApp('sqlite::memory:')
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const base = `http://127.0.0.1:${server.address().port}`
  return { base, identity, close: async () => { server.close(); await identity.close() } }
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

// an erase step through /admin/customers/:id/erase: the receipt without its time, or the error
async function eraseStep(base, headers, step, at) {
  const { customer, suppress } = step.erase
  const response = await fetch(`${base}/admin/customers/${customer}/erase`, {
    method: 'POST', body: JSON.stringify({ suppress }), headers,
  })
  const body = await response.json()
  if (step.error) {
    assert.equal(response.status, STATUS[step.error.code], `${at}: ${JSON.stringify(body)}`)
    assert.equal(body.error.code, step.error.code, at)
    return
  }
  assert.equal(response.status, 200, `${at}: ${JSON.stringify(body)}`)
  const { erasedAt, ...receipt } = body
  assert.equal(typeof erasedAt, 'string', at)
  assert.deepEqual(receipt, step.result, at)
}

// an import step through /admin/import: the report, or the error (code and field)
async function importStep(base, headers, step, at) {
  const response = await fetch(`${base}/admin/import`, { method: 'POST', body: JSON.stringify(step.import), headers })
  const body = await response.json()
  if (step.error) {
    assert.equal(response.status, STATUS[step.error.code], `${at}: ${JSON.stringify(body)}`)
    assert.equal(body.error.code, step.error.code, at)
    assert.equal(body.error.field, step.error.field, at)
    return
  }
  assert.equal(response.status, 200, `${at}: ${JSON.stringify(body)}`)
  assert.deepEqual(body, step.result, at)
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

// a split step through /admin/customers/:id/split: the answer, or the error
async function splitStep(base, headers, step, at) {
  const { customer, contactIds, blockShared } = step.split
  const response = await fetch(`${base}/admin/customers/${customer}/split`, {
    method: 'POST', body: JSON.stringify({ contactIds, blockShared }), headers,
  })
  const body = await response.json()
  if (step.error) {
    assert.equal(response.status, STATUS[step.error.code], `${at}: ${JSON.stringify(body)}`)
    assert.equal(body.error.code, step.error.code, at)
    assert.equal(body.error.field, step.error.field, at)
    return
  }
  assert.equal(response.status, 200, `${at}: ${JSON.stringify(body)}`)
  assert.deepEqual(body, step.result, at)
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

for (const file of readdirSync(VECTORS).filter((f) => f.endsWith('.json')).sort()) {
  test(`vector ${file} over HTTP`, async () => {
    const { base, close } = await serve()
    try {
      const vector = JSON.parse(readFileSync(join(VECTORS, file), 'utf8'))
      for (const [i, step] of vector.steps.entries()) {
        const headers = step.tenant !== undefined ? { 'X-Tenant-Id': step.tenant } : {}
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
        const response = await fetch(`${base}/identify`, { method: 'POST', body: JSON.stringify(step.request), headers })
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
    } finally {
      await close()
    }
  })
}

test('malformed JSON and oversized bodies get JSON errors', async () => {
  const { base, close } = await serve()
  try {
    const malformed = await fetch(`${base}/identify`, { method: 'POST', body: '{' })
    assert.equal(malformed.status, 400)
    assert.equal((await malformed.json()).error.code, 'malformed_json')
    const big = await fetch(`${base}/identify`, { method: 'POST', body: 'x'.repeat(20_000) })
    assert.equal(big.status, 413)
    for (const bad of ['x', '0', '1.5']) {
      const response = await fetch(`${base}/admin/contacts/${bad}/history`)
      assert.equal(response.status, 400, bad)
      assert.equal((await response.json()).error.field, 'contactId', bad)
      const split = await fetch(`${base}/admin/customers/${bad}/split`, { method: 'POST', body: '{"contactIds":[2]}' })
      assert.equal((await split.json()).error.field, 'contactId', bad)
    }
    for (const body of ['{"contactIds":"2"}', '{"contactIds":[0]}', '{}']) {
      const response = await fetch(`${base}/admin/customers/1/split`, { method: 'POST', body })
      assert.equal(response.status, 400, body)
      assert.equal((await response.json()).error.field, 'contactIds', body)
    }
    for (const bad of ['x', '0']) {
      const erase = await fetch(`${base}/admin/customers/${bad}/erase`, { method: 'POST' })
      assert.equal((await erase.json()).error.field, 'contactId', bad)
    }
    for (const body of ['[]', '{"suppress":"yes"}']) {
      const response = await fetch(`${base}/admin/customers/1/erase`, { method: 'POST', body })
      assert.equal(response.status, 400, body)
      assert.equal((await response.json()).error.field, 'request', body)
    }
    const unknown = await fetch(`${base}/admin/customers/1/erase`, { method: 'POST' })
    assert.equal((await unknown.json()).error.code, 'not_found')
    for (const [body, field] of [['[]', 'request'], ['{"checkouts":5}', 'checkouts'], ['{"checkouts":[],"onError":"never"}', 'onError'], ['{"checkouts":[],"dryRun":"yes"}', 'request']]) {
      const response = await fetch(`${base}/admin/import`, { method: 'POST', body })
      assert.equal(response.status, 400, body)
      assert.equal((await response.json()).error.field, field, body)
    }
    // an import's body may pass the other routes' 16 kB
    const checkouts = Array.from({ length: 600 }, (_, i) => ({ email: `c${i}@x.io`, at: 1577836800 + i }))
    const history = JSON.stringify({ checkouts, dryRun: true })
    assert.ok(history.length > 16_384)
    const planned = await fetch(`${base}/admin/import`, { method: 'POST', body: history })
    assert.deepEqual([planned.status, (await planned.json()).rows], [200, 600])
    assert.equal(await (await fetch(`${base}/admin/export`)).text(), '')
  } finally {
    await close()
  }
})

test('core errors answer as the service does', async () => {
  const { fail } = await import('./app.mjs')
  const answered = (e) => {
    const res = { headers: {}, set(k, v) { this.headers[k] = v; return this }, status(s) { this.code = s; return this }, json(b) { this.body = b; return this } }
    fail(res, e)
    return [res.code, res.body.error.code, res.headers['Retry-After'], res.body.error.message]
  }
  const error = (code, message) => Object.assign(new Error(message), { code })
  assert.deepEqual(answered(error('UNAVAILABLE', 'database unavailable')), [503, 'unavailable', '2', 'database unavailable'])
  assert.deepEqual(answered(error('CLOSED', 'closed')), [503, 'unavailable', '2', 'closed'])
  assert.deepEqual(answered(error('CONTENTION', 'gave up')), [503, 'contention', '1', 'gave up'])
  const original = console.error
  console.error = () => {}
  try {
    for (const code of ['STORE', 'CORRUPT_DATA', 'INTERNAL', undefined]) {
      assert.deepEqual(answered(error(code, 'secret details')), [500, 'internal', undefined, 'internal server error'], String(code))
    }
  } finally {
    console.error = original
  }
  // and live: a closed store is unavailable
  const { base, close, identity } = await serve()
  try {
    await identity.close()
    const response = await fetch(`${base}/identify`, { method: 'POST', body: '{"email":"a@x.io"}' })
    assert.equal(response.status, 503)
    assert.equal(response.headers.get('retry-after'), '2')
    assert.equal((await response.json()).error.code, 'unavailable')
  } finally {
    await close()
  }
})

test('unknown routes answer a JSON 404, and the server binds where it says', async () => {
  const { base, close } = await serve()
  try {
    const response = await fetch(`${base}/nope`)
    assert.equal(response.status, 404)
    assert.match(response.headers.get('content-type'), /^application\/json/)
    assert.equal((await response.json()).error.code, 'not_found')
  } finally {
    await close()
  }
  // server.mjs on a free port: it listens on 127.0.0.1 and says so
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, [join(import.meta.dirname, 'server.mjs')], {
    env: { ...process.env, PORT: '0', DATABASE_URL: 'sqlite::memory:' },
  })
  try {
    const line = await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => resolve(String(d)))
      child.on('exit', (code) => reject(new Error(`server.mjs exited with ${code}`)))
    })
    const [, address, port] = line.match(/listening on http:\/\/([\d.]+):(\d+)/)
    assert.equal(address, '127.0.0.1')
    const answer = await fetch(`http://127.0.0.1:${port}/identify`, { method: 'POST', body: '{"email":"a@x.io"}' })
    assert.equal((await answer.json()).contact.primaryContactId, 1)
  } finally {
    child.kill()
  }
})
