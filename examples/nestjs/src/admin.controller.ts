// The tenant's settings and the governance routes, as the Rust service serves them: GET/PUT
// /settings, PUT /settings/limits, GET/POST/DELETE /admin/blocked, GET
// /admin/contacts/:id/history, GET /admin/customers/:id, GET /events (the change feed), POST /admin/customers/:id/split
// and /erase, POST /admin/import,
// GET /admin/export and GET /admin/contacts (JSON Lines). They check no tokens: mount them
// behind your own guard (see the README).
import { Controller, Delete, Get, Header, HttpCode, Param, Post, Put, Query } from '@nestjs/common'
import type { BlockedEntry, Identity } from 'identity-reconciliation'
import { JsonBody } from './body.js'
import { invalidRequest } from './errors.js'
import { InjectIdentity } from './identity.module.js'
import { pathId, scoped, TenantId } from './tenant.js'

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v)
const lines = (items: unknown[]): string => items.map((i) => JSON.stringify(i) + '\n').join('')

@Controller()
export class AdminController {
  constructor(@InjectIdentity() private readonly identity: Identity) {}

  @Get('settings')
  settings(@TenantId() tenant?: string) {
    return scoped(this.identity, tenant).settings()
  }

  @Put('settings')
  setPhoneRegion(@JsonBody() body: unknown, @TenantId() tenant?: string) {
    if (!isObject(body) || !('phoneRegion' in body)) {
      throw invalidRequest('body must be a JSON object like {"phoneRegion": "IN"}')
    }
    return scoped(this.identity, tenant).setPhoneRegion(body.phoneRegion as string | null)
  }

  @Put('settings/limits')
  setLimits(@JsonBody() body: unknown, @TenantId() tenant?: string) {
    // the binding checks the caps object and each cap, and names the field at fault
    return scoped(this.identity, tenant).setLimits(body as never)
  }

  @Get('admin/blocked')
  async blocked(@TenantId() tenant?: string) {
    const handle = scoped(this.identity, tenant)
    return { tenantId: handle.tenantId, blocked: await handle.blockedValues() }
  }

  @Post('admin/blocked')
  @HttpCode(200)
  async block(@JsonBody() entry: unknown, @TenantId() tenant?: string) {
    return { changed: await scoped(this.identity, tenant).block(entry as BlockedEntry) }
  }

  @Delete('admin/blocked')
  async unblock(@JsonBody() entry: unknown, @TenantId() tenant?: string) {
    return { changed: await scoped(this.identity, tenant).unblock(entry as BlockedEntry) }
  }

  @Get('events')
  events(
    @Query('after') after?: string,
    @Query('limit') limit?: string,
    @Query('wait') wait?: string,
    @TenantId() tenant?: string,
  ) {
    // the query's numbers as numbers; anything else goes through as text, which the binding
    // refuses naming the field
    const number = (text?: string) => (text === undefined ? undefined : /^\d+$/.test(text) ? Number(text) : text)
    return scoped(this.identity, tenant).events({ after, limit: number(limit) as number, wait: number(wait) as number })
  }

  @Get('admin/contacts/:id/history')
  history(@Param('id') id: string, @TenantId() tenant?: string) {
    return scoped(this.identity, tenant).history(pathId(id) as bigint)
  }

  @Get('admin/customers/:id')
  customer(@Param('id') id: string, @TenantId() tenant?: string) {
    return scoped(this.identity, tenant).customer(pathId(id) as bigint)
  }

  @Post('admin/customers/:id/split')
  @HttpCode(200)
  split(@Param('id') id: string, @JsonBody() body: unknown, @TenantId() tenant?: string) {
    if (!isObject(body)) throw invalidRequest('body must be a JSON object like {"contactIds": [2]}')
    // the binding checks contactIds and blockShared and names the field at fault
    const options = { blockShared: body.blockShared as boolean | undefined }
    return scoped(this.identity, tenant).split(pathId(id) as bigint, body.contactIds as bigint[], options)
  }

  @Post('admin/customers/:id/erase')
  @HttpCode(200)
  erase(@Param('id') id: string, @JsonBody({}) body: unknown, @TenantId() tenant?: string) {
    // an empty body asks for no suppression
    if (!isObject(body)) throw invalidRequest('body must be empty or a JSON object like {"suppress": true}')
    // the binding checks suppress; the receipt has no personal data
    return scoped(this.identity, tenant).erase(pathId(id) as bigint, { suppress: body.suppress as boolean | undefined })
  }

  @Post('admin/import')
  @HttpCode(200)
  import(@JsonBody() body: unknown, @TenantId() tenant?: string) {
    if (!isObject(body)) throw invalidRequest('body must be a JSON object like {"checkouts": [...]}')
    // the binding checks checkouts (or a table's rows), onError, dryRun and renumber and names
    // the field at fault; the report holds counts, ids and reasons, no values
    const { checkouts, table, onError, dryRun, renumber } = body
    if (checkouts !== undefined && table !== undefined) {
      throw invalidRequest("give checkouts or table (an existing table's rows), not both")
    }
    const handle = scoped(this.identity, tenant)
    return table !== undefined
      ? handle.importTableRows(table as never, { onError, dryRun, renumber } as never)
      : handle.importCheckouts(checkouts as never, { onError, dryRun } as never)
  }

  @Get('admin/export')
  @Header('Content-Type', 'application/x-ndjson')
  async export(@TenantId() tenant?: string) {
    return lines(await scoped(this.identity, tenant).customers())
  }

  @Get('admin/contacts')
  @Header('Content-Type', 'application/x-ndjson')
  async contacts(@TenantId() tenant?: string) {
    return lines(await scoped(this.identity, tenant).allContacts())
  }
}
