// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest'
import type { Schemas } from '@/api/client'
import { i18n } from '@/i18n'
import { answersInForce, channelSummary, consentChannelLabel, countsByChannel, reasonLabel, statusLabel, STATUSES, statusType } from './sends'

afterEach(() => {
  i18n.global.locale.value = 'zh-CN'
})

describe('send reasons', () => {
  it('names our own reasons in Chinese', () => {
    const expected: Record<string, string> = {
      no_consent: '未同意营销',
      sms_opted_out: '已退订短信',
      personalisation_refused: '拒绝个性化推荐',
      weekly_cap: '超出每周上限',
      quiet_hours: '免打扰时段（等待发送时段）',
      no_phone: '无手机号',
      no_sms_account: '未配置短信账号',
      member_gone: '会员已注销',
      throttled: '服务商限流（稍后重试）',
      provider_unreachable: '服务商不可达（稍后重试）',
      answer_lost: '结果未知（发送前先向服务商核实）',
      not_found_resent: '服务商未收到，已重发',
    }
    for (const [code, words] of Object.entries(expected)) expect(reasonLabel(code)).toBe(words)
  })

  it("shows a provider's or carrier's code as it is", () => {
    expect(reasonLabel('MK:0001')).toBe('MK:0001')
    expect(reasonLabel('isv.BUSINESS_LIMIT_CONTROL')).toBe('isv.BUSINESS_LIMIT_CONTROL')
    expect(reasonLabel('LimitExceeded.PhoneNumberDailyLimit')).toBe('LimitExceeded.PhoneNumberDailyLimit')
    expect(reasonLabel('DELIVRD')).toBe('DELIVRD')
    expect(reasonLabel('something_new')).toBe('something_new')
    expect(reasonLabel(null)).toBe('')
    expect(reasonLabel('')).toBe('')
  })

  it('follows the language', () => {
    i18n.global.locale.value = 'en'
    expect(reasonLabel('no_consent')).toBe('no marketing consent')
    expect(statusLabel('skipped')).toBe('skipped')
    expect(statusLabel('paused')).toBe('paused')
  })
})

describe('send counts', () => {
  const sends: Schemas['SendCountDto'][] = [
    { channel: 'in_app', status: 'skipped', count: 1 },
    { channel: 'sms', status: 'skipped', count: 3 },
    { channel: 'in_app', status: 'delivered', count: 14 },
    { channel: 'sms', status: 'delivered', count: 12 },
    { channel: 'sms', status: 'failed', count: 0 },
    { channel: 'sms', status: 'queued', count: 2 },
    { channel: 'sms', status: 'delivered', count: 1 },
  ]

  it('groups the counts by channel, SMS first, statuses from arrived to not sent', () => {
    expect(countsByChannel(sends)).toEqual([
      {
        channel: 'sms',
        total: 18,
        counts: [
          { status: 'delivered', count: 13 },
          { status: 'queued', count: 2 },
          { status: 'skipped', count: 3 },
        ],
      },
      {
        channel: 'in_app',
        total: 15,
        counts: [
          { status: 'delivered', count: 14 },
          { status: 'skipped', count: 1 },
        ],
      },
    ])
    expect(countsByChannel([])).toEqual([])
  })

  it('says a channel in a line', () => {
    const [sms, inApp] = countsByChannel(sends)
    expect(channelSummary(sms!)).toBe('短信 已送达 13 / 排队中 2 / 跳过 3')
    expect(channelSummary(inApp!)).toBe('站内消息 已送达 14 / 跳过 1')
  })

  it('has words for every status', () => {
    for (const status of STATUSES) expect(statusLabel(status)).not.toBe(status)
    expect(statusLabel('sent')).toBe('已发送')
  })

  it('names the messages a paused campaign holds', () => {
    expect(STATUSES).toContain('paused')
    expect(statusLabel('paused')).toBe('已暂停')
    expect(statusType('paused')).toBe('info')
  })

  it('counts held messages after those still on their way and before those that did not go', () => {
    const held: Schemas['SendCountDto'][] = [
      { channel: 'sms', status: 'skipped', count: 1 },
      { channel: 'sms', status: 'paused', count: 4 },
      { channel: 'sms', status: 'delivered', count: 2 },
    ]
    const [sms] = countsByChannel(held)
    expect(channelSummary(sms!)).toBe('短信 已送达 2 / 已暂停 4 / 跳过 1')
  })
})

describe('consent record', () => {
  const answer = (purpose: Schemas['ConsentPurpose'], granted: boolean, channel: string, given_at: string): Schemas['ConsentDto'] => ({
    purpose,
    granted,
    channel,
    given_at,
    wording: '…',
  })

  it('keeps the latest answer per purpose', () => {
    const record = [
      answer('marketing', true, 'wechat', '2026-12-01T02:00:00Z'),
      answer('sms', true, 'wechat', '2026-12-01T02:00:00Z'),
      answer('sms', false, 'sms_reply', '2026-12-03T02:00:00Z'),
    ]
    const inForce = answersInForce(record)
    expect(inForce.marketing?.granted).toBe(true)
    expect([inForce.sms?.granted, inForce.sms?.channel]).toEqual([false, 'sms_reply'])
    expect(inForce.personalised).toBeUndefined()
  })

  it('says how an answer was given', () => {
    expect(consentChannelLabel('desk')).toBe('前台代录')
    expect(consentChannelLabel('sms_reply')).toBe('短信回复退订')
    expect(consentChannelLabel('wechat')).toBe('微信小程序')
  })
})
