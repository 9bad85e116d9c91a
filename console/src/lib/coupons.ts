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
  /** Issued without anyone asking: to each new member, or before each birthday. */
  auto: 'none' | 'join' | 'birthday'
  birthday_days_before: number
  stacks_with_level: boolean
  stacks_with_points: boolean
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
    valid_days: d.validity === 'days' ? d.valid_days : null,
    // A fixed range is whole local days: from the first midnight to the end of the last day.
    valid_from: d.validity === 'fixed' && from ? midnightIn(from, timeZone).toISOString() : null,
    valid_until: d.validity === 'fixed' && until ? new Date(midnightIn(addDays(until, 1), timeZone).getTime() - 1000).toISOString() : null,
    total_stock: d.total_stock,
    per_member_limit: d.per_member_limit,
    claimable: d.claimable,
    on_join: d.auto === 'join',
    birthday_days_before: d.auto === 'birthday' ? d.birthday_days_before : null,
  }
}
