/** What the CLI prints: plain lines for people (coloured on a terminal), JSON for scripts. */
import { styleText } from 'node:util';

type Style = Parameters<typeof styleText>[0];

const colours = process.stdout.isTTY === true && !process.env.NO_COLOR;

export function paint(style: Style, text: string): string {
  return colours ? styleText(style, text, { validateStream: false }) : text;
}

/** A delivery status in its colour: green through, red dead, yellow still trying. */
export function statusColour(status: string): Style {
  if (status === 'succeeded' || status === 'acknowledged') return 'green';
  if (status === 'dead') return 'red';
  if (status === 'failed') return 'yellow';
  return 'gray';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON value a line: what `tail --json` streams. */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Columns padded to their widest cell; the last is not padded. */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${paint('bold', line(headers))}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}
