import React from 'react';
import { Alert } from '@grafana/ui';
import { type ApiError, explain } from '../api/client';

interface Props {
  error: ApiError;
  title?: string;
  onRetry?: () => void;
  'data-testid'?: string;
}

/** The exporter's error, in words (explain()) with its own message kept verbatim. */
export function ErrorAlert({ error, title = 'The exporter answered with an error', onRetry, ...rest }: Props) {
  return (
    <Alert
      severity="error"
      title={title}
      data-testid={rest['data-testid']}
      buttonContent={onRetry ? 'Retry' : undefined}
      onRemove={onRetry ? () => onRetry() : undefined}
    >
      {explain(error)}
    </Alert>
  );
}
