// How staff read a coupon's terms in a table: what it takes off and its conditions. The server prices.

import type { Schemas } from '@/api/client'
import { addDays } from './board'
import { formatFen } from './money'
import { midnightIn } from './time'

type Translate = (key: string, values?: Record<string, unknown>) => string

/** "￥20.00", "85折 (≤ ￥50.00)", "满 ￥200.00 减 ￥30.00", "免费: 洗剪吹". */
export function couponFace(terms: Schemas['TermsDto'], t: Translate, itemName?: string): string {
  switch (terms.kind) {
    case 'amount':
      return formatFen(terms.value_fen)
    case 'percent': {
      const rate = t('coupons.rate', { rate: terms.rate_bp / 100 })
      return terms.cap_fen ? `${rate} (≤ ${formatFen(terms.cap_fen)})` : rate
    }
    case 'spend_off':
      return t('coupons.spendOff', { threshold: formatFen(terms.threshold_fen), value: formatFen(terms.value_fen) })
    case 'free_item':
      return t('coupons.freeItem', { item: itemName ?? `#${terms.free_item_id}` })
  }
}

/** How a template reaches members, for its row: automatically, for points, claimed, or granted by staff. */
export function templateChannel(row: Schemas['CouponTemplateDto'], t: Translate): string {
  if (row.on_join) return t('coupons.onJoin')
  if (row.birthday_days_before !== null && row.birthday_days_before !== undefined) return t('coupons.onBirthday')
  if (row.purchase_min_fen) return t('coupons.withPurchase', { min: formatFen(row.purchase_min_fen) })
  if (row.points_price) return t('coupons.forPoints', { points: row.points_price })
  return row.claimable ? t('coupons.claimable') : t('coupons.granted')
}

/** A batch of redemption codes as a spreadsheet: one code a row, with whether and when it was redeemed. The
 * redemption time is in the merchant's zone, as the console shows every time. */
export function codesCsv(codes: Schemas['CouponCodeDto'][], formatTime: (iso: string) => string): string {
  const rows = codes.map((c) => [c.code, c.redeemed_at ? formatTime(c.redeemed_at) : '', c.member_id ?? ''].join(','))
  return ['code,redeemed_at,member_id', ...rows].join('\r\n') + '\r\n'
}

/** The fen a template's form needs as a request, from what was typed. */
export interface TemplateDraft {
  name: string
  kind: Schemas['CouponKind']
  value_fen: number | null
  rate_pct: number
  cap_fen: number | null
  threshold_fen: number | null
  free_item_id: number | null
  validity: 'days' | 'fixed'
  valid_days: number
  valid_range: string[]
  total_stock: number | null
  per_member_limit: number
  claimable: boolean
  /** Members pay this many points for one in the coupon center (claimable only); null: free. */
  points_price: number | null
  /** Issued without anyone asking: to each new member, before each birthday, or with a bill paying enough (满赠). */
  auto: 'none' | 'join' | 'birthday' | 'purchase'
  birthday_days_before: number
  purchase_min_fen: number | null
  /** The most its coupons may take off bills; null: no budget. */
  budget_fen: number | null
  stacks_with_level: boolean
  stacks_with_points: boolean
  stacks_with_coupons: boolean
  store_ids: number[]
  categories: string[]
}

/** The request for a template, a fixed range being whole days in the merchant's zone. */
export function templateRequest(d: TemplateDraft, timeZone: string): Schemas['CouponTemplateRequest'] {
  const [from, until] = d.valid_range
  return {
    name: d.name.trim(),
    kind: d.kind,
    value_fen: d.kind === 'amount' || d.kind === 'spend_off' ? d.value_fen : null,
    rate_bp: d.kind === 'percent' ? Math.round(d.rate_pct * 100) : null,
    cap_fen: d.kind === 'percent' ? d.cap_fen : null,
    threshold_fen: d.threshold_fen ?? 0,
    free_item_kind: d.kind === 'free_item' ? 'service' : null,
    free_item_id: d.kind === 'free_item' ? d.free_item_id : null,
    scope: { store_ids: d.store_ids, categories: d.categories, service_ids: [], product_ids: [] },
    stacks_with_level: d.stacks_with_level,
    stacks_with_points: d.stacks_with_points,
    stacks_with_coupons: d.stacks_with_coupons,
    valid_days: d.validity === 'days' ? d.valid_days : null,
    // A fixed range is whole local days: from the first midnight to the end of the last day.
    valid_from: d.validity === 'fixed' && from ? midnightIn(from, timeZone).toISOString() : null,
    valid_until: d.validity === 'fixed' && until ? new Date(midnightIn(addDays(until, 1), timeZone).getTime() - 1000).toISOString() : null,
    total_stock: d.total_stock,
    per_member_limit: d.per_member_limit,
    claimable: d.claimable,
    on_join: d.auto === 'join',
    birthday_days_before: d.auto === 'birthday' ? d.birthday_days_before : null,
    purchase_min_fen: d.auto === 'purchase' ? d.purchase_min_fen : null,
    points_price: d.claimable && d.points_price ? d.points_price : null,
    budget_fen: d.budget_fen,
  }
}

/**
 * The coupons chosen for a bill after the cashier changed the selection from `before` to `after`: a coupon that does
 * not combine with others, or one of a template already chosen, replaces what it cannot share the bill with. The
 * server decides what the choice takes off and refuses what cannot go together; this only keeps the picker from
 * offering a choice it would refuse.
 */
export function combineCoupons(before: number[], after: number[], held: Schemas['MemberCouponDto'][]): number[] {
  const added = after.find((id) => !before.includes(id))
  const coupon = held.find((c) => c.id === added)
  if (added === undefined || !coupon) return after
  if (!coupon.terms.stacks_with_coupons) return [added]
  return after.filter((id) => {
    if (id === added) return true
    const other = held.find((c) => c.id === id)
    // One not listed (held by the bill being resumed, the list not loaded yet) is the server's to judge.
    if (!other) return true
    return other.terms.stacks_with_coupons && other.template_id !== coupon.template_id
  })
}
