// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest'
import { i18n } from '@/i18n'
import { blankCriterion, blankRule, CRITERION_KINDS, describeRfm, describeScores, fromRule, rfmProblem, ruleUnfinished, toCriterion, toRule, unfinished } from './segments'

afterEach(() => {
  i18n.global.locale.value = 'zh-CN'
})

describe('segment rules', () => {
  it('sends only the fields of each kind', () => {
    expect(toCriterion(blankCriterion('last_visit'))).toEqual({ kind: 'last_visit', min_days: 60, max_days: null })
    expect(toCriterion(blankCriterion('never_visited'))).toEqual({ kind: 'never_visited' })
    expect(toCriterion({ ...blankCriterion('spend'), min_fen: 200_000 })).toEqual({ kind: 'spend', days: 90, min_fen: 200_000, max_fen: null })
    expect(toCriterion({ ...blankCriterion('store'), store_ids: [3], by: 'last_visit' })).toEqual({ kind: 'store', store_ids: [3], by: 'last_visit' })
  })

  it('reads back what it saved, groups included', () => {
    const rule = blankRule()
    rule.groups.push({ combine: 'any', criteria: [blankCriterion('overdue'), { ...blankCriterion('tags'), tags: ['VIP'] }] })
    const sent = toRule(rule)
    expect(toRule(fromRule(sent))).toEqual(sent)
    expect(sent.groups?.[0]?.criteria[1]).toEqual({ kind: 'tags', tags: ['VIP'] })
  })

  it('waits for lists to be filled before counting', () => {
    const rule = blankRule()
    expect(ruleUnfinished(rule)).toBe(false)
    rule.criteria.push(blankCriterion('tags'))
    expect(ruleUnfinished(rule)).toBe(true)
    rule.criteria[1]!.tags = ['VIP']
    expect(ruleUnfinished(rule)).toBe(false)
    rule.groups.push({ combine: 'any', criteria: [] })
    expect(ruleUnfinished(rule)).toBe(true)
  })

  it('sends balances, count cards and consent with their own fields, and waits for a bound', () => {
    expect(toCriterion({ ...blankCriterion('stored_value'), max_fen: 5_000 })).toEqual({ kind: 'stored_value', min_fen: null, max_fen: 5_000 })
    expect(toCriterion(blankCriterion('count_card'))).toEqual({ kind: 'count_card', max_sessions: 2, expires_within_days: null })
    expect(toCriterion({ ...blankCriterion('marketing_consent'), purpose: 'sms', granted: false })).toEqual({ kind: 'marketing_consent', granted: false, purpose: 'sms' })
    const rule = { combine: 'all' as const, criteria: [blankCriterion('stored_value')], groups: [] }
    expect(ruleUnfinished(rule)).toBe(true)
    rule.criteria[0]!.min_fen = 100
    expect(ruleUnfinished(rule)).toBe(false)
    // Read back, a count card by expiry alone keeps no sessions bound.
    const read = fromRule({ combine: 'all', criteria: [{ kind: 'count_card', expires_within_days: 30 }] })
    expect(toCriterion(read.criteria[0]!)).toEqual({ kind: 'count_card', max_sessions: null, expires_within_days: 30 })
  })

  it('keeps a least left empty empty when read back', () => {
    const read = fromRule({ combine: 'all', criteria: [{ kind: 'visits', days: 30, max: 0 }] })
    expect(read.criteria[0]).toMatchObject({ kind: 'visits', days: 30, min: null, max: 0 })
  })

  it('sends a birthday window of the coming week by default, and reads one back as it was', () => {
    expect(toCriterion(blankCriterion('birthday'))).toEqual({ kind: 'birthday', within_days: 7 })
    const read = fromRule({ combine: 'all', criteria: [{ kind: 'birthday', within_days: 0 }] })
    expect(toCriterion(read.criteria[0]!)).toEqual({ kind: 'birthday', within_days: 0 })
    expect(unfinished(read.criteria[0]!)).toBe(false)
  })

  it('starts an RFM criterion over a year with no dimension chosen, and sends its scores in order', () => {
    expect(CRITERION_KINDS).toContain('rfm')
    expect(i18n.global.t('segments.kinds.rfm')).toBe('RFM 分层')
    expect(toCriterion(blankCriterion('rfm'))).toEqual({ kind: 'rfm', days: 365, recency: [], frequency: [], monetary: [] })
    expect(toCriterion({ ...blankCriterion('rfm'), recency: [5, 4], monetary: [3, 1, 3] })).toEqual({
      kind: 'rfm',
      days: 365,
      recency: [4, 5],
      frequency: [],
      monetary: [1, 3],
    })
  })

  it('reads an RFM criterion back, a dimension not sent left empty', () => {
    const read = fromRule({ combine: 'all', criteria: [{ kind: 'rfm', days: 180, frequency: [5] }] })
    expect(toCriterion(read.criteria[0]!)).toEqual({ kind: 'rfm', days: 180, recency: [], frequency: [5], monetary: [] })
    const rule = blankRule()
    rule.criteria = [{ ...blankCriterion('rfm'), recency: [5], frequency: [1, 2] }]
    expect(toRule(fromRule(toRule(rule)))).toEqual(toRule(rule))
  })

  it('waits for an RFM criterion to narrow a dimension, as the server does', () => {
    const rfm = blankCriterion('rfm')
    expect(rfmProblem(rfm)).toBe('empty')
    expect(unfinished(rfm)).toBe(true)
    expect(ruleUnfinished({ combine: 'all', criteria: [rfm], groups: [] })).toBe(true)
    rfm.monetary = [5]
    expect(rfmProblem(rfm)).toBeNull()
    expect(unfinished(rfm)).toBe(false)
    expect(ruleUnfinished({ combine: 'all', criteria: [rfm], groups: [] })).toBe(false)
    // The period is 1–3650 days; a cleared input is no period.
    expect(rfmProblem({ ...rfm, days: 0 })).toBe('days')
    expect(rfmProblem({ ...rfm, days: 3651 })).toBe('days')
    expect(rfmProblem({ ...rfm, days: null as unknown as number })).toBe('days')
    expect(rfmProblem({ ...rfm, days: 1 })).toBeNull()
    expect(rfmProblem({ ...rfm, days: 3650 })).toBeNull()
    // Scores are 1–5.
    expect(rfmProblem({ ...rfm, recency: [0] })).toBe('scores')
    expect(rfmProblem({ ...rfm, frequency: [6] })).toBe('scores')
  })

  it('says an RFM criterion in a sentence, naming only the dimensions chosen', () => {
    expect(describeRfm({ days: 365, recency: [4, 5], frequency: [5], monetary: [] })).toBe('近 365 天 RFM：最近消费 4–5 分，消费频次 5 分')
    expect(describeRfm({ days: 90, recency: [], frequency: [], monetary: [5, 1, 3] })).toBe('近 90 天 RFM：消费金额 1、3、5 分')
    expect(describeRfm({ days: 30, recency: [3, 1, 2], frequency: [1, 2, 4, 5], monetary: [2] })).toBe(
      '近 30 天 RFM：最近消费 1–3 分，消费频次 1、2、4、5 分，消费金额 2 分',
    )
    expect(describeScores([5, 4, 3, 2, 1])).toBe('1–5')
    i18n.global.locale.value = 'en'
    expect(describeRfm({ days: 365, recency: [4, 5], frequency: [1, 3], monetary: [] })).toBe('RFM over the last 365 days: Recency 4–5, Frequency 1/3')
  })
})
