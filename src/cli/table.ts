// Go text/tabwriter layout, as istioctl prints tables: column = widest cell + padding, last column not padded.

export function formatTable(rows: ReadonlyArray<ReadonlyArray<string>>, padding = 1): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i < row.length - 1) widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) => row.map((cell, i) => (i < row.length - 1 ? cell.padEnd((widths[i] ?? 0) + padding) : cell)).join(""))
    .map((line) => `${line}\n`)
    .join("");
}
