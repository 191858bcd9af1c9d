// An address of a container or a guest, linked into IPAM: the subnet page with the address's
// drawer open when IPAM has a record, else the subnet filtered to the address; plain text when
// no subnet holds it.
import React from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Stack, TextLink, useStyles2 } from '@grafana/ui';
import type { Subnet } from '../../../api/types';
import { ipInCidr } from '../../../utils/ip';
import { subnetUrl } from '../../../utils/utils.routing';
import { testIds } from '../../../components/testIds';

/** The most specific subnet that holds `ip` (subnets nest), or undefined. */
export function subnetOf(ip: string, subnets: readonly Subnet[]): Subnet | undefined {
  let best: Subnet | undefined;
  for (const s of subnets) {
    if (ipInCidr(ip, s.cidr) && (!best || s.prefix_length > best.prefix_length)) {
      best = s;
    }
  }
  return best;
}

interface Props {
  ip: string;
  addressId: number | null;
  subnets: readonly Subnet[];
  /** Shown dimmed: not held now (a stopped container's configured address). */
  stale?: boolean;
  title?: string;
}

export function AddressLink({ ip, addressId, subnets, stale, title }: Props) {
  const styles = useStyles2(getStyles);
  const subnet = subnetOf(ip, subnets);
  const className = cx(styles.address, stale && styles.stale);
  if (!subnet) {
    return (
      <span
        className={className}
        title={title ?? 'In no subnet IPAM knows'}
        data-testid={testIds.infra.addressLink(ip)}
      >
        {ip}
      </span>
    );
  }
  const href = addressId !== null ? subnetUrl(subnet.id, { address: addressId }) : subnetUrl(subnet.id, { q: ip });
  return (
    <span
      className={className}
      title={title ?? (addressId !== null ? `${ip} in ${subnet.cidr}` : `Not recorded in ${subnet.cidr}`)}
    >
      <TextLink href={href} inline data-testid={testIds.infra.addressLink(ip)}>
        {ip}
      </TextLink>
    </span>
  );
}

/** A container's or a guest's addresses, each linked into IPAM; "none" when it has none. */
export function AddressLinks({
  addresses,
  subnets,
}: {
  addresses: Array<Omit<Props, 'subnets'> & { key: string }>;
  subnets: readonly Subnet[];
}) {
  const styles = useStyles2(getStyles);
  if (addresses.length === 0) {
    return <span className={styles.none}>none</span>;
  }
  return (
    <Stack gap={1} wrap="wrap">
      {addresses.map(({ key, ...a }) => (
        <AddressLink key={key} {...a} subnets={subnets} />
      ))}
    </Stack>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  address: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'nowrap',
  }),
  stale: css({
    opacity: 0.6,
  }),
  none: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
});
