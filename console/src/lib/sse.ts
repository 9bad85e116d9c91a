// Server-sent events over fetch: EventSource cannot send the bearer token, so checkout reads the counter's scan
// stream (`GET /bridge-devices/{id}/scans`) itself.

export interface SseEvent {
  event: string
  data: string
}

/**
 * Splits what arrived so far into complete events; returns them and the unfinished rest to prepend to the next
 * chunk. Comments (`: …`) and events without data are skipped.
 */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const blocks = buffer.replace(/\r\n/g, '\n').split('\n\n')
  const rest = blocks.pop() ?? ''
  const events: SseEvent[] = []
  for (const block of blocks) {
    let event = 'message'
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith(':') || line === '') continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') event = value
      else if (field === 'data') data.push(value)
    }
    if (data.length) events.push({ event, data: data.join('\n') })
  }
  return { events, rest }
}

/** Follows an event stream until `signal` aborts or the server ends it; calls `onEvent` for each event. */
export async function follow(url: string, token: string, onEvent: (event: SseEvent) => void, signal: AbortSignal): Promise<void> {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' }, signal })
  if (!response.ok || !response.body) throw new Error(`${response.status} ${response.statusText}`)
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    const parsed = parseSse(buffer + value)
    buffer = parsed.rest
    parsed.events.forEach(onEvent)
  }
}
