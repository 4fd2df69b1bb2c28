// The handle for the tenant a request's X-Tenant-Id names (absent: the default tenant).
import { createParamDecorator, ExecutionContext } from '@nestjs/common'
import type { Request } from 'express'
import type { Identity } from 'identity-reconciliation'

/** The tenant's id from X-Tenant-Id, or undefined for the default tenant. */
export const TenantId = createParamDecorator((_: unknown, ctx: ExecutionContext): string | undefined =>
  ctx.switchToHttp().getRequest<Request>().get('X-Tenant-Id'),
)

/** `identity` acting for `tenant`; a bad id throws INVALID_INPUT (field `tenant`), a 400. */
export function scoped(identity: Identity, tenant: string | undefined): Identity {
  return tenant === undefined ? identity : identity.tenant(tenant)
}

/** A path id: digits as a bigint (any size the binding takes); anything else goes to the
 * binding as is, which refuses it as `contactId`. */
export function pathId(id: string): bigint | string {
  return /^\d+$/.test(id) ? BigInt(id) : id
}
