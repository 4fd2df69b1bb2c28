// Error codes, argument validation and use after close.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { Identity } from './identity.mjs'

async function rejection(promise) {
  try {
    await promise
  } catch (e) {
    return e
  }
  assert.fail('expected a rejection')
}

test('wrong argument types are INVALID_INPUT naming the field, never a crash', async () => {
  const ident = await Identity.connect('memory:')
  const cases = [
    [{ email: {} }, 'email', /must be a string or null, not object/],
    [{ email: 5 }, 'email', /not number/],
    [{ email: ['a@b.c'] }, 'email', /not object/],
    [{ email: 'nope' }, 'email', /exactly one '@'/],
    [{ phoneNumber: -1 }, 'phoneNumber', /must not be negative/],
    [{ phoneNumber: 1.5 }, 'phoneNumber', /must be an integer/],
    [{ phoneNumber: NaN }, 'phoneNumber', /must be an integer/],
    [{ phoneNumber: Infinity }, 'phoneNumber', /must be an integer/],
    [{ phoneNumber: 2 ** 60 }, 'phoneNumber', /MAX_SAFE_INTEGER/],
    [{ phoneNumber: -5n }, 'phoneNumber', /must not be negative/],
    [{ phoneNumber: 10n ** 21n }, 'phoneNumber', /1 to 20 digits/],
    [{ phoneNumber: true }, 'phoneNumber', /not boolean/],
    [{ phoneNumber: { n: 1 } }, 'phoneNumber', /not object/],
    [{ phoneNumber: '12ab' }, 'phoneNumber', /only digits/],
    [{}, 'request', /an email or a phone number is required/],
    [{ email: '  ', phoneNumber: null }, 'request', /required/],
    [null, 'request', /pass an object/],
    [undefined, 'request', /pass an object/],
    ['doc@x.io', 'request', /pass an object/],
  ]
  for (const [input, field, message] of cases) {
    for (const call of [() => ident.identify(input), () => ident.lookup(input)]) {
      const e = await rejection(call())
      assert.ok(e instanceof Error, inspect(input))
      assert.equal(e.code, 'INVALID_INPUT', `${inspect(input)}: ${e.message}`)
      assert.equal(e.field, field, `${inspect(input)}: ${e.message}`)
      assert.match(e.message, message)
    }
  }
  assert.equal(await ident.lookup({ email: 'anyone@x.io' }), null, 'nothing was written')
})

test('numbers and bigints are phone digits', async () => {
  const ident = await Identity.connect('memory:')
  assert.deepEqual((await ident.identify({ phoneNumber: 123456 })).phoneNumbers, ['123456'])
  assert.deepEqual((await ident.identify({ phoneNumber: 98765432109876543210n })).phoneNumbers, ['98765432109876543210'])
  assert.equal((await ident.identify({ phoneNumber: '123456' })).primaryContactId, 1)
})

test('use after close rejects with CLOSED; close is idempotent', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  await ident.identify({ email: 'a@x.io' })
  await ident.close()
  assert.equal(ident.closed, true)
  for (const call of [() => ident.identify({ email: 'a@x.io' }), () => ident.lookup({ email: 'a@x.io' })]) {
    const e = await rejection(call())
    assert.equal(e.code, 'CLOSED')
    assert.equal(e.message, 'this Identity is closed; connect a new one')
  }
  await ident.close()
})

test('connect validates its arguments and never shows a password', async () => {
  for (const [args, field] of [[[5], 'url'], [['mysql://u:hunter2@db/x'], 'url'], [['memory:', 5], 'options'], [['memory:', { maxConnections: 0 }], 'maxConnections'], [['memory:', { acquireTimeoutMs: 1.5 }], 'acquireTimeoutMs']]) {
    const e = await rejection(Identity.connect(...args))
    assert.equal(e.code, 'INVALID_INPUT', e.message)
    assert.equal(e.field, field, e.message)
    assert.doesNotMatch(e.message, /hunter2/)
  }
  const e = await rejection(Identity.connect('postgres://shop:hunter2@127.0.0.1:1/shop', { acquireTimeoutMs: 300 }))
  assert.deepEqual([e.code, e.retryable], ['UNAVAILABLE', true])
  assert.equal(e.message, 'database unavailable while connecting to postgres: connection refused at 127.0.0.1:1 (is the server running?)')
  assert.doesNotMatch(e.message + e.stack, /hunter2/)
  assert.equal((await Identity.connect('memory:')).backend, 'sqlite')
})

test('the class has no public constructor', () => {
  assert.throws(() => new Identity())
})
