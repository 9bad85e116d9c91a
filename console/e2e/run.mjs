// Browser tests of the console against the real api: a fresh embedded default (SQLite, demo data, sandbox
// providers) started from the built binary, driven through Debian's Chromium by playwright-core. Each test saves a
// screenshot under console/test-results/; any error in the browser console fails the run.
//
//   node e2e/run.mjs [name filter] [--tests other/e2e/tests.mjs]
//   (API_BIN defaults to ../target/debug/api; CHROMIUM to /usr/bin/chromium). The member app's tests use this runner
//   with --tests: screenshots go to test-results/ beside the tests' folder.

import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const testsAt = args.includes('--tests') ? resolve(args[args.indexOf('--tests') + 1]) : join(here, 'tests.mjs')
const { tests } = await import(pathToFileURL(testsAt).href)
const apiBin = resolve(process.env.API_BIN ?? join(here, '../../target/debug/api'))
const results = join(dirname(testsAt), '../test-results')
mkdirSync(results, { recursive: true })

const port = await freePort()
const base = `http://127.0.0.1:${port}`
const api = await startApi(port)
let failed = 0
try {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  })
  const only = args.find((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--tests')
  for (const test of tests) {
    if (only && !test.name.includes(only)) continue
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', baseURL: base })
    const page = await context.newPage()
    const errors = []
    // A 4xx the page answered with the api's message (a wrong password, an expired session) is part of a test;
    // anything else the browser reports as an error (a 5xx, an exception, a failed import) fails it.
    page.on('console', (message) => {
      const text = message.text()
      if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) errors.push(text)
    })
    page.on('pageerror', (error) => errors.push(String(error)))
    const started = Date.now()
    try {
      await test.run({ page, base, accounts: api.accounts, shot: (name) => shot(page, name) })
      if (errors.length) throw new Error(`errors in the browser console:\n  ${errors.join('\n  ')}`)
      console.log(`ok   ${test.name} (${Date.now() - started} ms)`)
    } catch (error) {
      failed++
      await shot(page, `FAILED-${test.name}`).catch(() => undefined)
      console.log(`FAIL ${test.name}: ${error.stack ?? error}`)
    } finally {
      await context.close()
    }
  }
  await browser.close()
} finally {
  api.stop()
}
if (failed) {
  console.log(`${failed} browser test(s) failed; screenshots in ${results}`)
  process.exit(1)
}
console.log(`browser tests passed; screenshots in ${results}`)

async function shot(page, name) {
  await page.screenshot({ path: join(results, `${name.replace(/[^\w.-]+/g, '-')}.png`), fullPage: true })
}

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer()
    server.on('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => done(port))
    })
  })
}

/** Starts the api in a fresh directory (so a fresh ./data) and reads the demo accounts it prints once. */
async function startApi(port) {
  const dir = mkdtempSync(join(tmpdir(), 'huiyuan-e2e-'))
  // Every test signs in from this one address; the per-address limit is the api suite's to test, not these.
  const env = { ...process.env, HUIYUAN__AUTH__SIGN_IN_ATTEMPTS_PER_IP: '10000' }
  const child = spawn(apiBin, ['--port', String(port)], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const stop = () => {
    child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  }
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the api exited:\n${output}`)
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok).catch(() => false)
    if (ready) {
      const accounts = {}
      for (const [, role, username, password] of output.matchAll(/^\s+(owner|manager|marketing|cashier|technician)\s+(\S+)\s+(\S+)\s*$/gm)) {
        accounts[role] ??= { username, password }
      }
      if (!accounts.cashier || !accounts.owner) {
        stop()
        throw new Error(`no demo accounts in the api's output:\n${output}`)
      }
      return { accounts, stop }
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  stop()
  throw new Error(`the api never became ready:\n${output}`)
}
