import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin,
} from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { PanelModel } from './model';
import { NotebookBridge } from './notebook';
import { MlprodService } from './service';
import { MlprodPanel } from './views/Panel';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161">
<circle cx="5" cy="5" r="3"/><circle cx="19" cy="5" r="3"/><circle cx="12" cy="19" r="3"/>
<path d="M6.3 7.2l4.6 9.4 1.8-.9-4.6-9.4zM17.7 7.2l-4.6 9.4-1.8-.9 4.6-9.4z"/>
</g></svg>`;

export const lineageIcon = new LabIcon({ name: 'mlprod-nb:lineage', svgstr: ICON_SVG });

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mlprod-nb:plugin',
  description: 'Lineage, stale cells, pipeline runs and run comparison for the active notebook.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null
  ) => {
    const model = new PanelModel(new MlprodService());
    const bridge = new NotebookBridge(tracker, model, panel => app.shell.activateById(panel.id));
    const panel = new MlprodPanel(model, {
      selectCell: cellId => void bridge.selectCell(cellId),
      setTracing: on => void bridge.setTracing(on),
      setTags: (cellId, tags) => bridge.setTags(cellId, tags),
      root: PageConfig.getOption('serverRoot'),
      openPath: path => void openReadOnly(app, path),
    });
    panel.id = 'mlprod-nb-panel';
    panel.title.icon = lineageIcon;
    panel.title.caption = 'mlprod-nb: lineage and runs';
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, panel.id);
  },
};

/** Open a run's copied step notebook or log; the copy is a record, so it opens read-only. */
async function openReadOnly(app: JupyterFrontEnd, path: string): Promise<void> {
  const widget = (await app.commands.execute('docmanager:open', { path })) as
    | { context?: { model?: { readOnly: boolean } } }
    | undefined;
  if (widget?.context?.model) {
    widget.context.model.readOnly = true;
  }
}

export default plugin;
