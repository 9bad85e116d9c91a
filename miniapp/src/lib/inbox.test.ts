import { describe, expect, it } from 'vitest'
import type { Schemas } from '@/api/client'
import { markedRead, messageDate, popupMessage, unreadCount } from './inbox'

const message = (id: number, created_at: string, read_at: string | null = null): Schemas['InboxMessageDto'] => ({
  id,
  title: `消息 ${id}`,
  body: '正文',
  created_at,
  read_at,
})

describe('popupMessage', () => {
  it('pops up the newest unread message, whatever the order', () => {
    const list = [
      message(1, '2026-12-01T02:00:00Z'),
      message(3, '2026-12-05T02:00:00Z', '2026-12-05T03:00:00Z'),
      message(2, '2026-12-03T02:00:00Z'),
    ]
    expect(popupMessage(list)?.id).toBe(2)
    expect(popupMessage([...list].reverse())?.id).toBe(2)
  })
  it('breaks a tie in time by the later id', () => {
    expect(popupMessage([message(4, '2026-12-01T02:00:00Z'), message(5, '2026-12-01T02:00:00Z')])?.id).toBe(5)
  })
  it('pops up nothing when all are read, and never the same message twice', () => {
    expect(popupMessage([message(1, '2026-12-01T02:00:00Z', '2026-12-01T03:00:00Z')])).toBeNull()
    expect(popupMessage([])).toBeNull()
    const list = [message(1, '2026-12-01T02:00:00Z'), message(2, '2026-12-03T02:00:00Z')]
    expect(popupMessage(list, new Set([2]))?.id).toBe(1)
    expect(popupMessage(list, new Set([1, 2]))).toBeNull()
  })
})

describe('unreadCount and markedRead', () => {
  it('counts unread messages and marks only the one tapped', () => {
    const list = [message(1, '2026-12-01T02:00:00Z'), message(2, '2026-12-03T02:00:00Z'), message(3, '2026-12-04T02:00:00Z', '2026-12-04T05:00:00Z')]
    expect(unreadCount(list)).toBe(2)
    const at = new Date('2026-12-06T08:00:00Z')
    const after = markedRead(list, 2, at)
    expect(unreadCount(after)).toBe(1)
    expect(after.map((m) => m.read_at)).toEqual([null, '2026-12-06T08:00:00.000Z', '2026-12-04T05:00:00Z'])
    // Already read: keeps when; the list given is not changed.
    expect(markedRead(list, 3, at)[2]?.read_at).toBe('2026-12-04T05:00:00Z')
    expect(list[1]?.read_at).toBeNull()
  })
})

describe('messageDate', () => {
  it('shows the local date, padded', () => {
    expect(messageDate(new Date(2026, 0, 5, 23, 59).toISOString())).toBe('2026-01-05')
    expect(messageDate(new Date(2026, 11, 31, 0, 1).toISOString())).toBe('2026-12-31')
  })
})
