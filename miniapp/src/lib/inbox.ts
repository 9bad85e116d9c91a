// The member's inbox: what the store's campaigns said to them. An unread message pops up once on the card (newest
// only); the inbox page lists them all. The server keeps what was read; this only chooses and words.

import type { Schemas } from '@/api/client'

type Message = Schemas['InboxMessageDto']

/** Whether the member has not read it yet. */
export function unread(message: Message): boolean {
  return !message.read_at
}

/** How many are unread. */
export function unreadCount(messages: readonly Message[]): number {
  return messages.filter(unread).length
}

/** The message to pop up: the newest unread one not already popped up in this run of the app, else none. The api
 * lists newest first; this does not rely on it. */
export function popupMessage(messages: readonly Message[], popped: ReadonlySet<number> = new Set()): Message | null {
  let newest: Message | null = null
  for (const m of messages) {
    if (!unread(m) || popped.has(m.id)) continue
    if (!newest || newerThan(m, newest)) newest = m
  }
  return newest
}

function newerThan(a: Message, b: Message): boolean {
  const [at, bt] = [Date.parse(a.created_at), Date.parse(b.created_at)]
  return at !== bt ? at > bt : a.id > b.id
}

/** The list after one message was marked read `at` (a message already read keeps when it was read). */
export function markedRead(messages: readonly Message[], id: number, at: Date): Message[] {
  return messages.map((m) => (m.id === id && unread(m) ? { ...m, read_at: at.toISOString() } : m))
}

/** "2026-12-06T17:30:00Z" → "2026-12-07" in the phone's time zone (members read their own local date). */
export function messageDate(iso: string): string {
  const at = new Date(iso)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`
}
