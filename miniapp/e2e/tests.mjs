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

/** A staff session of a demo role. */
async function staffToken(base, accounts, role) {
  return (await call(base, 'POST', '/api/staff/v1/sessions', null, accounts[role])).token
}

tests.push({
  name: 'member-pays-a-bill-the-cashier-parked-sees-it-in-history-and-rates-the-visit',
  async run({ page, base, accounts, shot }) {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto('/m/')
    await page.locator('[data-test=balance]').waitFor()
    const session = await stored(page, 'huiyuan.session')
    const owner = await staffToken(base, accounts, 'owner')
    const cashier = await staffToken(base, accounts, 'cashier')
    const tony = (await call(base, 'GET', '/api/staff/v1/staff', owner)).find((s) => s.username === 'demo-tech')
    const wash = (await call(base, 'GET', '/api/staff/v1/services', owner)).find((s) => s.name === '洗剪吹')
    const store = (await call(base, 'GET', '/api/staff/v1/stores', owner))[0]
    // The cashier takes one of the member's coupons off the bill it parks for them.
    const template = await call(base, 'POST', '/api/staff/v1/coupon-templates', owner, { name: '到店 10 元', kind: 'amount', value_fen: 1000, valid_days: 30 })
    await call(base, 'POST', `/api/staff/v1/coupon-templates/${template.id}/grants`, owner, { member_ids: [session.memberId], idempotency_key: `e2e-pay-coupon-${Date.now()}` })
    const coupon = (await call(base, 'GET', `/api/staff/v1/members/${session.memberId}/coupons`, owner)).find((c) => c.template_id === template.id)
    const bill = await call(base, 'POST', '/api/staff/v1/bills', cashier, {
      store_id: store.id,
      member_id: session.memberId,
      park: true,
      idempotency_key: `e2e-park-${Date.now()}`,
      coupon_ids: [coupon.id],
      lines: [{ kind: 'service', item_id: wash.id, staff: [{ staff_id: tony.id }] }],
    })

    // The card says a bill is waiting; the member opens it, sees its lines and total, and pays in the wallet.
    await page.reload()
    await page.locator('[data-test=bills-waiting]').click()
    const waiting = page.locator('[data-test=bill-to-confirm]')
    await waiting.waitFor()
    assert.match(await waiting.innerText(), /洗剪吹/)
    assert.match(await page.locator('[data-test=bill-coupon]').innerText(), /到店 10 元[\s\S]*-￥10\.00/)
    assert.equal(await page.locator('[data-test=bill-total]').innerText(), '￥58.00')
    await shot('m08-bill-to-confirm')
    const wallet = page.waitForEvent('popup')
    await page.locator('[data-test=pay-bill]').click()
    const sandbox = await wallet
    await sandbox.locator('tr', { hasText: '58.00' }).getByRole('button', { name: /Pay/ }).first().click()
    await waiting.waitFor({ state: 'detached', timeout: 30000 })
    assert.equal((await call(base, 'GET', `/api/staff/v1/bills/${bill.id}`, cashier)).status, 'settled')

    // History shows the visit with its line; the member rates Tony.
    await page.goto('/m/pages/history/index')
    await page.locator('[data-test=history-bill]', { hasText: '洗剪吹' }).waitFor()
    await shot('m09-history')
    await page.locator('[data-test=tab-points]').click()
    await page.locator('[data-test=points-line]').first().waitFor()
    await page.locator('[data-test=tab-bills]').click()
    await page.locator('[data-test=rate-visit]').first().click()
    await page.locator('[data-test=rate-technician]', { hasText: 'Tony' }).waitFor()
    await page.locator('[data-test=star-4]').click()
    await page.locator('[data-test=comment] textarea').fill('剪得很好，下次还来')
    await page.locator('[data-test=submit-rating]').click()
    await page.locator('[data-test=rated]').waitFor()
    assert.equal(await page.locator('[data-test=rated]').innerText(), '★★★★☆')
    await shot('m10-rated')
    // Ratings are counted by the store's own day, which is not UTC's for eight hours of every UTC day.
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: store.timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date())
    const figures = await call(base, 'GET', `/api/staff/v1/stores/${store.id}/ratings?from=${today}&to=${today}`, owner)
    const tonys = figures.staff.find((s) => s.staff_id === tony.id)
    assert.equal(tonys.count, 1)
    assert.equal(tonys.average_centi, 400)
  },
})

tests.push({
  name: 'member-tells-an-allergy-and-agrees-to-marketing-messages',
  async run({ page, base, accounts, shot }) {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto('/m/pages/me/index')
    await page.locator('[data-test=allergy-substance] input').fill('芦荟')
    await page.locator('[data-test=add-allergy]').click()
    await page.locator('[data-test=allergy]', { hasText: '芦荟' }).waitFor()
    await shot('m11-me-allergy')
    await page.locator('[data-test=me-consents]').click()
    await page.locator('[data-test=consent-switch-marketing]').click()
    await page.locator('[data-test=consent-record-marketing]', { hasText: '上次设置' }).waitFor()
    await shot('m11-consent-given')
    const session = await stored(page, 'huiyuan.session')
    const manager = await staffToken(base, accounts, 'manager')
    const member = await call(base, 'GET', `/api/staff/v1/members/${session.memberId}`, manager)
    assert.equal(member.marketing_consent.granted, true)
    assert.equal(member.marketing_consent.channel, 'sandbox')
    assert.deepEqual(member.allergies.map((a) => [a.substance, a.by_member]), [['芦荟', true]])
  },
})

tests.push({
  name: 'member-books-a-chosen-technician-and-reschedules',
  async run({ page, shot }) {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto('/m/pages/book/index')
    await page.locator('[data-test="service-洗剪吹"]').click()
    await page.locator('[data-test="technician-Tony 老师"]').click()
    await page.locator('[data-test=find-slots]').click()
    const slots = page.locator('[data-test=slot]')
    await slots.first().waitFor()
    for (const text of await slots.allInnerTexts()) assert.match(text, /Tony/, 'only the chosen technician is offered')
    // A later day: today's starts may already be inside the store's cutoff, where members no longer reschedule.
    await page.locator('[data-test=day]').last().click()
    await slots.first().click()
    await page.locator('[data-test=confirm-booking]').click()
    const booked = page.locator('[data-test=my-booking]', { hasText: 'Tony' })
    await booked.waitFor()
    const before = await booked.innerText()
    await page.locator('[data-test=reschedule-booking]').first().click()
    await slots.first().waitFor()
    await slots.nth(1).click()
    await page.locator('[data-test=confirm-booking]', { hasText: '确认改期' }).click()
    await page.waitForFunction(
      (old) => {
        const row = document.querySelector('[data-test=my-booking]')
        return row && row.textContent.includes('Tony') && !row.textContent.includes(old.split(' · ')[0])
      },
      before,
    )
    await shot('m12-rescheduled')
  },
})

tests.push({
  name: 'member-claims-a-coupon-in-the-coupon-center-and-holds-it',
  async run({ page, base, accounts, shot }) {
    const owner = await staffToken(base, accounts, 'owner')
    await call(base, 'POST', '/api/staff/v1/coupon-templates', owner, {
      name: '新客满 200 减 30', kind: 'spend_off', value_fen: 3000, threshold_fen: 20000, valid_days: 30, total_stock: 10, claimable: true,
    })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto('/m/')
    await page.locator('[data-test=open-coupons]').click()
    const offer = page.locator('[data-test=offer]', { hasText: '新客满 200 减 30' })
    await offer.waitFor()
    assert.match(await offer.innerText(), /满￥200减￥30/)
    await shot('m13-coupon-center')
    await offer.locator('[data-test=claim]').click()
    await page.locator('[data-test=my-coupon]', { hasText: '新客满 200 减 30' }).waitFor()
    assert.match(await offer.innerText(), /已领取/)
    await shot('m14-my-coupons')
    await page.goto('/m/')
    await page.locator('[data-test=open-coupons]', { hasText: '1 张可用' }).waitFor()
  },
})

tests.push({
  name: 'member-exchanges-points-for-a-coupon-and-redeems-a-code',
  async run({ page, base, accounts, shot }) {
    const owner = await staffToken(base, accounts, 'owner')
    const stores = await call(base, 'GET', '/api/staff/v1/stores', owner)
    const forPoints = await call(base, 'POST', '/api/staff/v1/coupon-templates', owner, {
      name: '300 积分换 10 元', kind: 'amount', value_fen: 1000, valid_days: 30, claimable: true, points_price: 300, per_member_limit: 3,
    })
    const partner = await call(base, 'POST', '/api/staff/v1/coupon-templates', owner, { name: '合作商户体验券', kind: 'amount', value_fen: 1500, valid_days: 30, total_stock: 10 })
    const [code] = await call(base, 'POST', `/api/staff/v1/coupon-templates/${partner.id}/codes`, owner, { count: 1, idempotency_key: 'e2e-member-code' })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto('/m/')
    await page.locator('[data-test=open-coupons]').click()
    const offer = page.locator('[data-test=offer]', { hasText: '300 积分换 10 元' })
    await offer.locator('[data-test=claim]', { hasText: '积分不足 300' }).waitFor()
    // The store gives her 500 points; back on the page, the exchange is one tap and a yes.
    const session = await stored(page, 'huiyuan.session')
    await call(base, 'POST', `/api/staff/v1/members/${session.memberId}/points/adjustments`, owner, {
      store_id: stores[0].id, points: 500, reason: '开业赠送', idempotency_key: 'e2e-points-500',
    })
    await page.reload()
    await offer.locator('[data-test=claim]', { hasText: '300 积分兑换' }).waitFor()
    await shot('m15-points-exchange')
    await offer.locator('[data-test=claim]').click()
    await page.locator('.uni-modal').getByText('确定').click()
    await page.locator('[data-test=my-coupon]', { hasText: '300 积分换 10 元' }).waitFor()
    await page.locator('.title', { hasText: '我的积分 200' }).waitFor()
    const points = await call(base, 'GET', '/api/mini/v1/me/points', session.token)
    assert.equal(points.available, 200, 'the points went with the coupon')
    assert.equal(forPoints.points_price, 300)

    // A code from a partner, typed in lower case.
    await page.locator('[data-test=code-input] input').fill(code.code.toLowerCase())
    await page.locator('[data-test=code-redeem]').click()
    await page.locator('[data-test=my-coupon]', { hasText: '合作商户体验券' }).waitFor()
    assert.equal(await page.locator('[data-test=code-input] input').inputValue(), '', 'the box is cleared for the next code')
    await shot('m16-code-redeemed')
    // The same code again: refused, said plainly.
    await page.locator('[data-test=code-input] input').fill(code.code)
    await page.locator('[data-test=code-redeem]').click()
    await page.locator('[data-test=failure]').waitFor()
  },
})

tests.push({
  name: 'a-campaign-message-pops-up-once-on-the-card-and-waits-read-in-the-inbox',
  async run({ page, base, accounts, shot }) {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto('/m/')
    await page.locator('[data-test=balance]').waitFor()
    const session = await stored(page, 'huiyuan.session')
    const owner = await staffToken(base, accounts, 'owner')
    const stamp = Date.now()
    const segment = await call(base, 'POST', '/api/staff/v1/segments', owner, {
      name: `e2e-inbox-${stamp}`,
      rule: { combine: 'all', criteria: [{ kind: 'tags', tags: ['e2e-inbox'] }] },
    })
    await call(base, 'PUT', `/api/staff/v1/members/${session.memberId}/tags`, owner, { tags: ['e2e-inbox'] })
    const scheduled = await call(base, 'POST', '/api/staff/v1/campaigns', owner, {
      name: `e2e 本周新品 ${stamp}`.slice(0, 30),
      segment_id: segment.id,
      control_bp: 0,
      message_title: '本周新品',
      message_body: '头皮护理体验价 68 元',
      run_at: new Date().toISOString(),
    })
    // The campaigns.run job ticks every minute, at :30, and plans the message; marketing.dispatch sends it at :45.
    const deadline = Date.now() + 120_000
    const queued = (c) => c.sends.some((s) => s.status === 'queued')
    let campaign = scheduled
    while (campaign.status !== 'done' || queued(campaign)) {
      assert.notEqual(campaign.status, 'cancelled')
      assert.ok(Date.now() < deadline, `the campaign ran and sent within 120 s (still ${campaign.status}, ${JSON.stringify(campaign.sends)})`)
      await new Promise((resolve) => setTimeout(resolve, 2000))
      campaign = await call(base, 'GET', `/api/staff/v1/campaigns/${scheduled.id}`, owner)
    }
    assert.equal(campaign.messages, 1, 'the tagged member got the message')

    // The card pops the message up; one tap closes it, and it is read.
    await page.reload()
    const popup = page.locator('[data-test=inbox-popup]')
    await popup.waitFor()
    assert.match(await popup.innerText(), /本周新品[\s\S]*头皮护理体验价 68 元/)
    await shot('m17-inbox-popup')
    const marked = page.waitForResponse((r) => /\/api\/mini\/v1\/me\/inbox\/\d+\/read$/.test(r.url()) && r.request().method() === 'POST')
    await page.locator('[data-test=inbox-popup-close]').click()
    assert.equal((await marked).status(), 204)
    await popup.waitFor({ state: 'detached' })
    const [message] = await call(base, 'GET', '/api/mini/v1/me/inbox', session.token)
    assert.equal(message.title, '本周新品')
    assert.ok(message.read_at, 'closing marked it read')

    // It never pops up again.
    const inbox = page.waitForResponse((r) => r.url().endsWith('/api/mini/v1/me/inbox'))
    await page.reload()
    await page.locator('[data-test=balance]').waitFor()
    await inbox
    await page.waitForTimeout(500)
    assert.equal(await popup.count(), 0, 'a read message does not pop up again')

    // The inbox lists it, read.
    await page.goto('/m/pages/inbox/index')
    const listed = page.locator('[data-test=inbox-message]', { hasText: '本周新品' })
    await listed.waitFor()
    assert.match(await listed.innerText(), /头皮护理体验价 68 元/)
    assert.equal(await page.locator('[data-test=inbox-unread]').count(), 0)
    await shot('m18-inbox')
  },
})

/** Whether a uni switch (H5) shows on. */
async function switchedOn(page, test) {
  return (await page.locator(`[data-test=${test}] .uni-switch-input-checked`).count()) === 1
}

tests.push({
  name: 'member-turns-off-sms-marketing-and-keeps-in-app-messages',
  async run({ page, base, accounts, shot }) {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto('/m/pages/me/index')
    await page.locator('[data-test=consents-summary]', { hasText: '营销消息：未设置' }).waitFor()
    await page.locator('[data-test=me-consents]').click()
    await page.locator('[data-test=consent-switch-personalised]').waitFor()
    // Never asked: marketing off, SMS with it, personalised recommendations on (what the server does without an answer).
    assert.deepEqual(
      [await switchedOn(page, 'consent-switch-marketing'), await switchedOn(page, 'consent-switch-sms'), await switchedOn(page, 'consent-switch-personalised')],
      [false, false, true],
    )
    assert.equal(await page.locator('[data-test=consent-record-marketing]').count(), 0, 'nothing answered yet')

    // Yes to marketing messages: SMS now goes with it, until she says otherwise.
    await page.locator('[data-test=consent-switch-marketing]').click()
    await page.locator('[data-test=consent-record-marketing]', { hasText: '上次设置' }).waitFor()
    await page.locator('[data-test=consent-switch-sms] .uni-switch-input-checked').waitFor()
    assert.equal(await page.locator('[data-test=consent-hint-sms]').count(), 0)
    // No to SMS: one tap, no confirmation.
    await page.locator('[data-test=consent-switch-sms]').click()
    await page.locator('[data-test=consent-record-sms]', { hasText: '上次设置' }).waitFor()
    assert.equal(await switchedOn(page, 'consent-switch-sms'), false)
    assert.equal(await switchedOn(page, 'consent-switch-marketing'), true)
    assert.equal(await page.locator('.uni-modal').count(), 0, 'withdrawing asks for no confirmation')
    await page.waitForTimeout(300) // the switch's slide
    await shot('m19-sms-marketing-off')

    const session = await stored(page, 'huiyuan.session')
    const mine = await call(base, 'GET', '/api/mini/v1/me/consents', session.token)
    assert.deepEqual(
      mine.map((c) => [c.purpose, c.answer?.granted ?? null, c.answer?.channel ?? null]),
      [['marketing', true, 'sandbox'], ['sms', false, 'sandbox'], ['personalised', null, null]],
    )
    const manager = await staffToken(base, accounts, 'manager')
    const record = await call(base, 'GET', `/api/staff/v1/members/${session.memberId}/consents`, manager)
    assert.deepEqual(record.map((c) => [c.purpose, c.granted]), [['marketing', true], ['sms', false]], 'two answers, each under its purpose')

    // Back on 我的, the summary says she keeps in-app messages without SMS.
    await page.goBack()
    await page.locator('[data-test=consents-summary]', { hasText: '营销消息：已开启，不收短信' }).waitFor()
    await shot('m20-me-consents-summary')

    // Turning SMS back on while marketing is off explains that SMS needs both.
    await page.locator('[data-test=me-consents]').click()
    await page.locator('[data-test=consent-switch-marketing]').click()
    await page.locator('[data-test=consent-switch-marketing] .uni-switch-input-checked').waitFor({ state: 'detached' })
    assert.equal(await page.locator('[data-test=consent-hint-sms]').count(), 0)
    await page.locator('[data-test=consent-switch-sms]').click()
    await page.locator('[data-test=consent-hint-sms]', { hasText: '营销消息' }).waitFor()
    await page.waitForTimeout(300)
    await shot('m21-sms-needs-marketing')
    const after = await call(base, 'GET', '/api/mini/v1/me/consents', session.token)
    assert.deepEqual(after.map((c) => c.answer?.granted ?? null), [false, true, null])
  },
})
