// The VRF field of a write (#15): none for the global VRF (the exporter's default, and what the
// requests of a store without VRFs looked like), `vrf_id` for any other.
import { GLOBAL_VRF } from '../constants';

export function vrfOf(vrfId: number | null | undefined): { vrf_id?: number } {
  return vrfId === undefined || vrfId === null || vrfId === GLOBAL_VRF.id ? {} : { vrf_id: vrfId };
}
