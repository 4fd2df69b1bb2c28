// Loads the native addon (the Rust core) for this platform, the napi-rs way: a binary next to
// this file (a build from source, `npm run build`), else the per-platform package that npm
// installed as an optional dependency (`identity-reconciliation-<platform>`). When neither is
// there, the error says which platform this is, which ones have prebuilt binaries, and how to
// build from source. Written by hand (`napi build --no-js`) so that message is ours.
'use strict'

const { name, version } = require('./package.json')

/** The platforms a release ships a prebuilt binary for: package.json `napi.targets` (a test checks). */
const PREBUILT = ['linux-x64-gnu']

const REPOSITORY = 'https://example.invalid/identity'

/** napi-rs's name for this platform: `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, ... */
function platformKey() {
  const { platform, arch } = process
  if (platform === 'linux') {
    return `${platform}-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  }
  if (platform === 'win32') return `${platform}-${arch}-msvc`
  return `${platform}-${arch}`
}

// glibc reports its version in the process report; musl does not
function isMusl() {
  try {
    const report = process.report && process.report.getReport()
    return !(report && report.header && report.header.glibcVersionRuntime)
  } catch {
    return false
  }
}

function missingBinary(key, loadErrors) {
  const fromSource =
    `To build it from source (Rust 1.94 or newer, https://rustup.rs): ` +
    `git clone ${REPOSITORY} && cd identity/identity-node && npm install && npm run build && npm pack, ` +
    `then \`npm install ./${name}-${version}.tgz\` in your project.`
  let message
  if (PREBUILT.includes(key)) {
    message =
      `${name}: the binary for this platform (${key}) is not installed. It comes in the optional ` +
      `dependency ${name}-${key}@${version}: install it (\`npm install ${name}-${key}@${version}\`), ` +
      `or install again without --omit=optional / --no-optional. ${fromSource}`
  } else {
    message =
      `${name} ${version} has no prebuilt binary for this platform (${key}): ` +
      `prebuilt binaries exist for ${PREBUILT.join(', ')} (glibc 2.17 or newer). ${fromSource}`
  }
  const error = new Error(message)
  error.code = 'MISSING_BINARY'
  error.platform = key
  if (loadErrors.length > 0) error.cause = loadErrors[loadErrors.length - 1]
  return error
}

function isNotFound(e, request) {
  return e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(request)
}

function load() {
  const key = platformKey()
  const loadErrors = []
  const candidates = [`./identity-reconciliation.${key}.node`, `${name}-${key}`]
  for (const request of candidates) {
    try {
      const binding = require(request)
      if (!request.startsWith('./')) {
        const found = require(`${request}/package.json`).version
        if (found !== version) {
          throw new Error(
            `${name} ${version} found the binary package ${request} at version ${found}: ` +
              `install ${request}@${version} (the two must be the same version)`,
          )
        }
      }
      return binding
    } catch (e) {
      // a binary that is there but fails to load (a wrong glibc, a version mismatch) is the
      // error to report, not "missing"
      if (!isNotFound(e, request)) throw e
      loadErrors.push(e)
    }
  }
  throw missingBinary(key, loadErrors)
}

// the addon first: without it, the error says how to get it (feed.js is plain JavaScript)
const binding = load()
module.exports = require('./feed.js')(binding)
