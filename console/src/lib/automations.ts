// Automations as the marketing manager sets them up and reads them: what each trigger asks for (days, a percent of
// the member's own rhythm, a balance in yuan), in which range and from which default, the trigger in a sentence, and
// the request the api reads. The server checks the ranges, applies the defaults and picks the members; this only
// shapes the form.

import type { Schemas } from '@/api/client'
import { i18n, named } from '@/i18n'
import { formatFen } from '@/lib/money'

export type Trigger = Schemas['AutomationTrigger']
export type AutomationStatus = Schemas['AutomationStatus']

/** What a trigger's one parameter is: days (`days`), a percent of the member's own interval (`threshold` as is), a
 * balance typed in yuan (`threshold` in fen), or nothing. */
export type TriggerParam = 'days' | 'threshold_pct' | 'threshold_yuan' | null

export interface TriggerSpec {
  trigger: Trigger
  param: TriggerParam
  /** The parameter's range and the server's default, in the unit typed: days, percent or yuan. */
  min: number
  max: number
  default: number
  /** Values a salon often picks (win-back's 60/90/180-day tiers). */
  suggested: number[]
  /** The cooldown the server applies when none is given, in days ([`ONCE_EVER`] for a welcome). */
  cooldown: number
  /** A recurring automation reaches a segment: it needs one. */
  needsSegment: boolean
}

/** The server's "once ever" cooldown (a welcome): 100 years. */
export const ONCE_EVER = 36_500

const spec = (trigger: Trigger, param: TriggerParam, min: number, max: number, dflt: number, cooldown = 30, more: Partial<TriggerSpec> = {}): TriggerSpec => ({
  trigger,
  param,
  min,
  max,
  default: dflt,
  suggested: [],
  cooldown,
  needsSegment: false,
  ...more,
})

/** Every trigger, in the order the picker lists them: the member's life (joining, birthday, lapsing, overdue), what
 * they hold running out, then a segment reached on a rhythm. */
export const TRIGGERS: TriggerSpec[] = [
  spec('welcome', 'days', 1, 30, 3, ONCE_EVER),
  spec('birthday', 'days', 0, 30, 3, 300),
  spec('win_back', 'days', 7, 730, 60, 180, { suggested: [60, 90, 180] }),
  spec('rebook', 'threshold_pct', 101, 1000, 150),
  spec('count_card_expiring', 'days', 1, 90, 14),
  spec('stored_value_expiring', 'days', 1, 90, 14),
  spec('low_balance', 'threshold_yuan', 0.01, 1_000_000, 100),
  spec('coupon_expiring', 'days', 1, 30, 3, 7),
  spec('recurring', 'days', 1, 365, 7, 0, { needsSegment: true }),
]

export function triggerSpec(trigger: Trigger): TriggerSpec {
  return TRIGGERS.find((s) => s.trigger === trigger) ?? spec(trigger, null, 0, 0, 0)
}

/** The trigger's name: 流失召回, 生日关怀. */
export function triggerLabel(trigger: string): string {
  return named('automations.triggers', trigger)
}

/** The status in words: 运行中, 已暂停, 已结束. */
export function automationStatusLabel(status: string): string {
  return named('automations.statuses', status)
}

/** The colour of a status's tag: running, waiting, over. */
export function automationStatusType(status: string): 'success' | 'warning' | 'info' {
  return status === 'active' ? 'success' : status === 'paused' ? 'warning' : 'info'
}

/** The unit a trigger's parameter is typed in: " 天", "%", " 元". */
export function paramUnit(param: TriggerParam): string {
  const { t } = i18n.global
  switch (param) {
    case 'days':
      return t('automations.units.days')
    case 'threshold_pct':
      return t('automations.units.percent')
    case 'threshold_yuan':
      return t('automations.units.yuan')
    default:
      return ''
  }
}

/** The parameter's range as a hint: "范围 7–730 天". */
export function paramRange(trigger: Trigger): string {
  const s = triggerSpec(trigger)
  return s.param ? i18n.global.t('automations.range', { min: s.min, max: s.max, unit: paramUnit(s.param) }) : ''
}

/** The trigger in a sentence, from an automation as the server keeps it (days; threshold a percent or fen):
 * "最近一次到店已满 60 天", "生日前 3 天", "余额不超过 ￥100.00". The server's default stands in for a value not given. */
export function describeTrigger(a: { trigger: Trigger; days?: number | null; threshold?: number | null }): string {
  const { t } = i18n.global
  const s = triggerSpec(a.trigger)
  switch (s.param) {
    case 'days': {
      const n = a.days ?? s.default
      if (a.trigger === 'birthday' && n === 0) return t('automations.onBirthday')
      return t(`automations.describe.${a.trigger}`, { n })
    }
    case 'threshold_pct':
      return t(`automations.describe.${a.trigger}`, { n: a.threshold ?? s.default })
    case 'threshold_yuan':
      return t(`automations.describe.${a.trigger}`, { n: formatFen(a.threshold ?? Math.round(s.default * 100)) })
    default:
      return triggerLabel(a.trigger)
  }
}

/** How long before the same member may be reached again, in words: "同一会员间隔 30 天", "每位会员仅一次". */
export function describeCooldown(days: number): string {
  const { t } = i18n.global
  if (days >= ONCE_EVER) return t('automations.onceEver')
  return days === 0 ? t('automations.noCooldown') : t('automations.cooldownShown', { days })
}

/** The cooldown the server applies when the field is left empty, as the field's placeholder. */
export function cooldownPlaceholder(trigger: Trigger): string {
  const { cooldown } = triggerSpec(trigger)
  const { t } = i18n.global
  return cooldown >= ONCE_EVER ? t('automations.cooldownOnce') : t('automations.cooldownDefault', { days: cooldown })
}

/** An automation being set up, as the form holds it: the parameter in the unit typed (days, percent, yuan). */
export interface AutomationDraft {
  name: string
  trigger: Trigger
  /** Days, percent or yuan as the trigger takes; null leaves it to the server's default. */
  param: number | null
  segment_id: number | null
  coupon_template_id: number | null
  sms_template_id: number | null
  message_title: string
  message_body: string
  /** The control group's share in percent (10 = 10%). */
  control_pct: number
  /** Null leaves it to the trigger's default. */
  cooldown_days: number | null
}

export function blankDraft(trigger: Trigger = 'win_back'): AutomationDraft {
  return {
    name: '',
    trigger,
    param: triggerSpec(trigger).param ? triggerSpec(trigger).default : null,
    segment_id: null,
    coupon_template_id: null,
    sms_template_id: null,
    message_title: '',
    message_body: '',
    control_pct: 10,
    cooldown_days: null,
  }
}

/** Whether the form can be sent: a name, and a segment for a recurring automation (the server checks the rest). */
export function draftReady(d: AutomationDraft): boolean {
  return d.name.trim() !== '' && (!triggerSpec(d.trigger).needsSegment || d.segment_id !== null)
}

/** The request the api reads: only its fields, the parameter where the trigger takes it (a balance in fen, a percent
 * as is), null for what is unused or left to the server's default; the message only with a title or a body. */
export function requestOf(d: AutomationDraft): Schemas['AutomationRequest'] {
  const { param } = triggerSpec(d.trigger)
  const value = d.param === null || !Number.isFinite(d.param) ? null : d.param
  const hasMessage = d.message_title.trim() !== '' || d.message_body.trim() !== ''
  return {
    name: d.name.trim(),
    trigger: d.trigger,
    days: param === 'days' && value !== null ? Math.round(value) : null,
    threshold:
      value === null ? null : param === 'threshold_pct' ? Math.round(value) : param === 'threshold_yuan' ? Math.round(value * 100) : null,
    segment_id: d.segment_id,
    coupon_template_id: d.coupon_template_id,
    message_title: hasMessage ? d.message_title.trim() : null,
    message_body: hasMessage ? d.message_body.trim() : null,
    sms_template_id: d.sms_template_id,
    control_bp: Math.round(d.control_pct * 100),
    cooldown_days: d.cooldown_days === null || !Number.isFinite(d.cooldown_days) ? null : Math.round(d.cooldown_days),
  }
}
