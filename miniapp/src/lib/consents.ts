// The member's answers about marketing, one per purpose: 营销消息 (marketing at all), 短信营销 (by SMS) and 个性化推荐
// (campaigns choosing them by their characteristics, PIPL art. 24). The server keeps the answers and decides every
// send; this only says what a switch shows and how the page words it, by the same rules the server sends by:
// - in-app messages stop only on a no to 营销消息; an SMS needs a yes to 营销消息 and no no to 短信营销;
// - a no to 个性化推荐 stops every campaign message (campaigns pick their audience by characteristics).

import type { Schemas } from '@/api/client'

type Purpose = Schemas['ConsentPurpose']
type MyConsent = Schemas['MyConsentDto']

/** What each switch is called. */
export const CONSENT_LABELS: Record<Purpose, string> = {
  marketing: '营销消息',
  sms: '短信营销',
  personalised: '个性化推荐',
}

/** The member's answer in force for a purpose: true, false, or null when never asked. */
export function answerOf(consents: readonly MyConsent[], purpose: Purpose): boolean | null {
  return consents.find((c) => c.purpose === purpose)?.answer?.granted ?? null
}

/** Whether a purpose's switch shows on: the answer in force, else what the server does without one. 营销消息 shows
 * off until a yes (an SMS needs it); 短信营销 follows 营销消息 until answered (an SMS goes with a yes to 营销消息
 * unless 短信营销 is refused); 个性化推荐 shows on until refused (campaigns choose by characteristics until then). */
export function switchOn(consents: readonly MyConsent[], purpose: Purpose): boolean {
  const answer = answerOf(consents, purpose)
  if (answer !== null) return answer
  switch (purpose) {
    case 'marketing':
      return false
    case 'sms':
      return answerOf(consents, 'marketing') === true
    case 'personalised':
      return true
  }
}

/** A line under a switch when its setting does not do what it seems to on its own, else null: 短信营销 on while
 * 营销消息 is not, and 个性化推荐 off (which stops every campaign message). */
export function consentHint(consents: readonly MyConsent[], purpose: Purpose): string | null {
  if (purpose === 'sms' && switchOn(consents, 'sms') && answerOf(consents, 'marketing') !== true) {
    return '短信营销还需要开启“营销消息”：营销消息关闭时，门店不会给你发营销短信。'
  }
  if (purpose === 'personalised' && answerOf(consents, 'personalised') === false) {
    return '门店的营销活动按会员特征挑选对象，关闭后你将不会收到营销活动消息。'
  }
  return null
}

/** The short line on 我的: what the member receives, from their answers. */
export function consentSummary(consents: readonly MyConsent[]): string {
  const marketing = answerOf(consents, 'marketing')
  if (marketing === false) return '营销消息：已关闭'
  if (answerOf(consents, 'personalised') === false) return '营销消息：已关闭（不做个性化推荐）'
  if (marketing === null) return '营销消息：未设置'
  if (answerOf(consents, 'sms') === false) return '营销消息：已开启，不收短信'
  return '营销消息：已开启'
}

/** "上次设置 2026-12-07 17:30" in the phone's time zone, and how it was given when not in the app. */
export function answeredLine(answer: Schemas['ConsentDto']): string {
  const at = new Date(answer.given_at)
  const pad = (n: number) => String(n).padStart(2, '0')
  const when = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}`
  const how = answer.channel === 'sms_reply' ? ' · 通过短信回复退订' : answer.channel === 'desk' ? ' · 门店代为记录' : ''
  return `上次设置 ${when}${how}`
}
