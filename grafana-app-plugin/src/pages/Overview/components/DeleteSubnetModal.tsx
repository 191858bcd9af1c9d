import React, { useState } from 'react';
import { Alert, ConfirmModal, Stack, Text } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../../api/client';
import type { Subnet } from '../../../api/types';
import { formatCount } from '../../../utils/format';

interface Props {
  subnet: Subnet;
  onDismiss: () => void;
  onDeleted: () => void;
}

/** Deletes a subnet; when the exporter refuses (409, it would orphan addresses) offers force. */
export function DeleteSubnetModal({ subnet, onDismiss, onDeleted }: Props) {
  const [error, setError] = useState<ApiError>();
  const force = error?.status === 409;

  const confirm = async () => {
    try {
      await api.deleteSubnet(subnet.id, force);
      onDeleted();
    } catch (e) {
      setError(toApiError(e));
    }
  };

  const known = subnet.utilization.used;
  const body = (
    <Stack direction="column" gap={1}>
      <Text>
        Delete {subnet.cidr}
        {subnet.name ? ` (${subnet.name})` : ''}? Its ranges go with it.
        {subnet.children > 0 ? ` Its ${subnet.children} child subnet(s) stay and move up a level.` : ''}
      </Text>
      {known > 0 && !error && (
        <Text color="secondary">
          It holds {formatCount(known)} used address(es); the exporter keeps addresses unless you force the delete.
        </Text>
      )}
      {error && (
        <Alert
          severity={force ? 'warning' : 'error'}
          title={force ? 'The subnet still has addresses' : 'The subnet was not deleted'}
        >
          {explain(error)}
          {force && ' Delete it with its addresses? Addresses that no other subnet contains are deleted too.'}
        </Alert>
      )}
    </Stack>
  );
  return (
    <ConfirmModal
      isOpen
      title={`Delete ${subnet.cidr}`}
      body={body}
      confirmText={force ? 'Delete with its addresses' : 'Delete'}
      onConfirm={confirm}
      onDismiss={onDismiss}
    />
  );
}
