// Money arrives as integer fen; members read yuan. The server prices; the app shows.

/** ￥12.34 (and -￥12.34) from fen. */
export function formatFen(fen: number): string {
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(Math.trunc(fen))
  return `${sign}￥${Math.floor(abs / 100).toLocaleString('en-US')}.${String(abs % 100).padStart(2, '0')}`
}

/** "12.3" yuan as typed → 1230 fen; null when it is not an amount of at most two decimals. */
export function parseYuan(text: string): number | null {
  const match = /^\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$/.exec(text)
  if (!match) return null
  return Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'))
}

/** What a level gives, as members read it: 9000 bp → "9折", 9500 → "9.5折", 8850 → "8.85折"; none at 10000. */
export function discountLabel(bp: number): string | null {
  if (bp >= 10_000 || bp <= 0) return null
  return `${String(bp / 1000).replace(/\.?0+$/, '')}折`
}
