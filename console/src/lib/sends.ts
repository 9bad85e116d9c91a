// A campaign's messages as staff read them: where each stands and why, in their words, and the server's counts per
// channel in the order a reader wants them. The server decides, sends and counts; this only orders and names.

import type { Schemas } from '@/api/client'
import { named } from '@/i18n'

export type SendChannel = Schemas['SendChannel']
export type SendStatus = Schemas['SendStatus']
export type ConsentPurpose = Schemas['ConsentPurpose']

/** SMS first (it costs money and needs a yes), then the in-app message. */
export const CHANNELS: SendChannel[] = ['sms', 'in_app']
/** What arrived, what went, what is still on its way, what is held by a paused campaign, what did not go. */
export const STATUSES: SendStatus[] = ['delivered', 'sent', 'queued', 'sending', 'unknown', 'paused', 'failed', 'skipped']
export const PURPOSES: ConsentPurpose[] = ['marketing', 'sms', 'personalised']

export function statusLabel(status: string): string {
  return named('sendStatus', status)
}

export function channelLabel(channel: string): string {
  return named('sendChannels', channel)
}

/** Why a send was skipped, held or failed: our own codes (`no_consent`, `quiet_hours`…) in words; a provider's or
 * carrier's code (`MK:0001`, `isv.BUSINESS_LIMIT_CONTROL`) as it is, since that is what its support desk asks for. */
export function reasonLabel(reason: string | null | undefined): string {
  if (!reason) return ''
  return /^[a-z_]+$/.test(reason) ? named('sendReasons', reason) : reason
}

/** The colour of a status's tag: arrived, went, waiting, held or did not go. */
export function statusType(status: string): 'success' | 'primary' | 'warning' | 'danger' | 'info' {
  switch (status) {
    case 'delivered':
      return 'success'
    case 'sent':
      return 'primary'
    case 'failed':
      return 'danger'
    case 'paused':
    case 'skipped':
      return 'info'
    default:
      return 'warning'
  }
}

export interface ChannelCounts {
  channel: SendChannel
  total: number
  counts: { status: SendStatus; count: number }[]
}

const rank = <T>(order: T[], value: T) => {
  const at = order.indexOf(value)
  return at === -1 ? order.length : at
}

/** The server's counts of a campaign's sends, grouped by channel, each channel's statuses in [`STATUSES`] order;
 * empty counts left out, a status counted twice added up. */
export function countsByChannel(sends: Schemas['SendCountDto'][]): ChannelCounts[] {
  const byChannel = new Map<SendChannel, Map<SendStatus, number>>()
  for (const { channel, status, count } of sends) {
    if (count <= 0) continue
    const statuses = byChannel.get(channel) ?? new Map<SendStatus, number>()
    statuses.set(status, (statuses.get(status) ?? 0) + count)
    byChannel.set(channel, statuses)
  }
  return [...byChannel.entries()]
    .sort(([a], [b]) => rank(CHANNELS, a) - rank(CHANNELS, b))
    .map(([channel, statuses]) => {
      const counts = [...statuses.entries()]
        .sort(([a], [b]) => rank(STATUSES, a) - rank(STATUSES, b))
        .map(([status, count]) => ({ status, count }))
      return { channel, total: counts.reduce((sum, c) => sum + c.count, 0), counts }
    })
}

/** One channel's counts in a line: "短信 已送达 12 / 跳过 3". */
export function channelSummary(counts: ChannelCounts): string {
  return `${channelLabel(counts.channel)} ${counts.counts.map((c) => `${statusLabel(c.status)} ${c.count}`).join(' / ')}`
}

/** How a consent answer was given, in words: 小程序, 前台代录, 短信回复退订. */
export function consentChannelLabel(channel: string): string {
  return named('consentChannels', channel)
}

/** The answer in force for each purpose: the last one of the member's record (which the server sends oldest first). */
export function answersInForce(record: Schemas['ConsentDto'][]): Partial<Record<ConsentPurpose, Schemas['ConsentDto']>> {
  const answers: Partial<Record<ConsentPurpose, Schemas['ConsentDto']>> = {}
  for (const answer of record) answers[answer.purpose] = answer
  return answers
}
