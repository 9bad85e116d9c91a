import { describe, expect, it } from 'vitest'
import { blankCriterion, blankRule, fromRule, ruleUnfinished, toCriterion, toRule } from './segments'

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
})
