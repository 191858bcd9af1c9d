import React from 'react';
import { Stack, Text } from '@grafana/ui';

/** A section's heading with its actions on the right. */
export function SectionHeader({ id, title, children }: { id: string; title: string; children?: React.ReactNode }) {
  return (
    <Stack justifyContent="space-between" alignItems="center" wrap="wrap">
      <Text element="h2" variant="h4" id={id}>
        {title}
      </Text>
      {children && (
        <Stack gap={1} alignItems="center">
          {children}
        </Stack>
      )}
    </Stack>
  );
}
