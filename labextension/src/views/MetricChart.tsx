import React from 'react';

import { MlprodAPI } from '../api';
import { chartAxis } from '../compare';
import { formatValue, shortId } from '../format';
import { metricNames, metricSeries } from '../model';

const WIDTH = 300;
const HEIGHT = 150;
const LEFT = 44; // room for the tick labels
const RIGHT = 22; // room for the last run's label
const TOP = 16; // room for the value above the highest dot
const BOTTOM = 30; // run labels and the x axis title

/** One metric across runs, oldest first: axes with ticks, each run labelled, each value shown. */
export function MetricChart(props: {
  runs: MlprodAPI.IRun[];
  metric: string | null;
  onMetric: (name: string) => void;
}): JSX.Element | null {
  const names = metricNames(props.runs);
  if (names.length === 0 || !props.metric) {
    return null;
  }
  const series = metricSeries(props.runs, props.metric);
  const axis = chartAxis(series.map(p => p.value));
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const x = (i: number) =>
    LEFT + (series.length > 1 ? (i * plotWidth) / (series.length - 1) : plotWidth / 2);
  const y = (v: number) => TOP + plotHeight - ((v - axis.min) * plotHeight) / (axis.max - axis.min);
  const every = Math.ceil(series.length / 6); // at most six run labels fit
  return (
    <div className="mlprod-Chart">
      <label>
        chart{' '}
        <select value={props.metric} onChange={e => props.onMetric(e.target.value)}>
          {names.map(name => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <svg
        className="mlprod-ChartSvg"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        width="100%"
        style={{ maxWidth: WIDTH }}
        role="img"
        aria-label={`${props.metric} across runs, oldest first`}
      >
        {axis.ticks.map(tick => (
          <g key={tick} className="mlprod-ChartTick">
            <line x1={LEFT} x2={WIDTH - RIGHT} y1={y(tick)} y2={y(tick)} />
            <text x={LEFT - 4} y={y(tick)} textAnchor="end" dominantBaseline="middle">
              {String(Number(tick.toPrecision(6)))}
            </text>
          </g>
        ))}
        <line className="mlprod-ChartAxis" x1={LEFT} x2={LEFT} y1={TOP} y2={TOP + plotHeight} />
        <line
          className="mlprod-ChartAxis"
          x1={LEFT}
          x2={WIDTH - RIGHT}
          y1={TOP + plotHeight}
          y2={TOP + plotHeight}
        />
        <text
          className="mlprod-ChartTitle"
          transform={`translate(10 ${TOP + plotHeight / 2}) rotate(-90)`}
          textAnchor="middle"
        >
          {props.metric}
        </text>
        <text className="mlprod-ChartTitle" x={LEFT + plotWidth / 2} y={HEIGHT - 2} textAnchor="middle">
          runs, oldest first
        </text>
        <polyline
          className="mlprod-ChartLine"
          points={series.map((p, i) => `${x(i)},${y(p.value)}`).join(' ')}
        />
        {series.map((p, i) => (
          <g key={p.id} className="mlprod-ChartPoint" data-run-id={p.id}>
            <circle className="mlprod-ChartDot" cx={x(i)} cy={y(p.value)} r={3}>
              <title>
                {p.id}: {props.metric} = {formatValue(p.value)}
              </title>
            </circle>
            <text className="mlprod-ChartValue" x={x(i)} y={y(p.value) - 6} textAnchor="middle">
              {formatValue(p.value)}
            </text>
            {i % every === 0 && (
              <text
                className="mlprod-ChartLabel"
                x={x(i)}
                y={TOP + plotHeight + 11}
                textAnchor="middle"
              >
                {shortId(p.id).slice(0, 6)}
              </text>
            )}
          </g>
        ))}
      </svg>
    </div>
  );
}
