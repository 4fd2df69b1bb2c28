// What an application imports: the module, the HTTP routes, the error filter and the token.
export { IDENTITY, IdentityModule, InjectIdentity } from './identity.module.js'
export type { IdentityModuleAsyncOptions, IdentityModuleOptions } from './identity.module.js'
export { IdentityHttpModule } from './identity-http.module.js'
export type { IdentityHttpOptions } from './identity-http.module.js'
export { IdentityExceptionFilter, WireError } from './errors.js'
export { IdentifyController } from './identify.controller.js'
export { AdminController } from './admin.controller.js'
export { RestoreController } from './restore.controller.js'
