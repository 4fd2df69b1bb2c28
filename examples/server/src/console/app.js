// The support console: one page over the service's own routes. The token (the admin token, or a
// tenant's token, which binds the console to that tenant) is kept in this tab's sessionStorage and sent only as `Authorization: Bearer`, never in a URL and never as a
// cookie (so no other site can make the browser act with it). Every value is written with
// textContent or as an SVG text node: nothing a customer typed is ever parsed as markup.
'use strict'

const TOKEN = 'identity.console.token'
const $ = (id) => document.getElementById(id)
let current = null // { customer, history }

/**
 * Calls the service for the tenant field's tenant (`named` false: for the token's own);
 * resolves to the parsed JSON body, rejects with its error message.
 */
async function api(method, path, body, named = true) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN) ?? ''}` }
  const tenant = $('tenant').value.trim()
  if (named && tenant) headers['X-Tenant-Id'] = tenant
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const answer = response.status === 204 ? null : await response.json().catch(() => null)
  if (!response.ok) {
    const error = new Error(answer?.error?.message ?? `the service answered ${response.status}`)
    error.status = response.status
    throw error
  }
  return answer
}

function show(signedIn) {
  $('sign-in').hidden = signedIn
  $('app').hidden = !signedIn
  $('sign-out').hidden = !signedIn
  if (signedIn) $('search').focus()
  else $('token').focus()
}

function say(text, isError = false) {
  $('message').textContent = text
  $('message').className = isError ? 'error' : ''
}

/** Asks whose the token is: a tenant's token binds the tenant field to its tenant. */
async function bind() {
  const me = await api('GET', '/admin/whoami', undefined, false)
  const bound = me.caller === 'tenant'
  if (bound) $('tenant').value = me.tenantId
  $('tenant').readOnly = bound
  $('tenant-note').textContent = bound ? 'the tenant of your token' : ''
}

async function signIn(event) {
  event.preventDefault()
  $('sign-in-error').textContent = ''
  sessionStorage.setItem(TOKEN, $('token').value)
  try {
    await bind()
    $('token').value = ''
    show(true)
    await tenantPanel()
  } catch (e) {
    sessionStorage.removeItem(TOKEN)
    $('sign-in-error').textContent =
      e.status === 401 || e.status === 404
        ? 'That token was refused: sign in with the admin token or a tenant token the service was started with.'
        : `Could not sign in: ${e.message}`
  }
}

function signOut() {
  sessionStorage.removeItem(TOKEN)
  current = null
  $('customer').hidden = true
  $('tenant').readOnly = false
  $('tenant').value = 'default'
  say('')
  show(false)
}

/** The customer a search names: a contact id, an email, or a phone number. */
async function find(query) {
  if (/^\d+$/.test(query)) {
    try {
      return await api('GET', `/admin/customers/${query}`)
    } catch (e) {
      if (e.status !== 404) throw e
    }
  }
  const field = query.includes('@') ? 'email' : 'phoneNumber'
  const found = await api('GET', `/contacts?${field}=${encodeURIComponent(query)}`)
  return api('GET', `/admin/customers/${found.contact.primaryContactId}`)
}

/** Counts searches, so an older search that answers late never replaces a newer one. */
let searches = 0

async function open(query) {
  const search = ++searches
  say('')
  try {
    const customer = await find(query)
    const history = await api('GET', `/admin/contacts/${customer.customerId}/history`)
    if (search !== searches) return
    current = { customer, history }
    render()
  } catch (e) {
    if (search !== searches) return
    current = null
    $('customer').hidden = true
    say(e.status === 404 ? `No customer of this tenant has ${query}.` : e.message, true)
  }
}

function cell(row, text) {
  const td = document.createElement('td')
  td.textContent = text ?? '—'
  row.append(td)
  return td
}

function render() {
  const { customer, history } = current
  $('customer').hidden = false
  $('customer-title').textContent = `Customer ${customer.customerId} (${customer.rows.length} rows)`
  const body = $('rows').tBodies[0]
  body.replaceChildren()
  for (const r of customer.rows) {
    const tr = document.createElement('tr')
    const pick = document.createElement('input')
    pick.type = 'checkbox'
    pick.value = String(r.id)
    pick.setAttribute('aria-label', `split row ${r.id} off`)
    cell(tr, '').append(pick)
    cell(tr, String(r.id))
    cell(tr, r.email)
    cell(tr, r.phoneNumber)
    cell(tr, r.linkPrecedence)
    cell(tr, r.createdAt)
    body.append(tr)
  }
  const values = [...new Set(customer.rows.flatMap((r) => [r.email, r.phoneNumber]).filter(Boolean))]
  $('block-value').replaceChildren(
    ...values.map((v) => {
      const option = document.createElement('option')
      option.value = v
      option.textContent = v
      return option
    }),
  )
  draw(customer.rows, history.events)
  $('timeline').replaceChildren(...history.events.map(sentence).filter(Boolean).map((text) => {
    const li = document.createElement('li')
    li.textContent = text
    return li
  }))
}

/** One circle per row, a line between rows that share an email or a phone number, and a
 * dashed one between the rows whose values a merging checkout brought together. */
function draw(rows, events) {
  const svg = $('graph')
  const ns = 'http://www.w3.org/2000/svg'
  const element = (name, attributes) => {
    const e = document.createElementNS(ns, name)
    for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, String(v))
    return e
  }
  svg.replaceChildren()
  const at = new Map()
  rows.forEach((r, i) => {
    const angle = (2 * Math.PI * i) / Math.max(rows.length, 1) - Math.PI / 2
    const radius = rows.length === 1 ? 0 : 90
    at.set(r.id, { x: 160 + radius * Math.cos(angle), y: 120 + radius * Math.sin(angle) })
  })
  for (const [i, a] of rows.entries()) {
    for (const b of rows.slice(i + 1)) {
      const shared = [a.email && a.email === b.email ? a.email : null, a.phoneNumber && a.phoneNumber === b.phoneNumber ? a.phoneNumber : null].filter(Boolean)
      if (shared.length === 0) continue
      const line = element('line', { x1: at.get(a.id).x, y1: at.get(a.id).y, x2: at.get(b.id).x, y2: at.get(b.id).y, stroke: '#888', 'stroke-width': 2, class: 'edge' })
      const title = element('title', {})
      title.textContent = `rows ${a.id} and ${b.id} share ${shared.join(' and ')}`
      line.append(title)
      svg.append(line)
    }
  }
  for (const e of events.filter((e) => e.type === 'merged')) {
    const a = rows.find((r) => e.email && r.email === e.email)
    const b = rows.find((r) => e.phoneNumber && r.phoneNumber === e.phoneNumber)
    if (!a || !b || a.id === b.id) continue
    const line = element('line', { x1: at.get(a.id).x, y1: at.get(a.id).y, x2: at.get(b.id).x, y2: at.get(b.id).y, stroke: '#c47f00', 'stroke-width': 2, 'stroke-dasharray': '6 4', class: 'edge merge' })
    const title = element('title', {})
    title.textContent = `a checkout with ${e.email} and ${e.phoneNumber} joined rows ${a.id} and ${b.id}`
    line.append(title)
    svg.append(line)
  }
  for (const r of rows) {
    const { x, y } = at.get(r.id)
    const group = element('g', { class: 'node', 'data-id': r.id })
    group.append(element('circle', { cx: x, cy: y, r: 18, fill: r.linkPrecedence === 'primary' ? '#1f3a5f' : '#5b8bc9' }))
    const label = element('text', { x, y: y + 5, 'text-anchor': 'middle', fill: '#fff', 'font-size': 13 })
    label.textContent = String(r.id)
    const title = element('title', {})
    title.textContent = [r.email, r.phoneNumber].filter(Boolean).join(', ')
    group.append(label, title)
    svg.append(group)
  }
}

/** A history event in words: the answer to "why are these rows one customer?". */
function sentence(event) {
  const e = { ...event, at: event.at ? `${event.at.slice(0, 19).replace('T', ' ')} UTC` : '' }
  const values = [e.email, e.phoneNumber].filter(Boolean).join(' and ')
  switch (e.type) {
    case 'created':
      return e.via && e.via.length > 0
        ? `${e.at}: row ${e.contactId} (${values}) joined customer ${e.customerId} through its ${e.via.join(' and ')}.`
        : `${e.at}: row ${e.contactId} (${values}) started customer ${e.customerId}.`
    case 'existing':
      return `row ${e.contactId} (${values}) was already there when history began.`
    case 'merged':
      return `${e.at}: customer ${e.absorbedId} merged into customer ${e.customerId}: a checkout with ${values} belonged to both.`
    case 'split_off':
    case 'split_from':
      return `${e.at}: rows were split apart (${e.type.replace('_', ' ')}).`
    case 'erased':
      return `${e.at}: customer erased.`
    case 'blocked':
    case 'unblocked':
      return `${e.at}: a value of this customer was ${e.type}.`
    default:
      return `${e.at ?? ''}: ${e.type}.`
  }
}

function item(text) {
  const li = document.createElement('li')
  li.textContent = text
  return li
}

/** Counts panel reads, so an older read that answers late never overwrites a newer one. */
let panelReads = 0

/** The tenant's settings, blocked values and webhooks with their latest attempts, all read before any is shown. */
async function tenantPanel() {
  const read = ++panelReads
  try {
    const [settings, blocked, hooks] = await Promise.all([
      api('GET', '/settings'),
      api('GET', '/admin/blocked'),
      api('GET', '/admin/webhooks'),
    ])
    const attempts = await Promise.all(hooks.webhooks.map((w) => api('GET', `/admin/webhooks/${w.id}/deliveries?limit=3`)))
    if (read !== panelReads) return
    const pairs = [
      ['Tenant', settings.tenantId],
      ['Phone region', settings.phoneRegion ?? 'none (plain phone rules)'],
      ['Most emails per customer', settings.limits.emails ?? 'no limit'],
      ['Most phone numbers per customer', settings.limits.phones ?? 'no limit'],
    ]
    $('settings').replaceChildren(...pairs.flatMap(([name, value]) => {
      const dt = document.createElement('dt')
      dt.textContent = name
      const dd = document.createElement('dd')
      dd.textContent = String(value)
      return [dt, dd]
    }))
    $('blocked').replaceChildren(...blocked.blocked.map((b) => item(`${b.kind}: ${b.value ?? `pattern ${b.pattern}`}`)))
    const lines = hooks.webhooks.map((w, i) => {
      const latest = attempts[i].deliveries.map((d) => `${d.eventId} ${d.status ?? d.error ?? ''}`.trim()).join(', ')
      return item(`${w.url}: ${w.state}, at ${w.cursor}${w.lastError ? `, last error: ${w.lastError}` : ''}; latest attempts: ${latest || 'none'}`)
    })
    $('webhooks').replaceChildren(...(lines.length > 0 ? lines : [item('none')]))
  } catch (e) {
    if (read === panelReads) say(e.message, true)
  }
}

async function act(work, done) {
  try {
    await work()
    say(done)
  } catch (e) {
    say(e.message, true)
  }
}

async function split() {
  const { customer } = current
  const ids = [...$('rows').querySelectorAll('input[type=checkbox]:checked')].map((c) => Number(c.value))
  if (ids.length === 0) return say('Tick the rows to split off first.', true)
  if (!confirm(`Split rows ${ids.join(', ')} off customer ${customer.customerId} into a customer of their own? They will not merge back on their own.`)) return
  await act(async () => {
    await api('POST', `/admin/customers/${customer.customerId}/split`, { contactIds: ids })
    await open(String(customer.customerId))
  }, `Rows ${ids.join(', ')} split off.`)
}

async function erase() {
  const { customer } = current
  const typed = prompt(`Erase customer ${customer.customerId} and all ${customer.rows.length} rows for good? Type ${customer.customerId} to confirm.`)
  if (typed === null) return
  if (typed.trim() !== String(customer.customerId)) return say('Nothing erased: the id typed did not match.', true)
  await act(async () => {
    await api('POST', `/admin/customers/${customer.customerId}/erase`, {})
    current = null
    $('customer').hidden = true
  }, `Customer ${customer.customerId} erased.`)
}

async function block() {
  const value = $('block-value').value
  if (!value) return
  const kind = value.includes('@') ? 'email' : 'phone'
  if (!confirm(`Block ${value}? No request will store it or link through it again.`)) return
  await act(async () => {
    await api('POST', '/admin/blocked', { kind, value })
    await open(String(current.customer.customerId))
    await tenantPanel()
  }, `${value} blocked.`)
}

document.addEventListener('DOMContentLoaded', () => {
  $('sign-in-form').addEventListener('submit', signIn)
  $('search-form').addEventListener('submit', (event) => {
    event.preventDefault()
    open($('search').value.trim())
  })
  $('tenant').addEventListener('change', tenantPanel)
  $('sign-out').addEventListener('click', signOut)
  $('split').addEventListener('click', split)
  $('erase').addEventListener('click', erase)
  $('block').addEventListener('click', block)
  const signedIn = sessionStorage.getItem(TOKEN) !== null
  show(signedIn)
  if (signedIn) bind().then(tenantPanel, (e) => (e.status === 401 ? signOut() : say(e.message, true)))
})
