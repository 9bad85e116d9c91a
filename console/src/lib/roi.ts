// A campaign's report as staff read it: the server measures the treatment group against the control group and puts
// an interval around every difference; this only writes those numbers in people's words (percentage points, yuan,
// percent of cost) and names the verdict. Nothing here computes a figure.

import type { Schemas } from '@/api/client'
import { i18n } from '@/i18n'
import { formatFen } from '@/lib/money'

export type Interval = Schemas['IntervalDto']
export type Verdict = Schemas['ReportVerdict']

const t = (key: string, values: Record<string, unknown> = {}) => i18n.global.t(key, values)

/** A number with its sign ("+2.3", "-1.1"); one that rounds to zero has none ("0.0", never "-0.0"). */
function signed(value: number, digits: number): string {
  const text = Math.abs(value).toFixed(digits)
  if (Number(text) === 0) return text
  return (value < 0 ? '-' : '+') + text
}

/** Fen as yuan with its sign: "+￥12.34", "-￥3.20", "￥0.00"; fractional fen (per-member averages) to the nearest fen. */
export function signedYuan(fen: number): string {
  const whole = Math.round(fen)
  return whole > 0 ? `+${formatFen(whole)}` : formatFen(whole === 0 ? 0 : whole)
}

/** An average in fen (fractional) as yuan to the fen: "￥12.35"; "—" when there is none (an empty group). */
export function averageYuan(fen: number | null | undefined): string {
  if (fen == null) return '—'
  const whole = Math.round(fen)
  return formatFen(whole === 0 ? 0 : whole)
}

/** A proportion as a percentage: 0.3333 → "33.3%". */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`
}

/** A rate with its interval: "33.3%（10.0% ~ 70.0%）"; "—" when there is none. */
export function rateInterval(rate: Interval | null | undefined): string {
  if (!rate) return '—'
  return t('report.withRange', { value: percent(rate.estimate), low: percent(rate.low), high: percent(rate.high) })
}

/** A difference of proportions in percentage points, signed: 0.023 → "+2.3". */
export function signedPoints(difference: number): string {
  return signed(difference * 100, 1)
}

/** An estimate and its interval as a card shows them: the estimate large, the interval under it. */
export interface Parts {
  value: string
  low: string
  high: string
}

function parts(interval: Interval | null | undefined, format: (value: number) => string): Parts | null {
  if (!interval) return null
  return { value: format(interval.estimate), low: format(interval.low), high: format(interval.high) }
}

/** A difference in visit rate in signed percentage points. */
export const pointsParts = (lift: Interval | null | undefined) => parts(lift, signedPoints)
/** A difference in fen in signed yuan. */
export const yuanParts = (lift: Interval | null | undefined) => parts(lift, signedYuan)
/** The return on cost in signed percent. */
export const roiParts = (roi: Interval | null | undefined) => parts(roi, signedPercent)

/** A difference in visit rate with its interval: "+2.3 个百分点（-1.1 ~ +5.7）"; "—" when there is none. */
export function pointsInterval(lift: Interval | null | undefined): string {
  const shown = pointsParts(lift)
  return shown ? t('report.pointsRange', { ...shown }) : '—'
}

/** A difference in fen with its interval, in yuan: "+￥12.34（-￥3.20 ~ +￥28.00）"; "—" when there is none. */
export function yuanInterval(lift: Interval | null | undefined): string {
  const shown = yuanParts(lift)
  return shown ? t('report.withRange', { ...shown }) : '—'
}

/** The return on the campaign's cost (net ÷ cost) as a signed percent: 0.5 → "+50%". */
export function signedPercent(ratio: number): string {
  return `${signed(ratio * 100, 0)}%`
}

/** The return on cost with its interval: "+50%（-150% ~ +250%）"; "无成本" when nothing was spent (no return on it). */
export function roiInterval(roi: Interval | null | undefined): string {
  const shown = roiParts(roi)
  return shown ? t('report.withRange', { ...shown }) : t('report.noCost')
}

/** The interval under a card's estimate: "-1.1 ~ +5.7". */
export function rangeText(shown: Parts): string {
  return t('report.range', { low: shown.low, high: shown.high })
}

/** The verdict in words: 正向：活动带来了净收益, 尚无定论…, 数据不足. */
export function verdictLabel(verdict: Verdict): string {
  return t(`report.verdicts.${verdict}`)
}

/** The colour of the verdict's alert. */
export function verdictType(verdict: Verdict): 'success' | 'error' | 'warning' | 'info' {
  switch (verdict) {
    case 'positive':
      return 'success'
    case 'negative':
      return 'error'
    case 'inconclusive':
      return 'warning'
    default:
      return 'info'
  }
}

/** How big a difference in visit rate these groups can tell apart; "" when the server has no answer (a group empty). */
export function detectableNote(difference: number | null | undefined): string {
  if (difference == null) return ''
  return t('report.detectable', { points: (Math.abs(difference) * 100).toFixed(1) })
}

export type Attribution = Schemas['AttributionDto']
export type Detectable = Schemas['DetectableDto']

/** What other systems would call the campaign's result (no control group, so it counts visits that would have come
 * anyway): "收到消息的 5 人中，2 人在 3 天内到店消费 ￥128.00"; a plain note when nobody was sent a message. */
export function attributionText(attribution: Attribution): string {
  if (attribution.recipients === 0) return t('report.attributionNone')
  return t('report.attributionText', {
    recipients: attribution.recipients,
    visitors: attribution.visitors,
    days: attribution.days,
    revenue: formatFen(attribution.revenue_fen),
  })
}

/** Above this smallest detectable difference (10 percentage points) a planned campaign is too small to tell much. */
export const COARSE_DETECTABLE = 0.1

/** A planned campaign's estimate as the form shows it: how it would split and, when the segment's recent visit rate
 * says anything (neither nobody nor everybody came), what difference it could tell apart, with a hint when that is
 * coarse. */
export function estimateText(estimate: Detectable, horizonDays: number): { text: string; hint: string } {
  const sizes = t('campaigns.estimateSizes', { treated: estimate.treated, control: estimate.control })
  const rate = estimate.base_visit_rate
  const detectable = estimate.detectable_visit_rate
  if (rate == null || detectable == null) return { text: sizes, hint: '' }
  const text = t('campaigns.estimateRate', {
    sizes,
    days: horizonDays,
    rate: percent(rate),
    points: (Math.abs(detectable) * 100).toFixed(1),
  })
  return { text, hint: Math.abs(detectable) > COARSE_DETECTABLE ? t('campaigns.estimateCoarse') : '' }
}

/** The colour of the verdict's tag in the campaign list (a tag says danger where an alert says error). */
export function verdictTagType(verdict: Verdict): 'success' | 'danger' | 'warning' | 'info' {
  const type = verdictType(verdict)
  return type === 'error' ? 'danger' : type
}
