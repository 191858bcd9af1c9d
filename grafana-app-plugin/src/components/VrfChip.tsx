// Which VRF (address space, #15) a subnet or address belongs to: a theme-aware chip with its name.
// The same CIDR may exist in several VRFs, so pages that show one subnet say which one it is.
import React from 'react';
import { Badge } from '@grafana/ui';
import { api } from '../api/client';
import { useApi } from '../api/hooks';
import type { Vrf } from '../api/types';
import { GLOBAL_VRF } from '../constants';
import { testIds } from './testIds';

/** The VRFs, read only when a VRF other than the global one is to be named (its name is known). */
export function useVrfs(wanted: boolean): Vrf[] | undefined {
  return useApi(() => (wanted ? api.vrfs().then((p) => p.results) : Promise.resolve(undefined)), [wanted]).data;
}

/** A VRF's name from the list; the global one without it; "#id" while the list is missing. */
export function vrfName(vrfId: number, vrfs: Vrf[] | undefined): string {
  return vrfs?.find((v) => v.id === vrfId)?.name ?? (vrfId === GLOBAL_VRF.id ? GLOBAL_VRF.name : `#${vrfId}`);
}

export function VrfChip({ vrfId, vrfs }: { vrfId: number; vrfs: Vrf[] | undefined }) {
  const name = vrfName(vrfId, vrfs);
  const description = vrfs?.find((v) => v.id === vrfId)?.description;
  return (
    <Badge
      color={vrfId === GLOBAL_VRF.id ? 'blue' : 'purple'}
      icon="layer-group"
      text={`VRF ${name}`}
      tooltip={`VRF (address space) ${name}${description ? `: ${description}` : ''}. The same addresses may exist in other VRFs.`}
      data-testid={testIds.vrfChip}
      data-vrf={name}
    />
  );
}
