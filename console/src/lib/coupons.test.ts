import { describe, expect, it } from 'vitest'
import { couponFace, templateRequest, type TemplateDraft } from './coupons'

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
  auto: 'none',
  birthday_days_before: 7,
  stacks_with_level: false,
  stacks_with_points: true,
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

describe('couponFace', () => {
  it('words each kind', () => {
    const scope = { store_ids: [], categories: [], service_ids: [], product_ids: [] }
    const terms = { name: '券', kind: 'amount' as const, value_fen: 2000, rate_bp: 10_000, threshold_fen: 0, scope, stacks_with_level: true, stacks_with_points: true }
    expect(couponFace(terms, t)).toBe('￥20.00')
    expect(couponFace({ ...terms, kind: 'percent', rate_bp: 8500, cap_fen: 5000 }, t)).toBe('coupons.rate:{"rate":85} (≤ ￥50.00)')
    expect(couponFace({ ...terms, kind: 'free_item', free_item_id: 3 }, t, '洗剪吹')).toBe('coupons.freeItem:{"item":"洗剪吹"}')
  })
})
