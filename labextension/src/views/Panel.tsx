import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import React from 'react';

import { buildGraph, IGraph, layoutGraph, markStale } from '../graph';
import { MlprodAPI } from '../api';
import { IDLE_POLL_MS, PanelModel, Tab } from '../model';
import { SchedulesModel } from '../schedule';
import { LineageView } from './LineageView';
import { PipelineView } from './PipelineView';
import { RunsView } from './RunsView';

/** What the panel can ask of the notebook side (the model knows no DOM). */
export interface IPanelActions {
  selectCell: (cellId: string) => void;
  setTracing: (on: boolean) => void;
  /** write a cell's tags (metadata.tags) in the current notebook */
  setTags: (cellId: string, tags: string[]) => void;
  /** the server's root folder (absolute), for shorter paths */
  root: string;
  /** open a file (path relative to the server's root) in Lab, read-only */
  openPath: (path: string) => void;
}

const TABS: { id: Tab; label: string }[] = [
  { id: 'lineage', label: 'Lineage' },
  { id: 'stale', label: 'Stale' },
  { id: 'pipeline', label: 'Pipeline' },
  { id: 'runs', label: 'Runs' },
];

/** The sidebar: renders the model, forwards clicks to the model and the actions. */
export class MlprodPanel extends ReactWidget {
  constructor(
    readonly model: PanelModel,
    private readonly _actions: IPanelActions
  ) {
    super();
    this.addClass('mlprod-Panel');
    this.schedules = new SchedulesModel(model.service);
    model.changed.connect(this._follow, this);
  }

  /** The schedules of the store the shown notebook's runs go to. */
  readonly schedules: SchedulesModel;

  dispose(): void {
    this.schedules.dispose();
    super.dispose();
  }

  /**
   * Another notebook, or the Pipeline tab opened: its schedules, fresh; while the tab is
   * shown, again with the panel's idle poll (next fire and last status move on).
   */
  private _follow(): void {
    const notebook = this.model.notebook;
    const shown = this.model.tab === 'pipeline';
    const opened = shown && this._tab !== 'pipeline';
    this._tab = this.model.tab;
    if (notebook !== this.schedules.notebook) {
      this._asked = Date.now();
      void this.schedules.setNotebook(notebook);
    } else if (opened || (shown && Date.now() - this._asked >= IDLE_POLL_MS)) {
      this._asked = Date.now();
      void this.schedules.refresh();
    }
  }

  private _tab: Tab | null = null;
  private _asked = 0;

  protected onAfterShow(): void {
    this.model.setVisible(true);
  }

  protected onAfterHide(): void {
    this.model.setVisible(false);
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => (
          <PanelBody
            model={this.model}
            actions={this._actions}
            graph={this._graph()}
            schedules={this.schedules}
          />
        )}
      </UseSignal>
    );
  }

  /**
   * Lay out again only when the lineage itself changed, keeping what did not move (so
   * only changed nodes redraw); the stale marks follow the stale list (an input file
   * changed, say) without a new layout.
   */
  private _graph(): IGraph | null {
    const lineage = this.model.lineage;
    if (lineage !== this._laidOutFor) {
      this._laidOutFor = lineage;
      this._laidOut = lineage ? layoutGraph(buildGraph(lineage), this._laidOut) : null;
      this._markedFor = null;
    }
    const stale = this.model.stale;
    if (this._laidOut && lineage && stale !== this._markedFor) {
      this._markedFor = stale;
      this._laidOut = markStale(this._laidOut, lineage, stale);
    }
    return this._laidOut;
  }

  private _laidOutFor: MlprodAPI.ILineage | null = null;
  private _laidOut: IGraph | null = null;
  private _markedFor: MlprodAPI.IStaleCell[] | null = null;
}

function PanelBody(props: {
  model: PanelModel;
  actions: IPanelActions;
  graph: IGraph | null;
  schedules: SchedulesModel;
}): JSX.Element {
  const { model, actions } = props;
  if (!model.notebook) {
    return <div className="mlprod-Empty">Open a notebook to see its lineage, stale cells and runs.</div>;
  }
  const staleCount = model.stale.length;
  return (
    <div className="mlprod-Body">
      <div className="mlprod-Header">
        <div className="mlprod-Title" title={model.notebook}>
          {model.notebook}
        </div>
        <label
          className="mlprod-Tracing"
          title="Record this notebook's cell executions (stored in the notebook's metadata)"
        >
          <input
            type="checkbox"
            checked={model.tracing}
            onChange={e => actions.setTracing(e.target.checked)}
          />{' '}
          tracing {model.tracing ? 'on' : 'off'}
        </label>
        <button
          className="jp-mod-styled mlprod-Refresh"
          title="Refresh"
          onClick={() => void model.refresh()}
        >
          ⟳
        </button>
      </div>
      <div className="mlprod-Tabs" role="tablist">
        {TABS.map(tab => (
          <button
            key={tab.id}
            role="tab"
            aria-selected={model.tab === tab.id}
            className={`mlprod-Tab ${model.tab === tab.id ? 'mlprod-mod-active' : ''}`}
            data-tab={tab.id}
            onClick={() => model.setTab(tab.id)}
          >
            {tab.label}
            {tab.id === 'stale' && staleCount > 0 && (
              <span className="mlprod-Count">{staleCount}</span>
            )}
          </button>
        ))}
      </div>
      {model.busy && <div className="mlprod-Busy">{model.busy}…</div>}
      {model.error && <div className="mlprod-Error">{model.error}</div>}
      <div className="mlprod-Content">
        {model.tab === 'lineage' && (
          <LineageView
            graph={props.graph}
            activeCell={model.activeCell?.id ?? null}
            dataset={model.dataset}
            labelOf={id => model.labelOfExecution(id)}
            onCell={actions.selectCell}
            onDataset={path => model.selectDataset(path)}
            notice={model.notice}
            root={actions.root}
          />
        )}
        {model.tab === 'stale' && (
          <StaleView
            stale={model.stale}
            labelOf={id => model.labelOfExecution(id)}
            order={model.staleOrder}
            onOrder={order => void model.setStaleOrder(order)}
            onCell={actions.selectCell}
          />
        )}
        {model.tab === 'pipeline' && (
          <PipelineView
            pipeline={model.pipeline}
            exportResult={model.exportResult}
            pipelinePath={model.pipelinePath}
            activeRun={model.activeRun}
            busy={model.busy !== null}
            onCell={actions.selectCell}
            onExport={check => void model.exportPipeline(check)}
            onRun={values => void model.startRun(values)}
            activeCell={model.activeCell}
            onTags={actions.setTags}
            checkedUnsaved={model.checkedUnsaved}
            cellsOf={problem => model.cellsOfProblem(problem)}
            labelOf={cell => model.labelOfCell(cell)}
            schedules={props.schedules}
            onShowRun={id => model.showRun(id)}
          />
        )}
        {model.tab === 'runs' && (
          <RunsView
            runs={model.runs}
            selected={model.selectedRuns}
            comparison={model.comparison}
            differencesOnly={model.differencesOnly}
            chartMetric={model.chartMetric}
            busy={model.busy !== null}
            onToggle={id => model.toggleRun(id)}
            onCompare={() => void model.compareSelected()}
            onDifferencesOnly={on => model.setDifferencesOnly(on)}
            onChartMetric={name => model.setChartMetric(name)}
            sort={model.runsSort}
            onSort={key => model.sortRunsBy(key)}
            onBaseline={id => void model.setBaseline(id)}
            onCancel={id => void model.cancelRun(id)}
            onRerun={id => void model.rerun(id)}
            onOpen={(id, what) => void model.openRunFile(id, what, actions.openPath)}
          />
        )}
      </div>
    </div>
  );
}

const STALE_STATES: Record<string, string> = {
  downstream: 'downstream of a stale cell',
  order: 'out of order: Run All would fail here',
};

function StaleView(props: {
  stale: MlprodAPI.IStaleCell[];
  labelOf: (executionId: string) => string;
  order: MlprodAPI.StaleOrder;
  onOrder: (order: MlprodAPI.StaleOrder) => void;
  onCell: (cellId: string) => void;
}): JSX.Element {
  const toggle = (
    <label
      className="mlprod-StaleOrder"
      title={
        'Off: would Run All from the top change what a cell saw? ' +
        'On: any later re-binding by another cell counts, wherever it is on the page'
      }
    >
      <input
        type="checkbox"
        checked={props.order === 'any'}
        onChange={event => props.onOrder(event.currentTarget.checked ? 'any' : 'run-all')}
      />{' '}
      I work out of order (live namespace)
    </label>
  );
  if (props.stale.length === 0) {
    return (
      <div>
        {toggle}
        <div className="mlprod-Empty">No stale cells: every cell ran on its current inputs.</div>
      </div>
    );
  }
  return (
    <div>
      {toggle}
      <ul className="mlprod-StaleList">
        {props.stale.map(cell => (
          <li key={cell.execution} data-cell-id={cell.cell_id ?? ''}>
            <button
              className="mlprod-Chip mlprod-Chip-stale"
              disabled={!cell.cell_id}
              onClick={() => cell.cell_id && props.onCell(cell.cell_id)}
            >
              {props.labelOf(cell.execution)}
            </button>
            {cell.state && cell.state !== 'stale' && (
              <span className={`mlprod-StaleState mlprod-StaleState-${cell.state}`}>
                {STALE_STATES[cell.state]}
              </span>
            )}
            <ul>
              {cell.reasons.map((reason, i) => (
                <li key={i} className={`mlprod-Reason mlprod-Reason-${reason.kind}`}>
                  {reason.detail}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </div>
  );
}
