/** Parses a scenario bandwidth: a number is bits/s; strings carry a unit (bps, kbps, Mbps, Gbps, B/s, kB/s...). Returns bits/s. */
export function parseBandwidth(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKMG]?)(bps|bit\/s|B\/s)\s*$/.exec(value);
  if (m === null) throw new Error(`not a bandwidth: "${value}"`);
  const scale = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9 }[m[2] as '' | 'k' | 'K' | 'M' | 'G'];
  const bits = m[3] === 'B/s' ? 8 : 1;
  return Number(m[1]) * scale * bits;
}

export function formatBps(bps: number): string {
  if (bps >= 1e9) return `${+(bps / 1e9).toFixed(3)} Gb/s`;
  if (bps >= 1e6) return `${+(bps / 1e6).toFixed(3)} Mb/s`;
  if (bps >= 1e3) return `${+(bps / 1e3).toFixed(3)} kb/s`;
  return `${+bps.toFixed(3)} b/s`;
}
