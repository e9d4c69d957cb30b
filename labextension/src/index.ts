import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mlprod-nb:plugin',
  description: 'mlprod-nb lineage panel',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const w = new Widget();
    w.id = 'mlprod-nb-panel';
    w.title.caption = 'mlprod-nb';
    w.title.label = 'ML';
    w.addClass('mlprod-Panel');
    w.node.textContent = 'mlprod-nb';
    app.shell.add(w, 'left', { rank: 600 });
    restorer?.add(w, w.id);
  }
};

export default plugin;
