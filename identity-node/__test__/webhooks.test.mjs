// Webhooks through the binding: a local receiver (node:http) gets every event after the
// endpoint's creation, in order, each signature checked with verifyWebhook(); the endpoint's
// state and attempts; a replay; a receiver that fails, then the backlog after a replay; and the
// errors, each with its field.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { Identity, verifyWebhook, signWebhook } from './identity.mjs'

/** A receiver on a free loopback port: records each delivery; answers `status()`. */
async function receiver(status = () => 204) {
  const got = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const code = status()
      if (code < 300) {
        got.push({
          id: req.headers['webhook-id'],
          timestamp: Number(req.headers['webhook-timestamp']),
          signature: req.headers['webhook-signature'],
          body,
        })
      }
      res.writeHead(code).end()
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { got, url: `http://127.0.0.1:${server.address().port}/hooks`, close: () => server.close() }
}

async function until(what, condition, ms = 20000) {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('a local receiver gets every event after creation, in order, signed', async () => {
  const ident = await Identity.connect('sqlite::memory:', { allowPrivateWebhooks: true })
  await ident.identify({ email: 'before@x.io' }) // before the endpoint: not sent
  const inbox = await receiver()
  const hook = await ident.createWebhook(inbox.url)
  assert.match(hook.secret, /^whsec_/)
  assert.deepEqual({ ...hook, id: 0, secret: 0, createdAt: 0, nextAttemptAt: 0 }, {
    id: 0, url: inbox.url, types: null, state: 'active', cursor: hook.cursor, attempts: 0,
    nextAttemptAt: 0, lastError: null, createdAt: 0, secret: 0,
  })
  const sender = ident.deliverWebhooks({ timeoutMs: 2000 })
  assert.equal(sender.running, true)
  await ident.identify({ email: 'doc@x.io', phoneNumber: '555' })
  await ident.identify({ email: 'marty@x.io', phoneNumber: '777' })
  await ident.identify({ email: 'doc@x.io', phoneNumber: '777' })
  const expected = (await ident.events({ after: hook.cursor })).events
  assert.deepEqual(expected.map((e) => e.type), ['contact.created', 'contact.created', 'customer.merged'])
  await until('three deliveries', () => inbox.got.length >= 3)
  await sender.stop()
  assert.equal(sender.running, false)
  assert.deepEqual(inbox.got.map((g) => g.id), expected.map((e) => e.id))
  for (const [i, g] of inbox.got.entries()) {
    assert.ok(verifyWebhook(hook.secret, g.id, g.timestamp, g.body, g.signature))
    assert.ok(!verifyWebhook(hook.secret, g.id, g.timestamp + 1, g.body, g.signature))
    assert.deepEqual(JSON.parse(g.body.toString()), JSON.parse(JSON.stringify(expected[i])))
  }
  const [listed] = await ident.webhooks()
  assert.equal(listed.secret, undefined, 'the secret is told once')
  assert.equal(listed.cursor, expected[2].cursor)
  const attempts = await ident.webhookDeliveries(hook.id, { limit: 2 })
  assert.deepEqual(attempts.map((a) => [a.eventId, a.attempt, a.status, a.error]), [
    [expected[2].id, 1, 204, null], [expected[1].id, 1, 204, null],
  ])
  // a replay from the start delivers everything again, in order
  const replayed = await ident.replayWebhook(hook.id)
  assert.equal(replayed.state, 'active')
  const again = ident.deliverWebhooks()
  await until('the replay', () => inbox.got.length >= 3 + 4)
  await again.stop()
  const all = (await ident.events()).events.map((e) => e.id)
  assert.deepEqual(inbox.got.slice(3).map((g) => g.id), all)
  await ident.deleteWebhook(hook.id)
  assert.deepEqual(await ident.webhooks(), [])
  inbox.close()
  await ident.close()
})

test('a receiver that fails is retried, and a replay from its cursor sends the backlog', async () => {
  const ident = await Identity.connect('sqlite::memory:', { allowPrivateWebhooks: true })
  let up = false
  const inbox = await receiver(() => (up ? 204 : 503))
  const hook = await ident.createWebhook(inbox.url, { types: ['contact.created'] })
  assert.deepEqual(hook.types, ['contact.created'])
  const sender = ident.deliverWebhooks({ timeoutMs: 1000 })
  await ident.identify({ email: 'a@x.io', phoneNumber: '1' })
  await until('a failed attempt', async () => (await ident.webhookDeliveries(hook.id)).length > 0)
  const [failed] = await ident.webhookDeliveries(hook.id)
  assert.equal(failed.status, 503)
  assert.equal(failed.error, 'answered 503')
  assert.equal(typeof failed.nextAttemptAt, 'string')
  const [listed] = await ident.webhooks()
  assert.equal(listed.attempts, 1)
  assert.equal(listed.lastError, 'answered 503')
  up = true
  await ident.identify({ email: 'a@x.io', phoneNumber: '2' }) // a link: not a type it takes
  await ident.identify({ email: 'b@x.io' })
  // resume now rather than after the 5 s retry: a replay from its own cursor
  await ident.replayWebhook(hook.id, { after: listed.cursor })
  await until('the backlog', () => inbox.got.length >= 2)
  await sender.stop()
  const created = (await ident.events()).events.filter((e) => e.type === 'contact.created')
  assert.deepEqual(inbox.got.map((g) => g.id), created.map((e) => e.id))
  inbox.close()
  await ident.close()
})

test('bad arguments are refused with their field, and nothing is registered', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const refused = async (call, code, field) => {
    await assert.rejects(call, (e) => e.code === code && e.field === field)
  }
  await refused(ident.createWebhook('http://127.0.0.1:9/'), 'INVALID_INPUT', 'url')
  await refused(ident.createWebhook('ftp://example.com/'), 'INVALID_INPUT', 'url')
  await refused(ident.createWebhook(42), 'INVALID_INPUT', 'url')
  await refused(ident.createWebhook('https://example.com/', { types: [] }), 'INVALID_INPUT', 'types')
  await refused(ident.createWebhook('https://example.com/', { types: ['contact.deleted'] }), 'INVALID_INPUT', 'types')
  await refused(ident.createWebhook('https://example.com/', { types: 'contact.created' }), 'INVALID_INPUT', 'types')
  assert.deepEqual(await ident.webhooks(), [])
  const hook = await ident.createWebhook('https://example.com/h')
  await refused(ident.deleteWebhook(hook.id + 1), 'NOT_FOUND', undefined)
  await refused(ident.deleteWebhook('x'), 'INVALID_INPUT', 'webhookId')
  await refused(ident.deleteWebhook(0), 'INVALID_INPUT', 'webhookId')
  await refused(ident.webhookDeliveries(hook.id, { limit: 0 }), 'INVALID_INPUT', 'limit')
  await refused(ident.replayWebhook(hook.id, { after: 'f1.ffff' }), 'INVALID_INPUT', 'after')
  await refused(ident.replayWebhook(hook.id, { after: 7 }), 'INVALID_INPUT', 'after')
  await refused(ident.tenant('shop-b').replayWebhook(hook.id), 'NOT_FOUND', undefined)
  assert.throws(() => ident.deliverWebhooks({ timeoutMs: 5 }), (e) => e.field === 'timeoutMs')
  await refused(Identity.connect('memory:', { allowPrivateWebhooks: 'yes' }), 'INVALID_INPUT', 'allowPrivateWebhooks')
  assert.throws(() => verifyWebhook('nope', 'evt_1', 1, '{}', 'v1,x'), (e) => e.field === 'secret')
  await ident.close()
})

test('signatures are the Standard Webhooks ones', () => {
  // the example of the Standard Webhooks specification
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
  const body = '{"test": 2432232314}'
  const signature = signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)
  assert.equal(signature, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=')
  assert.ok(verifyWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, Buffer.from(body), signature))
})
