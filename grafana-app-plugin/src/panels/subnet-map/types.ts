export type { SubnetMapOptions } from '../../components/SubnetMap/SubnetMap';
