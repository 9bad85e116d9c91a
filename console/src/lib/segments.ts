// A segment's rule as the editor holds it, and the rule the api reads. The server counts who is in a segment; this
// only shapes what the marketing manager edits.
import type { Schemas } from '@/api/client'
import { i18n } from '@/i18n'

export type Criterion = Schemas['Criterion']
export type CriterionKind = Criterion['kind']
export type Combine = Schemas['Combine']

export const CRITERION_KINDS: CriterionKind[] = [
  'last_visit',
  'never_visited',
  'overdue',
  'visits',
  'spend',
  'bought_category',
  'level',
  'tags',
  'birth_month',
  'birthday',
  'store',
  'stored_value',
  'count_card',
  'rfm',
  'marketing_consent',
]

/** The three RFM dimensions, in the order they are said: how recently, how often, how much. */
export const RFM_DIMENSIONS = ['recency', 'frequency', 'monetary'] as const
export type RfmDimension = (typeof RFM_DIMENSIONS)[number]
/** The scores a dimension takes: quintiles, 5 the best fifth. */
export const RFM_SCORES = [1, 2, 3, 4, 5] as const

/** One criterion being edited: every field any kind uses, so switching kinds keeps a form to fill. */
export interface CriterionDraft {
  kind: CriterionKind
  min_days: number | null
  max_days: number | null
  percent: number
  days: number
  min: number | null
  max: number | null
  min_fen: number | null
  max_fen: number | null
  level_ids: number[]
  tags: string[]
  months: number[]
  within_days: number
  categories: string[]
  store_ids: number[]
  by: Schemas['StoreBy']
  granted: boolean
  purpose: Schemas['ConsentPurpose']
  max_sessions: number | null
  expires_within_days: number | null
  recency: number[]
  frequency: number[]
  monetary: number[]
}

export interface GroupDraft {
  combine: Combine
  criteria: CriterionDraft[]
}

export interface RuleDraft {
  combine: Combine
  criteria: CriterionDraft[]
  groups: GroupDraft[]
}

/** A criterion of `kind` with the values a salon starts from (lapsed 60 days, 150% of their rhythm, 90 days; RFM
 * over a year; birthdays in the coming week). */
export function blankCriterion(kind: CriterionKind): CriterionDraft {
  return {
    kind,
    min_days: 60,
    max_days: null,
    percent: 150,
    days: kind === 'rfm' ? 365 : 90,
    min: 1,
    max: null,
    min_fen: null,
    max_fen: null,
    level_ids: [],
    tags: [],
    months: [],
    // Birthdays in the coming week.
    within_days: 7,
    categories: [],
    store_ids: [],
    by: 'home',
    granted: true,
    purpose: 'marketing',
    // A count card nearly used up: two sessions left.
    max_sessions: 2,
    expires_within_days: null,
    recency: [],
    frequency: [],
    monetary: [],
  }
}

export function blankRule(): RuleDraft {
  return { combine: 'all', criteria: [blankCriterion('last_visit')], groups: [] }
}

/** The criterion the api reads: only the fields of its kind. */
export function toCriterion(d: CriterionDraft): Criterion {
  switch (d.kind) {
    case 'last_visit':
      return { kind: d.kind, min_days: d.min_days, max_days: d.max_days }
    case 'never_visited':
      return { kind: d.kind }
    case 'overdue':
      return { kind: d.kind, percent: d.percent }
    case 'visits':
      return { kind: d.kind, days: d.days, min: d.min, max: d.max }
    case 'spend':
      return { kind: d.kind, days: d.days, min_fen: d.min_fen, max_fen: d.max_fen }
    case 'bought_category':
      return { kind: d.kind, categories: d.categories, days: d.days }
    case 'level':
      return { kind: d.kind, level_ids: d.level_ids }
    case 'tags':
      return { kind: d.kind, tags: d.tags }
    case 'birth_month':
      return { kind: d.kind, months: d.months }
    case 'birthday':
      return { kind: d.kind, within_days: d.within_days }
    case 'store':
      return { kind: d.kind, store_ids: d.store_ids, by: d.by }
    case 'stored_value':
      return { kind: d.kind, min_fen: d.min_fen, max_fen: d.max_fen }
    case 'count_card':
      return { kind: d.kind, max_sessions: d.max_sessions, expires_within_days: d.expires_within_days }
    case 'rfm':
      return { kind: d.kind, days: d.days, recency: sortedScores(d.recency), frequency: sortedScores(d.frequency), monetary: sortedScores(d.monetary) }
    case 'marketing_consent':
      return { kind: d.kind, granted: d.granted, purpose: d.purpose }
  }
}

/** Scores as sent and said: each once, in order (toggled on in any order). */
function sortedScores(scores: number[]): number[] {
  return [...new Set(scores)].sort((a, b) => a - b)
}

export function fromCriterion(c: Criterion): CriterionDraft {
  const draft: CriterionDraft = { ...blankCriterion(c.kind), min_days: null, min: null, max_sessions: null }
  return Object.assign(draft, Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)))
}

export function toRule(d: RuleDraft): Schemas['SegmentRule'] {
  return {
    combine: d.combine,
    criteria: d.criteria.map(toCriterion),
    groups: d.groups.map((g) => ({ combine: g.combine, criteria: g.criteria.map(toCriterion) })),
  }
}

export function fromRule(r: Schemas['SegmentRule']): RuleDraft {
  return {
    combine: r.combine,
    criteria: (r.criteria ?? []).map(fromCriterion),
    groups: (r.groups ?? []).map((g) => ({ combine: g.combine, criteria: g.criteria.map(fromCriterion) })),
  }
}

/** Whether a criterion still lacks what it needs (a list left empty): the count waits for it. */
export function unfinished(d: CriterionDraft): boolean {
  switch (d.kind) {
    case 'level':
      return d.level_ids.length === 0
    case 'tags':
      return d.tags.length === 0
    case 'birth_month':
      return d.months.length === 0
    case 'bought_category':
      return d.categories.length === 0
    case 'store':
      return d.store_ids.length === 0
    case 'stored_value':
      return d.min_fen === null && d.max_fen === null
    case 'count_card':
      return d.max_sessions === null && d.expires_within_days === null
    case 'rfm':
      return rfmProblem(d) !== null
    default:
      return false
  }
}

/** Whether any criterion of the rule, or a group left empty, still needs filling in. */
export function ruleUnfinished(rule: RuleDraft): boolean {
  const all = [...rule.criteria, ...rule.groups.flatMap((g) => g.criteria)]
  return all.length === 0 || all.some(unfinished) || rule.groups.some((g) => g.criteria.length === 0)
}

/** What the server would refuse in an RFM criterion, as the server checks it: the period 1–3650 days, scores 1–5,
 * and at least one dimension narrowed (all three left empty would be everyone who came). Null when it is fine. */
export function rfmProblem(d: Pick<CriterionDraft, 'days' | RfmDimension>): 'days' | 'scores' | 'empty' | null {
  if (!Number.isInteger(d.days) || d.days < 1 || d.days > 3650) return 'days'
  if (RFM_DIMENSIONS.some((dim) => d[dim].some((s) => !Number.isInteger(s) || s < 1 || s > 5))) return 'scores'
  if (RFM_DIMENSIONS.every((dim) => d[dim].length === 0)) return 'empty'
  return null
}

/** Scores in words: a run as a range ("4–5"), one alone ("5"), others one by one ("1、3、5"). */
export function describeScores(scores: number[]): string {
  const s = sortedScores(scores)
  if (s.length > 1 && s[s.length - 1]! - s[0]! === s.length - 1) return `${s[0]}–${s[s.length - 1]}`
  return s.join(i18n.global.t('segments.rfmListSeparator'))
}

/** An RFM criterion in a sentence, naming only the dimensions narrowed: "近 365 天 RFM：最近消费 4–5 分，消费频次 5 分". */
export function describeRfm(d: Pick<CriterionDraft, 'days' | RfmDimension>): string {
  const { t } = i18n.global
  const parts = RFM_DIMENSIONS.filter((dim) => d[dim].length > 0).map((dim) =>
    t('segments.rfmPart', { dimension: t(`segments.rfmDimensions.${dim}`), scores: describeScores(d[dim]) }),
  )
  return t('segments.rfmDescribe', { days: d.days, parts: parts.join(t('segments.rfmPartSeparator')) })
}
