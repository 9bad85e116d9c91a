import { describe, expect, it } from 'vitest'
import type { Schemas } from '@/api/client'
import { codesCsv, combineCoupons, couponFace, templateChannel, templateRequest, type TemplateDraft } from './coupons'

const t = (key: string, values?: Record<string, unknown>) => `${key}:${JSON.stringify(values ?? {})}`
const draft: TemplateDraft = {
  name: ' 老客 85 折 ',
  kind: 'percent',
  value_fen: 500,
  rate_pct: 85,
  cap_fen: 5000,
  threshold_fen: null,
  free_item_id: null,
  validity: 'days',
  valid_days: 30,
  valid_range: [],
  total_stock: null,
  per_member_limit: 1,
  claimable: true,
  points_price: null,
  auto: 'none',
  birthday_days_before: 7,
  purchase_min_fen: null,
  budget_fen: null,
  stacks_with_level: false,
  stacks_with_points: true,
  stacks_with_coupons: true,
  store_ids: [],
  categories: ['护理'],
}

describe('templateRequest', () => {
  it('sends only what the kind uses, rates in basis points', () => {
    const body = templateRequest(draft, 'Asia/Shanghai')
    expect(body).toMatchObject({ name: '老客 85 折', kind: 'percent', rate_bp: 8500, cap_fen: 5000, value_fen: null, threshold_fen: 0, valid_days: 30, valid_from: null })
    expect(body.scope).toEqual({ store_ids: [], categories: ['护理'], service_ids: [], product_ids: [] })
    expect([body.on_join, body.birthday_days_before]).toEqual([false, null])
    const birthday = templateRequest({ ...draft, auto: 'birthday', birthday_days_before: 5 }, 'Asia/Shanghai')
    expect([birthday.on_join, birthday.birthday_days_before]).toEqual([false, 5])
    const gift = templateRequest({ ...draft, auto: 'purchase', purchase_min_fen: 30000, birthday_days_before: 5 }, 'Asia/Shanghai')
    expect([gift.purchase_min_fen, gift.birthday_days_before, gift.on_join]).toEqual([30000, null, false])
  })
  it('sells for points only in the coupon center', () => {
    expect(templateRequest({ ...draft, points_price: 300 }, 'Asia/Shanghai').points_price).toBe(300)
    expect(templateRequest({ ...draft, claimable: false, points_price: 300 }, 'Asia/Shanghai').points_price).toBeNull()
  })
  it('turns a fixed range into whole days', () => {
    const body = templateRequest({ ...draft, kind: 'amount', validity: 'fixed', valid_range: ['2026-12-01', '2026-12-31'] }, 'Asia/Shanghai')
    expect(body.valid_days).toBeNull()
    expect(body.valid_from).toBe('2026-11-30T16:00:00.000Z')
    expect(body.valid_until).toBe('2026-12-31T15:59:59.000Z')
    expect(body.rate_bp).toBeNull()
    expect(body.value_fen).toBe(500)
  })
})

describe('codesCsv', () => {
  it('lists each code with its redemption, a header first', () => {
    const codes = [
      { code: 'ABCD-EFGH-JKLM', created_at: '2026-12-06T00:00:00Z' },
      { code: 'NPQR-STUV-WXYZ', member_id: 7, redeemed_at: '2026-12-06T02:00:00Z', created_at: '2026-12-06T00:00:00Z' },
    ]
    expect(codesCsv(codes, (iso) => iso.slice(0, 10))).toBe('code,redeemed_at,member_id\r\nABCD-EFGH-JKLM,,\r\nNPQR-STUV-WXYZ,2026-12-06,7\r\n')
  })
})

describe('templateChannel', () => {
  it('says how a template reaches members, the automatic ways first', () => {
    const row = { on_join: false, birthday_days_before: null, purchase_min_fen: null, points_price: null, claimable: true } as Parameters<typeof templateChannel>[0]
    expect(templateChannel(row, t)).toBe('coupons.claimable:{}')
    expect(templateChannel({ ...row, points_price: 300 }, t)).toBe('coupons.forPoints:{"points":300}')
    expect(templateChannel({ ...row, purchase_min_fen: 30000 }, t)).toBe('coupons.withPurchase:{"min":"￥300.00"}')
    expect(templateChannel({ ...row, claimable: false }, t)).toBe('coupons.granted:{}')
  })
})

describe('couponFace', () => {
  it('words each kind', () => {
    const scope = { store_ids: [], categories: [], service_ids: [], product_ids: [] }
    const terms = { name: '券', kind: 'amount' as const, value_fen: 2000, rate_bp: 10_000, threshold_fen: 0, scope, stacks_with_level: true, stacks_with_points: true, stacks_with_coupons: false }
    expect(couponFace(terms, t)).toBe('￥20.00')
    expect(couponFace({ ...terms, kind: 'percent', rate_bp: 8500, cap_fen: 5000 }, t)).toBe('coupons.rate:{"rate":85} (≤ ￥50.00)')
    expect(couponFace({ ...terms, kind: 'free_item', free_item_id: 3 }, t, '洗剪吹')).toBe('coupons.freeItem:{"item":"洗剪吹"}')
  })
})

describe('combineCoupons', () => {
  const scope = { store_ids: [], categories: [], service_ids: [], product_ids: [] }
  const held = (id: number, template_id: number, stacks: boolean): Schemas['MemberCouponDto'] => ({
    id,
    template_id,
    source: 'grant',
    state: 'usable',
    created_at: '2026-12-01T00:00:00Z',
    valid_from: '2026-12-01T00:00:00Z',
    valid_until: '2027-01-01T00:00:00Z',
    terms: { name: `券${id}`, kind: 'amount', value_fen: 1000, rate_bp: 10_000, threshold_fen: 0, scope, stacks_with_level: true, stacks_with_points: true, stacks_with_coupons: stacks },
  })
  const coupons = [held(1, 10, true), held(2, 20, true), held(3, 10, true), held(4, 30, false)]

  it('keeps coupons that combine together', () => {
    expect(combineCoupons([1], [1, 2], coupons)).toEqual([1, 2])
  })
  it('lets a coupon that does not combine replace the others, and be replaced', () => {
    expect(combineCoupons([1, 2], [1, 2, 4], coupons)).toEqual([4])
    expect(combineCoupons([4], [4, 1], coupons)).toEqual([1])
  })
  it('keeps one coupon of each template', () => {
    expect(combineCoupons([1, 2], [1, 2, 3], coupons)).toEqual([2, 3])
  })
  it('leaves a coupon it does not know to the server', () => {
    expect(combineCoupons([99], [99, 1], coupons)).toEqual([99, 1])
  })
  it('takes removals as they are', () => {
    expect(combineCoupons([1, 2], [2], coupons)).toEqual([2])
    expect(combineCoupons([1, 2], [], coupons)).toEqual([])
  })
})
