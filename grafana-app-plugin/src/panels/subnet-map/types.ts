export interface SubnetMapOptions {
  /** Fill cells by IPAM state, or by up/down status. */
  colorBy: 'state' | 'status';
  showLegend: boolean;
}
