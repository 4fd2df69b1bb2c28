// The support console in a real browser: headless Chromium (the system's, /usr/bin/chromium or
// $CHROMIUM) driven by playwright-core, against the real identity-server binary
// ($IDENTITY_SERVER, built by scripts/test) on a fresh SQLite database. Every page must run
// without a console error or a failed script; values a customer typed must show as text.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const SERVER = process.env.IDENTITY_SERVER ?? join(here, '..', '..', '..', 'target', 'debug', 'identity-server')
const BROWSER = process.env.CHROMIUM ?? '/usr/bin/chromium'
const TOKEN = 'console-admin-token-0123456789'
// tenant tokens: every tenant then needs one, for /identify as for the console
const TENANT_TOKENS = { default: 'console-default-token-0123', 'shop-k': 'console-shop-k-token-0123' }
const HOSTILE = '<img/src=x/onerror=alert(1)>@x.io'

let server
let base
let browser
let dir

/** Starts the binary on a free port; resolves to its base URL once it listens. */
function serve(url) {
  return new Promise((resolve, reject) => {
    const tenants = Object.entries(TENANT_TOKENS).map(([tenant, token]) => `${tenant}:${token}`).join(',')
    const argv = ['--port', '0', '--database-url', url, '--admin-token', TOKEN, '--tenant-tokens', tenants]
    server = spawn(SERVER, argv, {
      env: { ...process.env, RUST_LOG: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let log = ''
    server.stderr.on('data', (chunk) => {
      log += chunk
      const found = /listening on (http:\/\/[0-9.:]+)/.exec(log)
      if (found) resolve(found[1])
    })
    server.on('exit', (code) => reject(new Error(`the server exited (${code}): ${log}`)))
  })
}

/** A lookup or checkout with the tenant's own token. */
function asTenant(tenant = 'default') {
  return { authorization: `Bearer ${TENANT_TOKENS[tenant]}`, 'content-type': 'application/json' }
}

async function identify(body, tenant) {
  const headers = asTenant(tenant)
  const response = await fetch(`${base}/identify`, { method: 'POST', headers, body: JSON.stringify(body) })
  assert.equal(response.status, 200, await response.clone().text())
  return (await response.json()).contact
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'identity-console-'))
  base = await serve(`sqlite:${join(dir, 'console.db')}`)
  await identify({ email: 'doc@hillvalley.edu', phoneNumber: '5550101' }) // 1
  await identify({ email: 'emmett@hillvalley.edu', phoneNumber: '5550101' }) // 2 -> 1
  await identify({ email: 'marty@hillvalley.edu', phoneNumber: '5550199' }) // 3
  await identify({ email: 'doc@hillvalley.edu', phoneNumber: '5550199' }) // merges 3 into 1
  await identify({ email: HOSTILE, phoneNumber: '5550777' }) // 4
  // a second tenant with settings, a blocked value and a webhook for the tenant panel
  const admin = { authorization: `Bearer ${TOKEN}`, 'x-tenant-id': 'shop-k', 'content-type': 'application/json' }
  for (const [method, path, body] of [
    ['PUT', '/settings', { phoneRegion: 'IN' }],
    ['PUT', '/settings/limits', { emails: 3, phones: null }],
    ['POST', '/admin/blocked', { kind: 'email', value: 'spam@shop-k.io' }],
    ['POST', '/admin/webhooks', { url: 'https://crm.example.com/hooks' }],
  ]) {
    const response = await fetch(`${base}${path}`, { method, headers: admin, body: JSON.stringify(body) })
    assert.ok(response.ok, `${method} ${path}: ${await response.text()}`)
  }
  await identify({ email: 'asha@shop-k.io', phoneNumber: '+91 98765 43210' }, 'shop-k') // 5
  await identify({ email: 'asha.k@shop-k.io', phoneNumber: '+91 98765 43210' }, 'shop-k') // 6 -> 5
  // the webhook's first attempt (its host does not resolve here) for the panel to show
  for (let tries = 0; ; tries++) {
    const answer = await fetch(`${base}/admin/webhooks/1/deliveries`, { headers: admin })
    if ((await answer.json()).deliveries.length > 0) break
    assert.ok(tries < 100, 'the webhook was attempted within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  browser = await chromium.launch({ executablePath: BROWSER, headless: true })
})

after(async () => {
  await browser?.close()
  server?.kill()
  rmSync(dir, { recursive: true, force: true })
})

/** A new page with every console message and page error collected. */
async function page(options = {}) {
  const context = await browser.newContext(options)
  const p = await context.newPage()
  const problems = []
  p.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[14]/.test(m.text())) problems.push(m.text())
  })
  p.on('pageerror', (e) => problems.push(e.message))
  p.on('dialog', (d) => problems.push(`unexpected dialog: ${d.message()}`))
  await p.goto(`${base}/console`)
  return { p, problems, context }
}

async function signIn(p, token = TOKEN) {
  await p.fill('input[type=password]', token)
  await p.click('#sign-in-form button[type=submit]')
}

async function search(p, query) {
  await p.fill('input[type=search]', query)
  await p.press('input[type=search]', 'Enter')
}

test('the console is served with a policy that forbids inline script and framing', async () => {
  const response = await fetch(`${base}/console`)
  assert.equal(response.status, 200)
  const policy = response.headers.get('content-security-policy')
  assert.match(policy, /script-src 'self'/)
  assert.doesNotMatch(policy, /unsafe-inline/)
  assert.match(policy, /frame-ancestors 'none'/)
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff')
  assert.doesNotMatch(await response.text(), /<script>|onclick=|style=/, 'no inline script or style')
})

test('a wrong token is refused with a clear message, and nothing is shown', async () => {
  const { p, problems, context } = await page()
  await signIn(p, 'not-the-token-at-all')
  await p.waitForSelector('#sign-in-error:not(:empty)')
  assert.match(await p.textContent('#sign-in-error'), /token was refused/)
  assert.equal(await p.isVisible('#app'), false)
  assert.equal(await p.evaluate(() => sessionStorage.length), 0, 'a refused token is not kept')
  assert.doesNotMatch(p.url(), /token/)
  assert.deepEqual(problems, [])
  await context.close()
})

test('search by email, phone and id opens the customer: one node per row, its history in words', async () => {
  const { p, problems, context } = await page()
  await signIn(p)
  await p.waitForSelector('input[type=search]')
  for (const query of ['emmett@hillvalley.edu', '5550199', '3']) {
    await search(p, query)
    await p.waitForFunction(() => document.querySelector('#customer-title')?.textContent.startsWith('Customer 1 '))
    assert.equal(await p.locator('#rows tbody tr').count(), 3, query)
    assert.equal(await p.locator('#graph g.node').count(), 3, `${query}: one node per row`)
    assert.ok((await p.locator('#graph line.edge').count()) >= 2, `${query}: shared values drawn`)
    await p.evaluate(() => { document.querySelector('#customer-title').textContent = '' })
  }
  // the README's picture of the console, made here so that it shows the console as it is
  await search(p, 'doc@hillvalley.edu')
  await p.waitForFunction(() => document.querySelectorAll('#graph g.node').length === 3)
  await p.screenshot({ path: join(here, '..', '..', '..', 'docs', 'console.png'), fullPage: true })
  const timeline = await p.textContent('#timeline')
  assert.match(timeline, /row 2 \(emmett@hillvalley\.edu and 5550101\) joined customer 1 through its phone/)
  assert.match(timeline, /customer 3 merged into customer 1/)
  await search(p, 'nobody@x.io')
  await p.waitForFunction(() => document.querySelector('#message').textContent.length > 0)
  assert.match(await p.textContent('#message'), /No customer of this tenant has nobody@x\.io/)
  assert.deepEqual(problems, [])
  await context.close()
})

test('a hostile email shows as text, never as markup', async () => {
  const { p, problems, context } = await page()
  await signIn(p)
  await search(p, '5550777')
  await p.waitForSelector('#customer:not([hidden])')
  assert.equal(await p.locator('#rows img, #timeline img, #graph img').count(), 0)
  assert.ok((await p.textContent('#rows')).includes(HOSTILE))
  assert.deepEqual(problems, [], 'no alert, no error')
  await context.close()
})

test('split two rows apart, see the history say so; erase after typing the id; readable at 320 px', async () => {
  const { p, problems, context } = await page({ viewport: { width: 320, height: 640 } })
  problems.length = 0
  p.removeAllListeners('dialog')
  const dialogs = []
  p.on('dialog', async (d) => {
    dialogs.push(d.message())
    if (d.type() === 'prompt') await d.accept('1')
    else await d.accept()
  })
  await signIn(p)
  await search(p, 'doc@hillvalley.edu')
  await p.waitForFunction(() => document.querySelectorAll('#rows tbody tr').length === 3)
  assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 330), 'no sideways page at 320 px')
  await p.check('#rows input[value="3"]')
  await p.click('#split')
  await p.waitForFunction(() => document.querySelectorAll('#rows tbody tr').length === 2)
  assert.match(dialogs[0], /Split rows 3 off customer 1/)
  assert.match(await p.textContent('#timeline'), /split apart/)
  assert.equal(await p.locator('#graph g.node').count(), 2)
  await p.click('#erase')
  await p.waitForSelector('#customer', { state: 'hidden' })
  assert.match(dialogs[1], /Type 1 to confirm/)
  assert.match(await p.textContent('#message'), /Customer 1 erased/)
  const gone = await fetch(`${base}/contacts?email=doc%40hillvalley.edu`, { headers: asTenant() })
  assert.equal(gone.status, 404, 'the customer is gone')
  await search(p, '3')
  await p.waitForSelector('#customer:not([hidden])')
  assert.deepEqual(problems, [])
  await context.close()
})

test("from the keyboard alone: sign in, choose a tenant, read its settings, blocked values and webhooks", async () => {
  const { p, problems, context } = await page()
  // the token field has the focus on arrival
  await p.keyboard.type(TOKEN)
  await p.keyboard.press('Enter')
  await p.waitForSelector('#app:not([hidden])')
  assert.equal(await p.evaluate(() => document.activeElement.id), 'search', 'the search has the focus')
  await p.keyboard.press('Shift+Tab')
  assert.equal(await p.evaluate(() => document.activeElement.id), 'tenant')
  await p.keyboard.press('Control+A')
  await p.keyboard.type('shop-k')
  await p.keyboard.press('Tab') // the tenant changes: the panel reads it
  await p.keyboard.press('Tab') // Open
  await p.keyboard.press('Tab') // the panel's summary
  await p.keyboard.press('Enter')
  await p.waitForFunction(() => document.querySelector('#settings').textContent.includes('shop-k'))
  const settings = await p.textContent('#settings')
  assert.match(settings, /Phone regionIN/)
  assert.match(settings, /Most emails per customer3/)
  assert.match(settings, /Most phone numbers per customerno limit/)
  assert.match(await p.textContent('#blocked'), /email: spam@shop-k\.io/)
  assert.match(
    await p.textContent('#webhooks'),
    /https:\/\/crm\.example\.com\/hooks: active, at f1\.\d+, last error: could not connect[^;]*; latest attempts: evt_\d+ could not connect/,
  )
  assert.equal(await p.isVisible('#webhooks'), true, 'the panel opened from the keyboard')
  assert.deepEqual(problems, [])
  await context.close()
})

test("a tenant's token opens that tenant only: its customers, its panel, its actions", async () => {
  const { p, problems, context } = await page()
  await signIn(p, TENANT_TOKENS['shop-k'])
  await p.waitForSelector('#app:not([hidden])')
  assert.equal(await p.inputValue('#tenant'), 'shop-k', 'the tenant of the token')
  assert.equal(await p.getAttribute('#tenant', 'readonly'), '', 'and no other')
  assert.match(await p.textContent('#tenant-note'), /tenant of your token/)
  await p.click('#tenant-panel summary')
  await p.waitForFunction(() => document.querySelector('#settings').textContent.includes('shop-k'))
  assert.match(await p.textContent('#settings'), /Phone regionIN/)
  assert.match(await p.textContent('#webhooks'), /crm\.example\.com/)
  // another tenant's customer is not there for this token
  await search(p, 'marty@hillvalley.edu')
  await p.waitForFunction(() => document.querySelector('#message').textContent.includes('No customer'))
  await search(p, 'asha.k@shop-k.io')
  await p.waitForFunction(() => document.querySelector('#customer-title')?.textContent.startsWith('Customer 5 '))
  assert.equal(await p.locator('#graph g.node').count(), 2)
  // block one of its values, confirmed, and see the panel list it
  p.removeAllListeners('dialog')
  const dialogs = []
  p.on('dialog', (d) => {
    dialogs.push(d.message())
    d.accept()
  })
  await p.selectOption('#block-value', 'asha.k@shop-k.io')
  await p.click('#block')
  await p.waitForFunction(() => document.querySelector('#blocked').textContent.includes('asha.k@shop-k.io'))
  assert.match(dialogs[0], /Block asha\.k@shop-k\.io\?/)
  const blocked = await fetch(`${base}/admin/blocked`, { headers: { authorization: `Bearer ${TOKEN}`, 'x-tenant-id': 'shop-k' } })
  assert.match(await blocked.text(), /asha\.k@shop-k\.io/, 'blocked for shop-k, as the admin sees it')
  const elsewhere = await fetch(`${base}/admin/blocked`, { headers: { authorization: `Bearer ${TOKEN}` } })
  assert.doesNotMatch(await elsewhere.text(), /asha/, 'and for no other tenant')
  // signing out forgets the token and frees the tenant field
  await p.click('#sign-out')
  assert.equal(await p.evaluate(() => sessionStorage.length), 0)
  assert.equal(await p.getAttribute('#tenant', 'readonly'), null)
  assert.deepEqual(problems, [])
  await context.close()
})
