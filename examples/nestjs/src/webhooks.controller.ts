// The webhook routes, as the Rust service serves them: POST/GET /admin/webhooks, DELETE
// /admin/webhooks/:id, GET /admin/webhooks/:id/deliveries, POST /admin/webhooks/:id/replay.
// The binding checks the URL, the types, the id, limit and after, and names the field at fault.
// They check no tokens: mount them behind your own guard (see the README).
import { Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common'
import type { Identity } from 'identity-reconciliation'
import { JsonBody } from './body.js'
import { invalidRequest } from './errors.js'
import { InjectIdentity } from './identity.module.js'
import { scoped, TenantId } from './tenant.js'

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v)

/** A webhook id: digits as a number; anything else goes to the binding, which refuses it as
 * `webhookId`. */
const hookId = (id: string): number => (/^\d+$/.test(id) ? Number(id) : (id as unknown as number))

@Controller('admin/webhooks')
export class WebhooksController {
  constructor(@InjectIdentity() private readonly identity: Identity) {}

  @Post()
  @HttpCode(201)
  create(@JsonBody() body: unknown, @TenantId() tenant?: string) {
    if (!isObject(body)) throw invalidRequest('body must be a JSON object like {"url": "https://..."}')
    return scoped(this.identity, tenant).createWebhook(body.url as string, { types: body.types as never })
  }

  @Get()
  async list(@TenantId() tenant?: string) {
    return { webhooks: await scoped(this.identity, tenant).webhooks() }
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string, @TenantId() tenant?: string): Promise<void> {
    await scoped(this.identity, tenant).deleteWebhook(hookId(id))
  }

  @Get(':id/deliveries')
  async deliveries(@Param('id') id: string, @Query('limit') limit?: string, @TenantId() tenant?: string) {
    const n = limit === undefined ? undefined : /^\d+$/.test(limit) ? Number(limit) : (limit as unknown as number)
    return { deliveries: await scoped(this.identity, tenant).webhookDeliveries(hookId(id), { limit: n }) }
  }

  @Post(':id/replay')
  @HttpCode(200)
  replay(@Param('id') id: string, @JsonBody({}) body: unknown, @TenantId() tenant?: string) {
    // an empty body replays from the oldest event kept
    if (!isObject(body)) throw invalidRequest('body must be empty or a JSON object like {"after": "f1.2a"}')
    return scoped(this.identity, tenant).replayWebhook(hookId(id), { after: body.after as string | null })
  }
}
