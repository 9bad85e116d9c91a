import { describe, expect, it } from 'vitest'
import type { Schemas } from '@/api/client'
import { answeredLine, answerOf, consentHint, consentSummary, switchOn } from './consents'

type Purpose = Schemas['ConsentPurpose']

const answer = (purpose: Purpose, granted: boolean, channel = 'sandbox', given_at = '2026-12-06T09:30:00Z'): Schemas['ConsentDto'] => ({
  purpose,
  granted,
  channel,
  wording: '说明',
  recorded_by: null,
  given_at,
})

/** The list the api answers, in its order, with the answers given (a purpose left out was never answered). */
const consents = (answers: Partial<Record<Purpose, boolean>> = {}): Schemas['MyConsentDto'][] =>
  (['marketing', 'sms', 'personalised'] as const).map((purpose) => ({
    purpose,
    wording: '说明',
    answer: answers[purpose] === undefined ? null : answer(purpose, answers[purpose]),
  }))

describe('switchOn', () => {
  it('shows the answer in force whatever the defaults', () => {
    expect(switchOn(consents({ marketing: true, sms: false, personalised: false }), 'marketing')).toBe(true)
    expect(switchOn(consents({ marketing: true, sms: false, personalised: false }), 'sms')).toBe(false)
    expect(switchOn(consents({ marketing: true, sms: false, personalised: false }), 'personalised')).toBe(false)
    expect(switchOn(consents({ marketing: false, sms: true }), 'sms')).toBe(true)
  })
  it('without an answer, shows what the server does: marketing off, SMS with marketing, personalised on', () => {
    expect(switchOn(consents(), 'marketing')).toBe(false)
    expect(switchOn(consents(), 'sms')).toBe(false)
    expect(switchOn(consents({ marketing: true }), 'sms')).toBe(true)
    expect(switchOn(consents({ marketing: false }), 'sms')).toBe(false)
    expect(switchOn(consents(), 'personalised')).toBe(true)
  })
  it('reads an answer by purpose, not by place, and a missing purpose as never answered', () => {
    const reversed = consents({ marketing: true, sms: false }).reverse()
    expect(answerOf(reversed, 'sms')).toBe(false)
    expect(answerOf(reversed, 'marketing')).toBe(true)
    expect(answerOf([], 'personalised')).toBeNull()
    expect(switchOn([], 'personalised')).toBe(true)
  })
})

describe('consentHint', () => {
  it('explains that SMS also needs 营销消息 when SMS is on and marketing is not', () => {
    expect(consentHint(consents({ sms: true }), 'sms')).toMatch(/营销消息/)
    expect(consentHint(consents({ marketing: false, sms: true }), 'sms')).toMatch(/营销消息/)
    expect(consentHint(consents({ marketing: true, sms: true }), 'sms')).toBeNull()
    expect(consentHint(consents({ marketing: true }), 'sms')).toBeNull()
    // Off, or following marketing's no: nothing to explain.
    expect(consentHint(consents({ sms: false }), 'sms')).toBeNull()
    expect(consentHint(consents({ marketing: false }), 'sms')).toBeNull()
    expect(consentHint(consents({ sms: true }), 'marketing')).toBeNull()
  })
  it('says a no to personalised recommendations stops campaign messages', () => {
    expect(consentHint(consents({ marketing: true, personalised: false }), 'personalised')).toMatch(/不会收到/)
    expect(consentHint(consents({ personalised: true }), 'personalised')).toBeNull()
    expect(consentHint(consents(), 'personalised')).toBeNull()
  })
})

describe('consentSummary', () => {
  it('says what the member receives', () => {
    expect(consentSummary(consents())).toBe('营销消息：未设置')
    expect(consentSummary(consents({ marketing: true }))).toBe('营销消息：已开启')
    expect(consentSummary(consents({ marketing: true, sms: true, personalised: true }))).toBe('营销消息：已开启')
    expect(consentSummary(consents({ marketing: true, sms: false }))).toBe('营销消息：已开启，不收短信')
    expect(consentSummary(consents({ marketing: false, sms: true }))).toBe('营销消息：已关闭')
    expect(consentSummary(consents({ marketing: true, personalised: false }))).toBe('营销消息：已关闭（不做个性化推荐）')
    expect(consentSummary(consents({ personalised: false }))).toBe('营销消息：已关闭（不做个性化推荐）')
  })
})

describe('answeredLine', () => {
  it('gives the local time and says when the no came by an SMS reply or from the desk', () => {
    const at = new Date(2026, 11, 7, 9, 5).toISOString()
    expect(answeredLine(answer('marketing', true, 'sandbox', at))).toBe('上次设置 2026-12-07 09:05')
    expect(answeredLine(answer('sms', false, 'sms_reply', at))).toBe('上次设置 2026-12-07 09:05 · 通过短信回复退订')
    expect(answeredLine(answer('marketing', true, 'desk', at))).toBe('上次设置 2026-12-07 09:05 · 门店代为记录')
    expect(answeredLine(answer('marketing', false, 'wechat', new Date(2026, 0, 1, 0, 0).toISOString()))).toBe('上次设置 2026-01-01 00:00')
  })
})
