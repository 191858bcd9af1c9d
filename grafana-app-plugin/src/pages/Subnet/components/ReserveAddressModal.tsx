import React, { useState } from 'react';
import { Alert, Field, Input, Modal } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../../api/client';
import type { Address } from '../../../api/types';
import { SubmitRow } from '../../../components/SubmitRow';

interface Props {
  address: string;
  onDismiss: () => void;
  onReserved: (address: Address) => void;
}

/** Reserves one chosen free address (from an expanded gap row). */
export function ReserveAddressModal({ address, onDismiss, onReserved }: Props) {
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
