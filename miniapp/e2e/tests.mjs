// The member app's H5 build in a real browser against the real api (run by console/e2e/run.mjs --tests).

import assert from 'node:assert/strict'
import jsQR from 'jsqr'

async function call(base, method, path, token, body) {
  const response = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return text ? JSON.parse(text) : null
}

/** What the app keeps in uni storage (H5: localStorage, wrapped as {type, data}). */
async function stored(page, key) {
  return page.evaluate((k) => {
    const raw = localStorage.getItem(k)
    if (!raw) return null
    const value = JSON.parse(raw)
    return value && typeof value === 'object' && 'data' in value ? value.data : value
  }, key)
}

export const tests = [
  {
    name: 'member-signs-in-and-the-drawn-member-code-opens-them-at-the-desk',
    async run({ page, base, accounts, shot }) {
      await page.setViewportSize({ width: 390, height: 844 })
      await page.goto('/m/')
      await page.locator('[data-test=balance]').waitFor()
      assert.equal(await page.locator('[data-test=balance]').innerText(), '￥0.00')
      await shot('m01-my-card')
      await page.locator('[data-test=show-code]').click()
      await page.locator('[data-test=countdown]').waitFor()
      await page.waitForTimeout(500)
      // Read the QR code off the canvas, as a scanner would.
      const image = await page.evaluate(() => {
        const canvas = document.querySelector('[data-test=member-code] canvas') ?? document.querySelector('canvas')
        const context = canvas.getContext('2d')
        const { width, height } = canvas
        return { width, height, data: Array.from(context.getImageData(0, 0, width, height).data) }
      })
      const decoded = jsQR(Uint8ClampedArray.from(image.data), image.width, image.height)
      assert.ok(decoded, 'the member code decodes')
      await shot('m02-member-code')
      const session = await stored(page, 'huiyuan.session')
      const cashier = (await call(base, 'POST', '/api/staff/v1/sessions', null, accounts.cashier)).token
      const found = await call(base, 'POST', '/api/staff/v1/members/lookup', cashier, { query: decoded.data })
      assert.equal(found.id, session.memberId, 'the code opens this member at the desk')
    },
  },
]

tests.push({
  name: 'member-books-a-free-slot-and-cancels-it',
  async run({ page, shot }) {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto('/m/pages/book/index')
    await page.locator('[data-test="service-洗剪吹"]').click()
    await page.locator('[data-test=find-slots]').click()
    await page.locator('[data-test=slot]').first().click()
    await shot('m03-booking')
    await page.locator('[data-test=confirm-booking]').click()
    await page.locator('[data-test=my-booking]', { hasText: '洗剪吹' }).waitFor()
    await page.locator('[data-test=cancel-booking]').first().click()
    await page.locator('.uni-modal__btn_primary').click()
    await page.locator('[data-test=my-booking]').first().waitFor({ state: 'detached' })
    await shot('m04-cancelled')
  },
})

tests.push({
  name: 'member-changes-their-nickname-and-sees-it-on-their-card',
  async run({ page, shot }) {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto('/m/pages/me/index')
    const nickname = page.locator('[data-test=nickname] input')
    await nickname.waitFor()
    await nickname.fill('小美')
    await page.locator('[data-test=save-profile]').click()
    await page.locator('.uni-tabbar__item', { hasText: '首页' }).click()
    await page.locator('[data-test=member-name]', { hasText: '小美' }).waitFor()
    await shot('m05-me-then-card')
  },
})

tests.push({
  name: 'member-recharges-and-the-card-is-credited-only-when-the-provider-says-paid',
  async run({ page, shot }) {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto('/m/pages/pay/index')
    await page.locator('[data-test=pay-balance]', { hasText: '￥0.00' }).waitFor()
    // The sandbox plays the wallet on a page of its own.
    const wallet = page.waitForEvent('popup')
    await page.locator('[data-test="plan-充500送50"]').click()
    const sandbox = await wallet
    await page.locator('[data-test=waiting]').waitFor()
    await page.waitForTimeout(1000)
    assert.equal(await page.locator('[data-test=pay-balance]').innerText(), '￥0.00', 'not credited before the provider says paid')
    await shot('m06-waiting-for-the-wallet')
    await sandbox.locator('tr', { hasText: '500.00' }).getByRole('button', { name: /Pay/ }).first().click()
    await page.locator('[data-test=pay-balance]', { hasText: '￥550.00' }).waitFor({ timeout: 30000 })
    await shot('m07-credited')
  },
})
