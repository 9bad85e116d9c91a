// The day board's arithmetic: local "HH:MM" times as minutes, blocks as pixels, days in the store's zone.

export interface Span {
  from: number
  to: number
}

/** "14:30" → 870. */
export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number)
  return (h ?? 0) * 60 + (m ?? 0)
}

/**
 * Minutes into `day` ("2026-12-06") of a local RFC 3339 time as the api writes them ("2026-12-06T14:30:00+08:00"):
 * the next day's midnight is 1440, so a shift to midnight ends at the bottom of the board.
 */
export function minutesInto(day: string, local: string): number {
  const minutes = minutesOf(local.slice(11, 16))
  const date = local.slice(0, 10)
  return date > day ? minutes + 1440 : date < day ? minutes - 1440 : minutes
}

/** Where a stretch of the day (minutes into it) sits on a board showing `board`, at `px` pixels a minute. */
export function blockStyle(stretch: Span, board: Span, px: number) {
  const { from, to } = stretch
  const top = Math.max(from, board.from) - board.from
  const bottom = Math.min(to, board.to) - board.from
  return { top: `${top * px}px`, height: `${Math.max(bottom - top, 0) * px}px` }
}

/** Today's date in an IANA zone, "YYYY-MM-DD". */
export function todayIn(timeZone: string, now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now)
}

/** "2026-12-31" + 1 → "2027-01-01" (calendar arithmetic, no time zone involved). */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number)
  const next = new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + days))
  return next.toISOString().slice(0, 10)
}
