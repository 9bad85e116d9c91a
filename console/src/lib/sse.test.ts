import { describe, expect, it } from 'vitest'
import { parseSse } from './sse'

describe('parseSse', () => {
  it('reads whole events and keeps the unfinished rest for the next chunk', () => {
    const first = parseSse(': watching\n\nevent: scan\ndata: {"kind":"member_code"}\n\nevent: sc')
    expect(first.events).toEqual([{ event: 'scan', data: '{"kind":"member_code"}' }])
    const second = parseSse(first.rest + 'an\ndata: {"kind":"product_barcode"}\n\n')
    expect(second.events).toEqual([{ event: 'scan', data: '{"kind":"product_barcode"}' }])
    expect(second.rest).toBe('')
  })

  it('joins multi-line data, defaults the event name and accepts CRLF', () => {
    const { events } = parseSse('data: a\r\ndata: b\r\n\r\n')
    expect(events).toEqual([{ event: 'message', data: 'a\nb' }])
  })
})
