// Money arrives as integer fen; members read yuan. The server prices; the app shows.

/** ￥12.34 (and -￥12.34) from fen. */
export function formatFen(fen: number): string {
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(Math.trunc(fen))
  return `${sign}￥${Math.floor(abs / 100).toLocaleString('en-US')}.${String(abs % 100).padStart(2, '0')}`
}
