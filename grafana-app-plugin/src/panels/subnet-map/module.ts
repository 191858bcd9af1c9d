// The subnet map panel, nested in the Lanscape app (built as panels/subnet-map/module.js; Grafana
// loads it only when a dashboard shows it). It draws the addresses frame of the Lanscape data
// source and asks the exporter nothing itself.
import { PanelPlugin } from '@grafana/data';
import { SubnetMapPanel } from './SubnetMapPanel';
import type { SubnetMapOptions } from './types';

export const plugin = new PanelPlugin<SubnetMapOptions>(SubnetMapPanel).setPanelOptions((builder) =>
  builder
    .addRadio({
      path: 'colorBy',
      name: 'Colour by',
      description: 'IPAM state (reserved, assigned, DHCP, discovered…) or up/down status',
      defaultValue: 'state',
      settings: {
        options: [
          { value: 'state', label: 'State' },
          { value: 'status', label: 'Up/down' },
        ],
      },
    })
    .addBooleanSwitch({ path: 'showLegend', name: 'Legend', defaultValue: true })
);
