// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest'
import type { Schemas } from '@/api/client'
import { i18n } from '@/i18n'
import {
  automationStatusLabel,
  blankDraft,
  cooldownPlaceholder,
  describeCooldown,
  describeTrigger,
  draftReady,
  paramRange,
  requestOf,
  TRIGGERS,
  triggerLabel,
  triggerSpec,
  type AutomationDraft,
} from './automations'

afterEach(() => {
  i18n.global.locale.value = 'zh-CN'
})

const draft = (more: Partial<AutomationDraft>): AutomationDraft => ({ ...blankDraft(), name: '测试', ...more })

describe('triggers', () => {
  it('names every trigger the api has, in Chinese', () => {
    const all: Schemas['AutomationTrigger'][] = [
      'welcome',
      'birthday',
      'win_back',
      'rebook',
      'count_card_expiring',
      'stored_value_expiring',
      'low_balance',
      'coupon_expiring',
      'recurring',
    ]
    expect(TRIGGERS.map((s) => s.trigger).sort()).toEqual([...all].sort())
    expect(Object.fromEntries(all.map((tr) => [tr, triggerLabel(tr)]))).toEqual({
      welcome: '新会员欢迎',
      birthday: '生日关怀',
      win_back: '流失召回',
      rebook: '到期未回店提醒',
      count_card_expiring: '次卡即将到期',
      stored_value_expiring: '储值即将到期',
      low_balance: '储值余额不足',
      coupon_expiring: '优惠券即将过期',
      recurring: '周期触达',
    })
  })

  it("knows each trigger's parameter, range and default as the server has them", () => {
    const shape = (tr: Schemas['AutomationTrigger']) => {
      const s = triggerSpec(tr)
      return [s.param, s.min, s.max, s.default, s.cooldown]
    }
    expect(shape('welcome')).toEqual(['days', 1, 30, 3, 36_500])
    expect(shape('birthday')).toEqual(['days', 0, 30, 3, 300])
    expect(shape('win_back')).toEqual(['days', 7, 730, 60, 180])
    expect(shape('rebook')).toEqual(['threshold_pct', 101, 1000, 150, 30])
    expect(shape('count_card_expiring')).toEqual(['days', 1, 90, 14, 30])
    expect(shape('stored_value_expiring')).toEqual(['days', 1, 90, 14, 30])
    expect(shape('low_balance')).toEqual(['threshold_yuan', 0.01, 1_000_000, 100, 30])
    expect(shape('coupon_expiring')).toEqual(['days', 1, 30, 3, 7])
    expect(shape('recurring')).toEqual(['days', 1, 365, 7, 0])
    expect(triggerSpec('win_back').suggested).toEqual([60, 90, 180])
    expect(TRIGGERS.filter((s) => s.needsSegment).map((s) => s.trigger)).toEqual(['recurring'])
  })

  it('says the range as a hint', () => {
    expect(paramRange('win_back')).toBe('范围 7–730 天')
    expect(paramRange('rebook')).toBe('范围 101–1000%')
    expect(paramRange('low_balance')).toBe('范围 0.01–1000000 元')
  })
})

describe('describeTrigger', () => {
  const auto = (trigger: Schemas['AutomationTrigger'], days: number, threshold: number | null = null) => ({ trigger, days, threshold })

  it('says each trigger in a sentence', () => {
    expect(describeTrigger(auto('win_back', 60))).toBe('最近一次到店已满 60 天')
    expect(describeTrigger(auto('birthday', 3))).toBe('生日前 3 天')
    expect(describeTrigger(auto('birthday', 0))).toBe('生日当天')
    expect(describeTrigger(auto('welcome', 3))).toBe('入会 3 天内')
    expect(describeTrigger(auto('low_balance', 0, 10_000))).toBe('余额不超过 ￥100.00')
    expect(describeTrigger(auto('low_balance', 0, 5_050))).toBe('余额不超过 ￥50.50')
    expect(describeTrigger(auto('rebook', 0, 150))).toBe('超过自身到店间隔的 150%')
    expect(describeTrigger(auto('recurring', 7))).toBe('每 7 天')
    expect(describeTrigger(auto('count_card_expiring', 14))).toBe('次卡 14 天内到期')
    expect(describeTrigger(auto('stored_value_expiring', 30))).toBe('储值 30 天内到期')
    expect(describeTrigger(auto('coupon_expiring', 3))).toBe('优惠券 3 天内过期')
  })

  it("reads the server's default where a value is missing", () => {
    expect(describeTrigger({ trigger: 'win_back' })).toBe('最近一次到店已满 60 天')
    expect(describeTrigger({ trigger: 'rebook', threshold: null })).toBe('超过自身到店间隔的 150%')
    expect(describeTrigger({ trigger: 'low_balance', days: 0, threshold: null })).toBe('余额不超过 ￥100.00')
  })

  it('reads what the form is about to send', () => {
    expect(describeTrigger(requestOf(draft({ trigger: 'low_balance', param: 49.9 })))).toBe('余额不超过 ￥49.90')
    expect(describeTrigger(requestOf(draft({ trigger: 'win_back', param: 90 })))).toBe('最近一次到店已满 90 天')
    expect(describeTrigger(requestOf(draft({ trigger: 'win_back', param: null })))).toBe('最近一次到店已满 60 天')
  })

  it('follows the language', () => {
    i18n.global.locale.value = 'en'
    expect(describeTrigger(auto('win_back', 90))).toBe('last visit 90 days ago or more')
    expect(triggerLabel('low_balance')).toBe('Low balance')
  })
})

describe('cooldown and status', () => {
  it('says the cooldown, once ever for a welcome', () => {
    expect(describeCooldown(36_500)).toBe('每位会员仅一次')
    expect(describeCooldown(180)).toBe('同一会员间隔 180 天')
    expect(describeCooldown(0)).toBe('不设冷却')
    expect(cooldownPlaceholder('welcome')).toBe('默认每位会员仅一次')
    expect(cooldownPlaceholder('win_back')).toBe('默认 180 天')
    expect(cooldownPlaceholder('recurring')).toBe('默认 0 天')
  })

  it('names the statuses', () => {
    expect(['active', 'paused', 'ended'].map(automationStatusLabel)).toEqual(['运行中', '已暂停', '已结束'])
  })
})

describe('requestOf', () => {
  it('sends days for a days trigger and no threshold', () => {
    const body = requestOf(draft({ name: ' 流失召回60天 ', trigger: 'win_back', param: 60 }))
    expect(body).toEqual({
      name: '流失召回60天',
      trigger: 'win_back',
      days: 60,
      threshold: null,
      segment_id: null,
      coupon_template_id: null,
      message_title: null,
      message_body: null,
      sms_template_id: null,
      control_bp: 1000,
      cooldown_days: null,
    })
  })

  it('sends only the fields the api reads', () => {
    const keys = Object.keys(requestOf(draft({ trigger: 'rebook', param: 150 }))).sort()
    expect(keys).toEqual(
      ['name', 'trigger', 'days', 'threshold', 'segment_id', 'coupon_template_id', 'message_title', 'message_body', 'sms_template_id', 'control_bp', 'cooldown_days'].sort(),
    )
  })

  it('sends a low balance in fen, typed in yuan', () => {
    expect(requestOf(draft({ trigger: 'low_balance', param: 100 }))).toMatchObject({ days: null, threshold: 10_000 })
    expect(requestOf(draft({ trigger: 'low_balance', param: 19.99 }))).toMatchObject({ days: null, threshold: 1_999 })
    expect(requestOf(draft({ trigger: 'low_balance', param: 0.01 }))).toMatchObject({ threshold: 1 })
  })

  it("sends a rebook's percent as it is, and no days", () => {
    expect(requestOf(draft({ trigger: 'rebook', param: 200 }))).toMatchObject({ days: null, threshold: 200 })
  })

  it("leaves an empty parameter or cooldown to the server's default", () => {
    expect(requestOf(draft({ trigger: 'birthday', param: null }))).toMatchObject({ days: null, threshold: null, cooldown_days: null })
    expect(requestOf(draft({ trigger: 'low_balance', param: null }))).toMatchObject({ threshold: null })
    const cleared = { ...draft({ trigger: 'welcome' }), param: undefined, cooldown_days: undefined } as unknown as AutomationDraft
    expect(requestOf(cleared)).toMatchObject({ days: null, cooldown_days: null })
    expect(requestOf(draft({ trigger: 'birthday', param: 0, cooldown_days: 0 }))).toMatchObject({ days: 0, cooldown_days: 0 })
  })

  it('sends the message only with a title or a body, the control share in basis points', () => {
    const body = requestOf(
      draft({ trigger: 'recurring', param: 7, segment_id: 4, coupon_template_id: 9, sms_template_id: 2, message_title: ' 好久不见 ', message_body: '回店有礼', control_pct: 15, cooldown_days: 14 }),
    )
    expect(body).toMatchObject({ days: 7, segment_id: 4, coupon_template_id: 9, sms_template_id: 2, message_title: '好久不见', message_body: '回店有礼', control_bp: 1500, cooldown_days: 14 })
    expect(requestOf(draft({ message_title: '  ', message_body: '' }))).toMatchObject({ message_title: null, message_body: null })
    expect(requestOf(draft({ control_pct: 0 })).control_bp).toBe(0)
  })

  it('starts a new form from the trigger default and needs a segment only for recurring', () => {
    expect(blankDraft()).toMatchObject({ trigger: 'win_back', param: 60, control_pct: 10, cooldown_days: null })
    expect(blankDraft('rebook').param).toBe(150)
    expect(blankDraft('low_balance').param).toBe(100)
    expect(draftReady(draft({ trigger: 'win_back' }))).toBe(true)
    expect(draftReady(draft({ trigger: 'win_back', name: '  ' }))).toBe(false)
    expect(draftReady(draft({ trigger: 'recurring', param: 7 }))).toBe(false)
    expect(draftReady(draft({ trigger: 'recurring', param: 7, segment_id: 3 }))).toBe(true)
  })
})
