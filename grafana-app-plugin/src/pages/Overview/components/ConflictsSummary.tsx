import React, { useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Alert, Badge, type BadgeColor, Button, TextLink, useStyles2 } from '@grafana/ui';
import type { Conflict } from '../../../api/types';
import { timeAgo } from '../../../utils/format';
import { subnetUrl } from '../../../utils/utils.routing';
import { testIds } from '../../../components/testIds';
import { VrfChip, useVrfs } from '../../../components/VrfChip';
import { GLOBAL_VRF } from '../../../constants';

const KIND: Record<Conflict['kind'], { label: string; color: BadgeColor }> = {
  mac_mismatch: { label: 'MAC mismatch', color: 'red' },
  unknown_device: { label: 'Unknown device', color: 'orange' },
  stale_reservation: { label: 'Stale reservation', color: 'blue' },
};

const SHOWN = 8;

/** Conflicts from discovery: badges by kind and the first few, each linking to its address. */
export function ConflictsSummary({ conflicts }: { conflicts: Conflict[] }) {
  const styles = useStyles2(getStyles);
  const [all, setAll] = useState(false);
  // A conflict outside the global VRF names its VRF: the same address may be in several.
  const vrfs = useVrfs(conflicts.some((c) => c.vrf_id !== GLOBAL_VRF.id));
  if (conflicts.length === 0) {
    return null;
  }
  const counts = new Map<Conflict['kind'], number>();
  conflicts.forEach((c) => counts.set(c.kind, (counts.get(c.kind) ?? 0) + 1));
  const shown = all ? conflicts : conflicts.slice(0, SHOWN);
  return (
    <Alert
      severity="warning"
      title={`${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'} need a look`}
      data-testid={testIds.overview.conflicts}
    >
      <div className={styles.badges}>
        {[...counts.entries()].map(([kind, n]) => (
          <Badge key={kind} color={KIND[kind]?.color ?? 'darkgrey'} text={`${KIND[kind]?.label ?? kind}: ${n}`} />
        ))}
      </div>
      <ul className={styles.list}>
        {shown.map((c) => (
          <li key={`${c.kind}-${c.vrf_id}-${c.address_id}`}>
            <Badge color={KIND[c.kind]?.color ?? 'darkgrey'} text={KIND[c.kind]?.label ?? c.kind} />{' '}
            {c.vrf_id !== GLOBAL_VRF.id && (
              <>
                <VrfChip vrfId={c.vrf_id} vrfs={vrfs} />{' '}
              </>
            )}
            {c.subnet_id !== null ? (
              <TextLink href={subnetUrl(c.subnet_id, { address: c.address_id })} inline>
                {c.address}
              </TextLink>
            ) : (
              <strong>{c.address}</strong>
            )}{' '}
            {c.message}
            {c.since && <span className={styles.since}> · since {timeAgo(c.since)}</span>}
          </li>
        ))}
      </ul>
      {conflicts.length > SHOWN && (
        <Button size="sm" variant="secondary" fill="text" onClick={() => setAll(!all)}>
          {all ? 'Show fewer' : `Show all ${conflicts.length}`}
        </Button>
      )}
    </Alert>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  badges: css({
    display: 'flex',
    gap: theme.spacing(1),
    flexWrap: 'wrap',
    marginBottom: theme.spacing(1),
  }),
  list: css({
    listStyle: 'none',
    margin: 0,
    padding: 0,
    li: {
      padding: theme.spacing(0.25, 0),
    },
  }),
  since: css({
    color: theme.colors.text.secondary,
  }),
});
