// Money crosses the wire as integer fen; people read and type yuan. Nothing here prices anything: the server does.

const MAX_FEN = 100_000_000_00 // ￥100,000,000.00, beyond anything a store takes at once

/** ￥12.34 (and -￥12.34) from fen. */
export function formatFen(fen: number): string {
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(Math.trunc(fen))
  const yuan = Math.floor(abs / 100).toLocaleString('en-US')
  const cents = String(abs % 100).padStart(2, '0')
  return `${sign}￥${yuan}.${cents}`
}

/**
 * Fen from what a person typed in yuan: "12", "12.3", "12.34", "￥1,234.50". Null for anything else (letters,
 * a third decimal, a negative amount, more than ￥100,000,000): the form says so instead of guessing.
 */
export function parseYuan(input: string): number | null {
  const text = input.trim().replace(/^[￥¥]/, '').replace(/,/g, '').trim()
  const match = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(text)
  if (!match) return null
  const whole = Number(match[1])
  const cents = Number((match[2] ?? '').padEnd(2, '0'))
  const fen = whole * 100 + cents
  return fen <= MAX_FEN ? fen : null
}

/** Yuan as typed in an input from fen ("12.34", "12" for whole yuan). */
export function fenToInput(fen: number): string {
  return fen % 100 === 0 ? String(fen / 100) : (fen / 100).toFixed(2)
}
