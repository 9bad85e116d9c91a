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

  it('keeps a least left empty empty when read back', () => {
    const read = fromRule({ combine: 'all', criteria: [{ kind: 'visits', days: 30, max: 0 }] })
    expect(read.criteria[0]).toMatchObject({ kind: 'visits', days: 30, min: null, max: 0 })
  })
})
