// Saves what the console made (a member's record, a batch of codes) as a file on the staff member's computer.

export function downloadFile(name: string, content: string, type: string): void {
  const link = document.createElement('a')
  link.href = URL.createObjectURL(new Blob([content], { type }))
  link.download = name
  link.click()
  URL.revokeObjectURL(link.href)
}
