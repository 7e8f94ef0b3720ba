import type { AnalyticsView } from '../../../../src/api/views';

type Point = AnalyticsView['series'][number];

const W = 600;
const H = 140;
const PAD = { left: 44, right: 8, top: 8, bottom: 22 };

/**
 * "16:00" today, "Dec 6 16:15" on another day (a 24 h window starts yesterday), "Dec 7" for the
 * 7-day window; 24-hour times like the access log's.
 */
function tick(ms: number, long: boolean): string {
  const d = new Date(ms);
  if (long) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

/** A round axis maximum at or above `v` (1, 2, 5 × 10^n). */
export function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function Axes({ max, unit, series, long }: { max: number; unit: string; series: Point[]; long: boolean }) {
  const first = series[0]?.time ?? 0;
  const last = series[series.length - 1]?.time ?? 0;
  return (
    <g className="text-slate-500" fontSize="10" fill="currentColor">
      <line x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} stroke="#cbd5e1" />
      <line x1={PAD.left} x2={W - PAD.right} y1={PAD.top} y2={PAD.top} stroke="#f1f5f9" />
      <text x={PAD.left - 4} y={PAD.top + 8} textAnchor="end">
        {max}
        {unit}
      </text>
      <text x={PAD.left - 4} y={H - PAD.bottom} textAnchor="end">
        0
      </text>
      <text x={PAD.left} y={H - 6}>
        {tick(first, long)}
      </text>
      <text x={W - PAD.right} y={H - 6} textAnchor="end">
        {tick(last, long)}
      </text>
    </g>
  );
}

/** Requests per bucket as bars, the 5xx share of each in red (plain SVG, no library). */
export function RequestsChart({ series, long }: { series: Point[]; long: boolean }) {
  const max = niceMax(Math.max(0, ...series.map((p) => p.requests)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bw = plotW / Math.max(1, series.length);
  const y = (v: number) => (v / max) * plotH;
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      className="h-auto w-full"
      role="img"
      aria-label="Requests over time, server errors in red"
      data-testid="chart-requests"
    >
      <Axes max={max} unit="" series={series} long={long} />
      {series.map((p, i) => (
        <g key={p.time}>
          <title>{`${new Date(p.time).toLocaleString()}: ${p.requests} requests, ${p.errors_5xx} 5xx, ${p.errors_4xx} 4xx`}</title>
          <rect
            x={PAD.left + i * bw + bw * 0.1}
            width={Math.max(1, bw * 0.8)}
            y={H - PAD.bottom - y(p.requests)}
            height={y(p.requests)}
            fill="#0ea5e9"
          />
          <rect
            x={PAD.left + i * bw + bw * 0.1}
            width={Math.max(1, bw * 0.8)}
            y={H - PAD.bottom - y(p.errors_5xx)}
            height={y(p.errors_5xx)}
            fill="#dc2626"
            data-testid={p.errors_5xx ? 'bar-5xx' : undefined}
          />
        </g>
      ))}
    </svg>
  );
}

/** Average request duration per bucket as a line (gaps where there were no requests). */
export function LatencyChart({ series, long }: { series: Point[]; long: boolean }) {
  const max = niceMax(Math.max(0, ...series.map((p) => p.avg_ms ?? 0)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / Math.max(1, series.length);
  let d = '';
  let pen = false;
  series.forEach((p, i) => {
    if (p.avg_ms === null) {
      pen = false;
      return;
    }
    const x = PAD.left + i * step + step / 2;
    const yy = H - PAD.bottom - (p.avg_ms / max) * plotH;
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${yy.toFixed(1)} `;
    pen = true;
  });
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      className="h-auto w-full"
      role="img"
      aria-label="Average request duration over time"
      data-testid="chart-latency"
    >
      <Axes max={max} unit=" ms" series={series} long={long} />
      <path d={d} fill="none" stroke="#7c3aed" strokeWidth="1.5" />
      {series.map((p, i) =>
        p.avg_ms === null ? null : (
          <circle
            key={p.time}
            cx={PAD.left + i * step + step / 2}
            cy={H - PAD.bottom - (p.avg_ms / max) * plotH}
            r="2"
            fill="#7c3aed"
          >
            <title>{`${new Date(p.time).toLocaleString()}: ${p.avg_ms} ms on average`}</title>
          </circle>
        ),
      )}
    </svg>
  );
}
