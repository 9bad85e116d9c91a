// Saves what the console made (a member's record, a batch of codes) or fetched (a report as a spreadsheet) as a file on
// the staff member's computer.

export function downloadFile(name: string, content: string, type: string): void {
  downloadBlob(name, new Blob([content], { type }))
}

export function downloadBlob(name: string, blob: Blob): void {
  const link = document.createElement('a')
  link.href = URL.createObjectURL(blob)
  link.download = name
  link.click()
  URL.revokeObjectURL(link.href)
}
