import React, { useState } from 'react';
import { Alert, Field, Input, Modal, Stack, Text } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../../api/client';
import type { Address, Vrf } from '../../../api/types';
import { SubmitRow } from '../../../components/SubmitRow';
import { VrfChip } from '../../../components/VrfChip';
import { vrfOf } from '../../../utils/vrf';

interface Props {
  address: string;
  /** The VRF of the subnet the address is in (#15): the address is recorded there. */
  vrfId: number;
  vrfs: Vrf[] | undefined;
  onDismiss: () => void;
  onReserved: (address: Address) => void;
}

/** Reserves one chosen free address (from an expanded gap row). */
export function ReserveAddressModal({ address, vrfId, vrfs, onDismiss, onReserved }: Props) {
  const [hostname, setHostname] = useState('');
  const [owner, setOwner] = useState('');
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const created = await api.createAddress(address, {
        hostname: hostname.trim() || undefined,
        owner: owner.trim() || undefined,
        description: description.trim() || undefined,
        ...vrfOf(vrfId),
      });
      onReserved(created);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={`Reserve ${address}`} isOpen onDismiss={onDismiss}>
      <form onSubmit={submit}>
        <Stack gap={1} alignItems="center">
          <Text color="secondary">In</Text>
          <VrfChip vrfId={vrfId} vrfs={vrfs} />
        </Stack>
        {error && (
          <Alert severity="error" title={`${address} was not reserved`}>
            {explain(error)}
          </Alert>
        )}
        <Field label="Hostname">
          <Input
            id="reserve-one-hostname"
            value={hostname}
            autoFocus
            placeholder="web-1"
            onChange={(e) => setHostname(e.currentTarget.value)}
          />
        </Field>
        <Field label="Owner">
          <Input
            id="reserve-one-owner"
            value={owner}
            placeholder="team or person"
            onChange={(e) => setOwner(e.currentTarget.value)}
          />
        </Field>
        <Field label="Description">
          <Input
            id="reserve-one-description"
            value={description}
            onChange={(e) => setDescription(e.currentTarget.value)}
          />
        </Field>
        <SubmitRow label={`Reserve ${address}`} busy={busy} onCancel={onDismiss} icon="lock" />
      </form>
    </Modal>
  );
}
